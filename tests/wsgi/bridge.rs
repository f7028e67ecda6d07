//! The WSGI bridge (PEP 3333): bodies in and out, framing, keep-alive and pipelining, errors
//! raised by apps and invalid status lines or headers they send. The same behaviours under
//! `wsgiref.validate` are in `validator.rs`.

use std::thread;

use crate::support::{
    apps_dir, eventually, fetch, get, post, request, tmpdir, Conn, Framing, Response, Server,
    EXITED, WAIT,
};

#[test]
fn list_body_gets_content_length_date_and_server() {
    let server = Server::app("hello:no_length");
    let r = get(&server.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, world!\n");
    assert_eq!(r.framing, Framing::ContentLength);
    assert_eq!(r.header("content-length"), Some("14"));
    assert!(r.header("transfer-encoding").is_none());
    assert!(
        r.header("date").is_some(),
        "Date header missing: {:?}",
        r.headers
    );
    assert!(
        r.header("server").is_some(),
        "Server header missing: {:?}",
        r.headers
    );
    assert_eq!(r.header_count("content-length"), 1);
}

#[test]
fn app_set_date_and_server_are_not_duplicated() {
    let server = Server::app("own_headers");
    let r = get(&server.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("server"), Some("mine"));
    assert_eq!(r.header_count("server"), 1);
    assert_eq!(r.header("date"), Some("Tue, 31 Mar 2016 10:11:12 GMT"));
    assert_eq!(r.header_count("date"), 1);
}

#[test]
fn get_with_query_reaches_app() {
    let server = Server::app("echo");
    let r = get(&server.addr, "/some/path?a=1&b=two%20words&c");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j.at("method").str(), "GET");
    assert_eq!(j.at("path").str(), "/some/path");
    assert_eq!(j.at("query").str(), "a=1&b=two%20words&c");
    assert_eq!(j.at("body").str(), "");
}

#[test]
fn post_form_body_reaches_app() {
    let server = Server::app("echo");
    let r = post(
        &server.addr,
        "/form",
        "application/x-www-form-urlencoded",
        b"name=Ada&x=1",
    );
    let j = r.json();
    assert_eq!(j.at("method").str(), "POST");
    assert_eq!(j.at("body").str(), "name=Ada&x=1");
    assert_eq!(j.at("content_length").str(), "12");
    assert_eq!(
        j.at("content_type").str(),
        "application/x-www-form-urlencoded"
    );
}

#[test]
fn hundred_requests_on_one_keep_alive_connection() {
    let server = Server::app("echo");
    let mut conn = Conn::connect(&server.addr);
    for i in 0..100 {
        let target = format!("/req/{i}?n={i}");
        let r = if i % 3 == 0 {
            let body = format!("body-{i}");
            conn.roundtrip("POST", &target, &[], body.as_bytes())
        } else {
            conn.get(&target)
        };
        assert_eq!(r.status, 200, "request {i}");
        assert_eq!(r.version, "HTTP/1.1");
        assert_ne!(
            r.header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("close"),
            "server closed keep-alive at request {i}"
        );
        let j = r.json();
        assert_eq!(j.at("path").str(), format!("/req/{i}"));
        if i % 3 == 0 {
            assert_eq!(j.at("body").str(), format!("body-{i}"));
        }
    }
}

#[test]
fn pipelined_static_and_app_requests_stay_in_order() {
    let dir = tmpdir("pipe-mixed");
    std::fs::write(dir.join("file.txt"), "static file\n").unwrap();
    let server = Server::start(&[
        "--docroot",
        &dir.to_string_lossy(),
        "--pythonpath",
        &apps_dir(),
        "echo",
    ]);
    let mut conn = Conn::connect(&server.addr);
    let mut all = request("GET", "/app-one", &[], b"");
    all.extend(request("GET", "/file.txt", &[], b""));
    all.extend(request("GET", "/app-three", &[], b""));
    conn.send(&all);
    assert_eq!(conn.read_response().json().at("path").str(), "/app-one");
    assert_eq!(conn.read_response().text(), "static file\n");
    assert_eq!(conn.read_response().json().at("path").str(), "/app-three");
}

fn generator_expected() -> Vec<u8> {
    (0..20)
        .flat_map(|i| format!("chunk-{i:02}|").repeat(i + 1).into_bytes())
        .collect()
}

