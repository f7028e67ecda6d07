//! What the HTTP/1.1 codec must keep doing while being strict: persistent connections and
//! pipelining (RFC 9112 §9.3), chunked request bodies (§7.1), `100 Continue` only when the body
//! is wanted (RFC 9110 §10.1.1), HEAD without content (§9.3.2), chunked streaming on HTTP/1.1
//! and close-delimited on HTTP/1.0 (RFC 9112 §6.3), `Date` and `Server`, and title-case field
//! names.

use std::io::Read;
use std::time::Duration;

use super::Echo;
use crate::support::chunked;

#[test]
fn keep_alive_and_pipelining() {
    let echo = Echo::start(&[]);
    let mut conn = echo.connect();
    conn.send(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    let first = conn.read_response();
    let head = &first.head;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nDate: ") && head.contains("\r\nContent-Length: 5\r\n"));
    assert!(head.contains("\r\nServer: pyrite\r\n"), "{head}");
    assert_eq!(first.text(), "hello");
    // Five pipelined requests in one write, answered in order on the same connection: a GET
    // with a query, bodies framed by length and by chunks, and a last one asking to close.
    conn.send(
        b"GET /0?x=1 HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none\
          POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n\
          POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree\
          GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    for body in ["hello", "one", "two", "three", "hello"] {
        let response = conn.read_response();
        assert_eq!(response.status, 200, "{}", response.head);
        assert_eq!(response.text(), body);
    }
    assert!(conn.closed_by_server());
    assert_eq!(
        echo.calls.text(),
        "GET /a\nGET /0\nPOST /1\nPOST /2\nPOST /3\nGET /4\n"
    );
}

#[test]
fn chunked_body_split_across_writes() {
    let echo = Echo::start(&[]);
    let mut conn = echo.connect();
    conn.send(b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    std::thread::sleep(Duration::from_millis(50));
    conn.send(b"lo\r\n6\r\n world\r\n0\r\n\r\n");
    assert_eq!(conn.read_response().text(), "hello world");
}

#[test]
fn continue_only_when_the_body_is_read() {
    let echo = Echo::start(&["--limit-request-body", "10"]);
    let mut conn = echo.connect();
    conn.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    // Nothing of the body has been sent: the interim response must come first.
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.send(b"hello");
    let r = conn.read_response();
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.text(), "hello");
    // Over the limit: 413 straight away, no 100, and the connection closes.
    let mut conn = echo.connect();
    conn.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
    let got = conn.read_to_close();
    assert!(got.text().starts_with("HTTP/1.1 413 "), "{}", got.text());
    assert!(got.closed && got.has_header("connection", "close"));
}

#[test]
fn head_has_no_body_and_streams_are_chunked() {
    let echo = Echo::start(&[]);
    let got = echo
        .exchange(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .text();
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
    let echo = Echo::start(&[]);
    let got = echo.exchange(b"GET /stream HTTP/1.0\r\n\r\n");
    let text = got.text();
    assert!(got.closed);
    assert_eq!(got.status(), 200, "{text}");
    assert!(!text.contains("Transfer-Encoding"), "{text}");
    assert!(text.ends_with("\r\n\r\npart0\npart1\npart2\n"), "{text}");
    // HTTP/1.0 keep-alive is honoured when asked for.
    let mut conn = echo.connect();
    conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = conn.read_response();
    assert!(
        response.head.contains("Connection: keep-alive\r\n"),
        "{}",
        response.head
    );
    conn.send(b"GET / HTTP/1.0\r\n\r\n");
    assert!(conn.read_to_close().text().ends_with("hello"));
}

#[test]
fn connection_close_is_honoured() {
    let echo = Echo::start(&[]);
    let got = echo.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(got.closed && got.has_header("connection", "close"));
    assert!(got.text().ends_with("hello"));
}

#[test]
fn pipelined_responses_are_not_held_while_a_body_is_awaited() {
    let echo = Echo::start(&[]);
    let mut conn = echo.connect();
    conn.send(
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
    );
    // The first answer arrives although the second request's body has not been sent.
    assert_eq!(conn.read_response().text(), "hello");
    conn.send(b"howdy");
    assert_eq!(conn.read_response().text(), "howdy");
}

#[test]
fn large_bodies_arrive_intact() {
    let echo = Echo::start(&[]);
    // Every byte value, CR/LF and NUL included, in a non-repeating-looking order.
    let payload: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    // Framed by Content-Length, then chunked with uneven chunk sizes (growing, and a fixed
    // cycle from 1 byte to 100,003); each echoed back whole on the same connection.
    let mut by_length = format!(
        "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    by_length.extend_from_slice(&payload);
    let chunked_head = b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut growing = chunked_head.to_vec();
    let mut rest = &payload[..];
    let mut size = 1usize;
    while !rest.is_empty() {
        let n = size.min(rest.len());
        growing.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        growing.extend_from_slice(&rest[..n]);
        growing.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        size = size * 7 % 100_003 + 1;
    }
    growing.extend_from_slice(b"0\r\n\r\n");
    let mut cycled = chunked_head.to_vec();
    cycled.extend(chunked(&payload, &[1, 7, 4096, 65536, 100_003, 3]));

    let mut conn = echo.connect();
    for request in [by_length, growing, cycled] {
        let writer = {
            let mut stream = conn.stream().try_clone().unwrap();
            std::thread::spawn(move || std::io::Write::write_all(&mut stream, &request))
        };
        let response = conn.read_response();
        writer.join().unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), payload.len());
        assert!(response.body == payload, "the echoed body differs");
    }
}

#[test]
fn server_header_can_be_turned_off() {
    let echo = Echo::start(&["--no-server-header"]);
    let got = echo.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(got.status(), 200);
    assert!(
        !got.text().to_ascii_lowercase().contains("\r\nserver:"),
        "{}",
        got.text()
    );
    let got = echo.exchange(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(got.status(), 400);
    assert!(
        !got.text().to_ascii_lowercase().contains("\r\nserver:"),
        "{}",
        got.text()
    );
}
