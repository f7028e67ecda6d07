//! The main WSGI behaviours run through `wsgiref.validate.validator` (the PEP 3333 lint from
//! the standard library): they must still succeed, and no validator assertion or warning may
//! appear on stderr (a failed check raises AssertionError → 500 + traceback).

use crate::support::{chunked, fetch, get, request, Conn, Server};

/// Asserts that stderr carries no sign of a wsgiref.validate complaint or app failure.
fn assert_no_validator_complaints(stderr: &str) {
    for bad in [
        "AssertionError",
        "WSGIWarning",
        "without being closed",
        "Traceback",
    ] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

fn mib_payload() -> Vec<u8> {
    (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

/// What `tests/apps/generator.py` yields.
fn generator_expected() -> Vec<u8> {
    (0..20)
        .flat_map(|i| format!("chunk-{i:02}|").repeat(i + 1).into_bytes())
        .collect()
}

#[test]
fn validated_hello_passes_validator() {
    let server = Server::app("validated:hello");
    let mut conn = Conn::connect(&server.addr);
    for _ in 0..3 {
        let r = conn.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, world!\n");
    }
    // A request on a fresh connection, after the bodies above were closed and collected.
    drop(conn);
    assert_eq!(get(&server.addr, "/").status, 200);
    assert_no_validator_complaints(&server.stderr());
}

#[test]
fn validated_apps_all_pass_validator() {
    let server = Server::app("validated:everything");
    let addr = server.addr.clone();
    let with_app = |app: &'static str, method: &str, target: &str, body: &[u8]| {
        fetch(&addr, method, target, &[("X-App", app)], body)
    };

    let r = with_app("hello", "GET", "/", b"");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, world!\n"));

    let r = with_app("echo", "GET", "/p?q=1", b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().at("query").str(), "q=1");

    let r = with_app("echo", "POST", "/p", b"a=b");
    assert_eq!(r.json().at("body").str(), "a=b");

    let payload = mib_payload();
    let r = with_app("post_echo", "POST", "/", &payload);
    assert_eq!(r.status, 200);
    assert!(r.body == payload, "validated POST echo differs");

    let mut conn = Conn::connect(&addr);
    let mut req = request(
        "POST",
        "/",
        &[
            ("X-App", "post_echo"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "close"),
        ],
        b"",
    );
    req.extend(chunked(&payload[..200_000], &[999, 65536]));
    conn.send(&req);
    let r = conn.read_response();
    assert_eq!(r.status, 200);
    assert!(
        r.body == payload[..200_000],
        "validated chunked echo differs"
    );

    let r = with_app("generator", "GET", "/", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, generator_expected());

    let r = with_app("write_app", "GET", "/", b"");
    assert_eq!(r.text(), "written-then-returned");

    for mode in ["read4", "readline", "readlines", "iter"] {
        let r = with_app(
            "input_exerciser",
            "POST",
            &format!("/?mode={mode}"),
            b"one\ntwo\nthree",
        );
        assert_eq!(r.status, 200, "mode {mode}: {}", r.text());
    }

    let r = with_app("environ_dump", "GET", "/env?x=1", b"");
    assert_eq!(r.status, 200, "{}", r.text());

    let r = with_app("sysinfo", "GET", "/", b"");
    assert_eq!(r.status, 200);

    let r = with_app("closing", "GET", "/iter", b"");
    assert_eq!(r.text(), "iter body");

    let r = fetch(&addr, "HEAD", "/", &[("X-App", "hello")], b"");
    assert_eq!(r.status, 200);

    // One last request, so anything the validator prints on garbage collection of the
    // previous bodies has happened before we look.
    assert_eq!(with_app("hello", "GET", "/", b"").status, 200);
    assert_no_validator_complaints(&server.stderr());
}
