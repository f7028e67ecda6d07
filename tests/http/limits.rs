//! Request limits at their edges, with gunicorn's flag names and defaults: exactly at the limit
//! passes, one byte (or field) over is refused — 414 for the request line (RFC 9112 §3, RFC 9110
//! §15.5.15), 431 for fields (RFC 6585 §5), 413 for the body before any of it is read (RFC 9110
//! §15.5.14).

use std::io::Read;

use super::{case, check_accepted, check_rejections, Echo};
use crate::support::{chunked, request, WAIT};

/// A GET whose request line (without CRLF) is exactly `len` bytes.
fn line_of(len: usize) -> String {
    let fixed = "GET / HTTP/1.1".len();
    format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(len - fixed)
    )
}

/// A GET with `n` header fields in all (Host included).
fn fields(n: usize) -> String {
    let mut out = "GET / HTTP/1.1\r\nHost: x\r\n".to_owned();
    for i in 1..n {
        out.push_str(&format!("X-F{i}: v\r\n"));
    }
    out + "\r\n"
}

/// A GET with one field line (name, colon, space, value) of exactly `len` bytes.
fn field_of(len: usize) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
        "v".repeat(len - 3)
    )
}

#[test]
fn default_limits_at_the_edge() {
    let server = Echo::start(&[]);
    check_accepted(&server, "line-4094", line_of(4094).as_bytes(), "hello");
    check_accepted(&server, "fields-100", fields(100).as_bytes(), "hello");
    check_accepted(&server, "field-8190", field_of(8190).as_bytes(), "hello");
    check_rejections(
        &server,
        &[
            case("line-4095", line_of(4095), 414),
            case("fields-101", fields(101), 431),
            case("field-8191", field_of(8191), 431),
        ],
    );
}

#[test]
fn configured_limits_at_the_edge() {
    let server = Echo::start(&[
        "--limit-request-line",
        "100",
        "--limit-request-fields",
        "5",
        "--limit-request-field-size",
        "50",
    ]);
    check_accepted(&server, "line-100", line_of(100).as_bytes(), "hello");
    check_accepted(&server, "fields-5", fields(5).as_bytes(), "hello");
    check_accepted(&server, "field-50", field_of(50).as_bytes(), "hello");
    check_rejections(
        &server,
        &[
            case("line-101", line_of(101), 414),
            case("fields-6", fields(6), 431),
            case("field-51", field_of(51), 431),
        ],
    );
}

#[test]
fn body_limit_at_the_edge() {
    let server = Echo::start(&["--limit-request-body", "10"]);
    let post = |len: usize| {
        format!(
            "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n{}",
            "b".repeat(len)
        )
    };
    check_accepted(&server, "body-10", post(10).as_bytes(), "bbbbbbbbbb");
    check_accepted(
        &server,
        "chunked-10",
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nbbbbb\r\n5\r\nbbbbb\r\n0\r\n\r\n",
        "bbbbbbbbbb",
    );
    let calls = server.app_calls();
    // Declared too large: refused on the head alone, without waiting for the body.
    let mut conn = server.connect();
    conn.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
    let got = conn.read_to_close();
    assert!(got.closed && got.status() == 413, "{}", got.text());
    assert!(got.has_header("connection", "close"));
    // The same with the body sent along.
    let got = server.exchange(&request("POST", "/e", &[], &[b'b'; 50]));
    assert!(got.closed && got.status() == 413, "{}", got.text());
    // Chunked and too large: refused once the 11th byte arrives, in the second chunk or in
    // the middle of one of many small ones.
    let got = server.exchange(
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nbbbbbb\r\n5\r\nbbbbb\r\n0\r\n\r\n",
    );
    assert!(got.closed && got.status() == 413, "{}", got.text());
    let mut many = request("POST", "/e", &[("Transfer-Encoding", "chunked")], b"");
    many.extend(chunked(&[b'c'; 50], &[3]));
    let got = server.exchange(&many);
    assert!(got.closed && got.status() == 413, "{}", got.text());
    assert_eq!(server.app_calls(), calls, "the app must not be called");
}

#[test]
fn connections_past_the_maximum_wait_in_the_backlog() {
    let server = Echo::start(&["--max-connections", "1"]);
    let mut first = server.connect();
    first.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(first.read_response().text(), "hello");
    // The first connection stays open (keep-alive): the second is not accepted yet.
    let mut second = server.connect();
    second.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    second
        .stream()
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(second.read(&mut byte).is_err());
    drop(first);
    second.stream().set_read_timeout(Some(WAIT)).unwrap();
    let rest = second.read_to_close();
    assert!(rest.text().ends_with("hello"), "{}", rest.text());
}
