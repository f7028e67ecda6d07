//! Request limits at their edges, with gunicorn's flag names and defaults: exactly at the limit
//! passes, one byte (or field) over is refused — 414 for the request line (RFC 9112 §3, RFC 9110
//! §15.5.15), 431 for fields (RFC 6585 §5), 413 for the body before any of it is read (RFC 9110
//! §15.5.14).

mod http_support;

use std::io::Write;

use http_support::{case, check_accepted, check_rejections, read_to_close, Server};

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
    let server = Server::start(&[]);
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
    let server = Server::start(&[
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
    let server = Server::start(&["--limit-request-body", "10"]);
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
    conn.write_all(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")
        .unwrap();
    let got = read_to_close(&mut conn);
    assert!(got.closed && got.status() == 413, "{}", got.text());
    assert!(got.has_header("connection", "close"));
    // Chunked and too large: refused once the 11th byte arrives.
    let got = server.exchange(
        b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nbbbbbb\r\n5\r\nbbbbb\r\n0\r\n\r\n",
    );
    assert!(got.closed && got.status() == 413, "{}", got.text());
    assert_eq!(server.app_calls(), calls, "the app must not be called");
}

#[test]
fn connections_past_the_maximum_wait_in_the_backlog() {
    let server = Server::start(&["--max-connections", "1"]);
    let mut first = server.connect();
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(http_support::read_response(&mut first).ends_with("hello"));
    // The first connection stays open (keep-alive): the second is not accepted yet.
    let mut second = server.connect();
    second
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    second
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(std::io::Read::read(&mut second, &mut byte).is_err());
    drop(first);
    second.set_read_timeout(Some(http_support::WAIT)).unwrap();
    let mut rest = read_to_close(&mut second);
    rest.bytes.insert(0, byte[0]);
    assert!(rest.text().ends_with("hello"), "{}", rest.text());
}

#[test]
fn bad_limit_values_name_their_flag() {
    for (flag, value) in [
        ("--limit-request-fields", "40000"),
        ("--limit-request-line", "lots"),
        ("--header-timeout", "soon"),
        ("--max-connections", "0"),
        ("--forwarded-allow-ips", "10.0.0.0/99"),
    ] {
        let out = std::process::Command::new(http_support::bin())
            .args([flag, value, "--docroot", "."])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{flag}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}