#[test]
fn generator_body_arrives_chunked_and_complete() {
    let server = Server::app("generator");
    let mut conn = Conn::connect(&server.addr);
    let r = conn.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Chunked);
    assert!(r.header("content-length").is_none());
    assert!(r.complete);
    assert_eq!(r.body, generator_expected());
    // The connection is still usable after a chunked response.
    let again = conn.get("/");
    assert_eq!(again.body, generator_expected());
}

#[test]
fn generator_with_app_content_length_is_not_chunked() {
    let server = Server::app("generator");
    let r = get(&server.addr, "/with-length");
    assert_eq!(r.framing, Framing::ContentLength);
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.body, generator_expected());
}

/// Small pieces around pieces larger than the writer's coalescing size, chunked and counted:
/// every byte arrives, in order, and the connection stays usable.
#[test]
fn generator_mixing_small_and_large_pieces_arrives_complete() {
    let expected: Vec<u8> = [
        b"s".repeat(10),
        b"L".repeat(40000),
        b"t".repeat(7),
        b"u".repeat(3),
        b"M".repeat(17000),
        b"v".repeat(5),
        b"w".to_vec(),
        b"N".repeat(20000),
    ]
    .concat();
    let server = Server::app("generator");
    let mut conn = Conn::connect(&server.addr);
    for _ in 0..2 {
        let r = conn.get("/mixed");
        assert_eq!(r.framing, Framing::Chunked);
        assert!(r.complete);
        assert!(r.body == expected, "chunked body differs");
        let r = conn.get("/mixed-with-length");
        assert_eq!(r.framing, Framing::ContentLength);
        assert!(r.complete);
        assert!(r.body == expected, "counted body differs");
    }
}

#[test]
fn exception_after_first_chunk_aborts_without_terminating_chunk() {
    let server = Server::app("gen_raise");
    let mut conn = Conn::connect(&server.addr);
    conn.send(&request("GET", "/", &[], b""));
    let r = conn.try_read_response(false);
    assert!(server.wait_for_stderr("gen-raise-after-first-chunk", 1, WAIT));
    // The body is pulled one item at a time as the socket drains, so the status line and the
    // first chunk have gone out before the generator raises; all that is left is to abort.
    let r = r.unwrap_or_else(|e| {
        panic!("no status line before the connection ended ({e}); head and first chunk expected")
    });
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Chunked);
    assert!(
        r.head.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{}",
        r.head
    );
    assert!(
        !r.complete,
        "a failed body must not end with the terminating 0-chunk (got {:?})",
        r.text()
    );
    assert_eq!(r.text(), "first chunk\n");
    assert_eq!(r.chunk_sizes, [12], "the first chunk, framed as one");
    assert!(
        conn.closed_by_server(),
        "connection not closed after the abort"
    );
    // The worker keeps serving.
    assert_eq!(get(&server.addr, "/ok").text(), "ok");
    assert!(!server.stderr().contains(EXITED));
}

#[test]
fn app_exception_gives_500_and_worker_keeps_serving() {
    let server = Server::app("raise_before");
    let pids = server.worker_pids();
    let r = get(&server.addr, "/boom");
    assert_eq!(r.status, 500);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/html"));
    assert!(server.wait_for_stderr("raise-before-start-response", 1, WAIT));
    assert!(server.stderr().contains("Traceback"));
    assert!(
        !r.text().contains("raise-before-start-response"),
        "the traceback must not leak to the client"
    );
    let r = get(&server.addr, "/fine");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(
        server.worker_pids(),
        pids,
        "the worker must not be replaced"
    );
    assert!(!server.stderr().contains(EXITED));
}

#[test]
fn app_exception_on_keep_alive_connection_then_next_request() {
    let server = Server::app("raise_before");
    let mut conn = Conn::connect(&server.addr);
    let r = conn.get("/boom");
    assert_eq!(r.status, 500);
    // The 500 is a complete response; the connection may be kept or closed.
    if r.header("connection")
        .map(str::to_ascii_lowercase)
        .as_deref()
        == Some("close")
    {
        conn = Conn::connect(&server.addr);
    }
    assert_eq!(conn.get("/fine").text(), "ok");
}

