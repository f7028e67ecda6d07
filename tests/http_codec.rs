//! What the HTTP/1.1 codec must keep doing while being strict: persistent connections and
//! pipelining (RFC 9112 §9.3), chunked request bodies (§7.1), `100 Continue` only when the body
//! is wanted (RFC 9110 §10.1.1), HEAD without content (§9.3.2), chunked streaming on HTTP/1.1
//! and close-delimited on HTTP/1.0 (RFC 9112 §6.3), `Date`, and title-case field names.

mod http_support;

use std::io::{Read, Write};
use std::time::Duration;

use http_support::{read_response, read_to_close, Server};

#[test]
fn keep_alive_and_pipelining() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    conn.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let first = read_response(&mut conn);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.contains("\r\nDate: ") && first.contains("\r\nContent-Length: 5\r\n"));
    assert!(first.contains("\r\nServer: pyrite\r\n"), "{first}");
    assert!(first.ends_with("hello"));
    // Three pipelined requests in one write, answered in order on the same connection.
    conn.write_all(
        b"POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none\
          POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n\
          POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree",
    )
    .unwrap();
    for body in ["one", "two", "three"] {
        let response = read_response(&mut conn);
        assert!(response.ends_with(body), "{response}");
    }
    assert_eq!(server.app_calls(), 4);
}

#[test]
fn chunked_body_split_across_writes() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    conn.write_all(b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    conn.write_all(b"lo\r\n6\r\n world\r\n0\r\n\r\n").unwrap();
    assert!(read_response(&mut conn).ends_with("hello world"));
}

#[test]
fn continue_only_when_the_body_is_read() {
    let server = Server::start(&["--limit-request-body", "10"]);
    let mut conn = server.connect();
    conn.write_all(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"hello").unwrap();
    assert!(read_response(&mut conn).ends_with("hello"));
    // Over the limit: 413 straight away, no 100, and the connection closes.
    let mut conn = server.connect();
    conn.write_all(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let got = read_to_close(&mut conn);
    assert!(got.text().starts_with("HTTP/1.1 413 "), "{}", got.text());
    assert!(got.closed && got.has_header("connection", "close"));
}

#[test]
fn head_has_no_body_and_streams_are_chunked() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    conn.write_all(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let got = read_to_close(&mut conn).text();
    let (head_response, rest) = got.split_once("\r\n\r\n").unwrap();
    assert!(head_response.contains("Content-Length: 5"), "{got}");
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(rest.contains("Transfer-Encoding: chunked\r\n"), "{got}");
    assert!(rest.contains("Connection: close\r\n"), "{got}");
    assert!(
        rest.ends_with("\r\n\r\n6\r\npart0\n\r\n6\r\npart1\n\r\n6\r\npart2\n\r\n0\r\n\r\n"),
        "{got}"
    );
}

#[test]
fn http10_stream_is_close_delimited() {
    let server = Server::start(&[]);
    let got = server.exchange(b"GET /stream HTTP/1.0\r\n\r\n");
    let text = got.text();
    assert!(got.closed);
    assert!(!text.contains("Transfer-Encoding"), "{text}");
    assert!(text.ends_with("\r\n\r\npart0\npart1\npart2\n"), "{text}");
    // HTTP/1.0 keep-alive is honoured when asked for.
    let mut conn = server.connect();
    conn.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let response = read_response(&mut conn);
    assert!(
        response.contains("Connection: keep-alive\r\n"),
        "{response}"
    );
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(read_to_close(&mut conn).text().ends_with("hello"));
}

#[test]
fn connection_close_is_honoured() {
    let server = Server::start(&[]);
    let got = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(got.closed && got.has_header("connection", "close"));
    assert!(got.text().ends_with("hello"));
}

#[test]
fn graceful_stop_finishes_in_flight_and_closes_idle() {
    let mut server = Server::start(&[]);
    let mut idle = server.connect();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut idle).ends_with("hello"));
    let mut busy = server.connect();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Let the request reach the app before stopping.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.app_calls() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.terminate();
    let got = read_to_close(&mut busy);
    assert!(got.closed && got.text().ends_with("slow"), "{}", got.text());
    let idle_end = read_to_close(&mut idle);
    assert!(idle_end.closed && idle_end.bytes.is_empty());
    assert_eq!(server.wait_exit(), Some(0));
}

#[test]
fn body_error_aborts_without_terminating_chunk() {
    let server = Server::start(&[]);
    let got = server.exchange(b"GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
    let text = got.text();
    assert!(got.closed, "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(text.contains("5\r\nfirst\r\n"), "{text}");
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    // The worker carries on.
    let got = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(got.text().ends_with("hello"));
}

#[test]
fn pipelined_responses_are_not_held_while_a_body_is_awaited() {
    let server = Server::start(&[]);
    let mut conn = server.connect();
    conn.write_all(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    // The first answer arrives although the second request's body has not been sent.
    assert!(read_response(&mut conn).ends_with("hello"));
    conn.write_all(b"howdy").unwrap();
    assert!(read_response(&mut conn).ends_with("howdy"));
}

#[test]
fn large_bodies_arrive_intact() {
    let server = Server::start(&[]);
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    // Content-Length framing, then chunked with uneven chunk sizes; each echoed back whole.
    let mut conn = server.connect();
    let mut request = format!(
        "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    request.extend_from_slice(&payload);
    let writer = {
        let mut conn = conn.try_clone().unwrap();
        std::thread::spawn(move || conn.write_all(&request))
    };
    let response = http_support::read_response(&mut conn);
    writer.join().unwrap().unwrap();
    assert!(response.as_bytes().ends_with(&payload));

    let mut chunked = b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut rest = &payload[..];
    let mut size = 1usize;
    while !rest.is_empty() {
        let n = size.min(rest.len());
        chunked.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        chunked.extend_from_slice(&rest[..n]);
        chunked.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        size = size * 7 % 100_003 + 1;
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let writer = {
        let mut conn = conn.try_clone().unwrap();
        std::thread::spawn(move || conn.write_all(&chunked))
    };
    let response = http_support::read_response(&mut conn);
    writer.join().unwrap().unwrap();
    assert!(response.as_bytes().ends_with(&payload));
}