#[test]
fn bad_status_gives_500() {
    let server = Server::app("bad_status");
    for path in ["/bytes", "/int", "/crlf", "/lf"] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 500, "{path}");
        assert!(r.header("x-injected").is_none(), "{path}: header injected");
        assert!(!r.text().contains("should not be sent"), "{path}");
    }
    assert_eq!(get(&server.addr, "/ok").text(), "ok");
}

#[test]
fn bad_headers_give_500() {
    let server = Server::app("bad_headers");
    for path in [
        "/value-int",
        "/value-bytes",
        "/name-bytes",
        "/value-crlf",
        "/value-lf",
        "/name-crlf",
        "/not-a-pair",
    ] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 500, "{path}");
        assert!(r.header("x-injected").is_none(), "{path}: header injected");
        assert!(
            !r.head.contains("Injected") && !r.text().contains("Injected"),
            "{path}: {}{}",
            r.head,
            r.text()
        );
        assert!(!r.text().contains("should not be sent"), "{path}");
    }
    assert_eq!(get(&server.addr, "/ok").text(), "ok");
}

fn close_count(addr: &str) -> String {
    get(addr, "/count").text()
}

#[test]
fn close_is_called_exactly_once_per_response() {
    let server = Server::app("closing");
    let r = get(&server.addr, "/list");
    assert_eq!(r.text(), "list body");
    assert!(
        eventually(WAIT, || close_count(&server.addr) == "1"),
        "close() count after one list body: {}",
        close_count(&server.addr)
    );
    let r = get(&server.addr, "/iter");
    assert_eq!(r.text(), "iter body");
    assert!(
        eventually(WAIT, || close_count(&server.addr) == "2"),
        "close() count after an iterable body: {}",
        close_count(&server.addr)
    );
    // Another request in between must not trigger a late extra close().
    assert_eq!(get(&server.addr, "/count").text(), "2");
    let r = fetch(&server.addr, "HEAD", "/list", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        eventually(WAIT, || close_count(&server.addr) == "3"),
        "close() count after HEAD: {}",
        close_count(&server.addr)
    );
}

#[test]
fn input_exerciser_reads_every_way() {
    let server = Server::app("input_exerciser");
    let body = b"alpha\nbeta\n\ngamma\r\nlast-no-newline";
    let strs = |r: Response| -> Vec<String> {
        r.json().arr().iter().map(|v| v.str().to_string()).collect()
    };
    let lines = ["alpha\n", "beta\n", "\n", "gamma\r\n", "last-no-newline"];

    let r = post(&server.addr, "/?mode=read4", "text/plain", body);
    let pieces = strs(r);
    assert_eq!(pieces.last().map(String::as_str), Some(""));
    assert!(pieces[..pieces.len() - 1]
        .iter()
        .all(|p| p.len() == 4 || p.len() < 4));
    assert_eq!(pieces.concat().as_bytes(), body);

    let r = post(&server.addr, "/?mode=readline", "text/plain", body);
    let mut want: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    want.push(String::new());
    assert_eq!(strs(r), want);

    let r = post(&server.addr, "/?mode=readlines", "text/plain", body);
    assert_eq!(strs(r), lines);

    let r = post(&server.addr, "/?mode=iter", "text/plain", body);
    assert_eq!(strs(r), lines);

    let r = post(&server.addr, "/?mode=mixed", "text/plain", body);
    assert_eq!(
        strs(r),
        [
            "alp",
            "ha\n",
            "beta\n",
            "\n",
            "gamma\r\n",
            "last-no-newline",
            ""
        ]
    );

    // An empty body reads as empty, every way.
    let r = post(&server.addr, "/?mode=readlines", "text/plain", b"");
    assert!(strs(r).is_empty());
}

#[test]
fn fifty_concurrent_clients_all_answered() {
    let server = Server::start(&["-w", "2", "--pythonpath", &apps_dir(), "echo"]);
    let addr = server.addr.clone();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let r = fetch(
                    &addr,
                    "POST",
                    &format!("/c/{i}"),
                    &[],
                    format!("n{i}").as_bytes(),
                );
                assert_eq!(r.status, 200);
                let j = r.json();
                assert_eq!(j.at("path").str(), format!("/c/{i}"));
                assert_eq!(j.at("body").str(), format!("n{i}"));
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread failed");
    }
}
