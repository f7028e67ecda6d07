//! PEP 3333 corners over real sockets, against `tests/apps/pep_corners.py`: `wsgi.input`,
//! `Expect`, `start_response` and `exc_info`, lazy start, `write()`, Content-Length, HEAD,
//! bodyless statuses, `wsgi.file_wrapper`, `close()`, `wsgi.errors`, latin-1 strings and
//! `--script-name`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::http::{chunked, fetch, get, Conn, Framing};
use common::{apps_dir, pyrite, Server, WAIT};

fn corners() -> Server {
    Server::app("pep_corners")
}

fn corners_with(args: &[&str]) -> Server {
    pyrite()
        .args(&["--pythonpath", &apps_dir()])
        .args(args)
        .arg("pep_corners")
        .start()
}

/// `results` of `/input?ops=...` for `body`, sent with Content-Length.
fn input_results(server: &Server, ops: &str, body: &[u8]) -> Vec<String> {
    let r = fetch(
        &server.addr,
        "POST",
        &format!("/input?ops={ops}"),
        &[],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let json = r.json();
    json.at("results")
        .arr()
        .iter()
        .map(|v| v.str().to_owned())
        .collect()
}

// ---- 1. wsgi.input ----------------------------------------------------------------------------

#[test]
fn input_read_sizes_and_end() {
    let server = corners();
    let body = b"first line\nsecond\nthird line here\nlast";
    assert_eq!(
        input_results(
            &server,
            "read:5,read:0,readline,readline:3,readline,read:-1",
            body
        ),
        [
            "b'first'",
            "b''",
            "b' line\\n'",
            "b'sec'",
            "b'ond\\n'",
            "b'third line here\\nlast'",
            "b''",
            "b''"
        ]
    );
    assert_eq!(
        input_results(&server, "read", body),
        [
            "b'first line\\nsecond\\nthird line here\\nlast'",
            "b''",
            "b''"
        ]
    );
}

#[test]
fn input_readlines_hint_and_iteration() {
    let server = corners();
    let body = b"a\nbb\nccc\ndddd\n";
    assert_eq!(
        input_results(&server, "readlines:3,iter", body),
        [
            "[b'a\\n', b'bb\\n']",
            "[b'ccc\\n', b'dddd\\n']",
            "b''",
            "b''"
        ]
    );
    assert_eq!(
        input_results(&server, "readlines", body),
        ["[b'a\\n', b'bb\\n', b'ccc\\n', b'dddd\\n']", "b''", "b''"]
    );
    // No body at all: every read is b"" at once, nothing blocks.
    let r = get(&server.addr, "/input?ops=read,readline,readlines,iter");
    let json = r.json();
    let results: Vec<&str> = json.at("results").arr().iter().map(|v| v.str()).collect();
    assert_eq!(results, ["b''", "b''", "[]", "[]", "b''", "b''"]);
}

#[test]
fn input_chunked_is_dechunked_and_terminated() {
    let server = corners();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut conn = Conn::connect(&server.addr);
    let mut req = b"POST /input?ops=read:7 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    req.extend(chunked(&payload, &[1, 1000, 65536, 3]));
    conn.send(&req);
    let r = conn.read_response();
    assert_eq!(r.status, 200);
    let json = r.json();
    assert_eq!(json.at("terminated"), &common::json::Value::Bool(true));
    assert_eq!(json.at("content_length").str(), "200000");
    let results = json.at("results").arr();
    assert_eq!(results[0].str(), "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06'");
    assert_eq!(results[2].str(), "b''");
}

#[test]
fn input_spooled_to_a_file_reads_the_same() {
    let server = corners();
    let mut body = Vec::new();
    for i in 0..200_000 {
        body.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let results = input_results(&server, "readline,readline:4,readlines:10,read:6", &body);
    // readlines(10) stops once 10 bytes are reached: " 1\n" + "line 2\n".
    assert_eq!(
        results[..4],
        [
            "b'line 0\\n'",
            "b'line'",
            "[b' 1\\n', b'line 2\\n']",
            "b'line 3'"
        ]
    );
    assert!(
        results[4].ends_with("line 199999\\n'"),
        "{}",
        &results[4][..40]
    );
    assert_eq!(results[5], "b''");
}

// ---- 2. Expect --------------------------------------------------------------------------------

fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).expect("read head"), 1, "eof in head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn expect_100_continue_comes_before_the_body_is_sent() {
    let server = corners();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"POST /input?ops=read HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Nothing of the body has been sent: the interim response must come first.
    let interim = read_head(&mut stream);
    assert!(
        interim.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{interim}"
    );
    stream.write_all(b"hello world").unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let mut rest = String::new();
    stream.read_to_string(&mut rest).unwrap();
    assert!(rest.contains(r#""b'hello world'""#), "{rest}");
}

#[test]
fn unknown_expectation_is_417() {
    let server = corners();
    let r = fetch(
        &server.addr,
        "POST",
        "/input?ops=read",
        &[("Expect", "something-else")],
        b"abc",
    );
    assert_eq!(r.status, 417);
}

// ---- 3. start_response ------------------------------------------------------------------------

#[test]
fn second_start_response_without_exc_info_is_an_error() {
    let server = corners();
    let r = get(&server.addr, "/twice");
    assert_eq!(r.text(), "second call raised AssertionError");
}

#[test]
fn exc_info_before_output_replaces_status_and_headers() {
    let server = corners();
    let r = get(&server.addr, "/exc_info_before");
    assert_eq!((r.status, r.reason.as_str()), (500, "Replaced"));
    assert_eq!(r.header("x-second"), Some("yes"));
    assert_eq!(r.header("x-first"), None);
    assert_eq!(r.text(), "replaced");
}

#[test]
fn exc_info_after_output_reraises_and_aborts() {
    let server = corners();
    let mut conn = Conn::connect(&server.addr);
    conn.send(&common::http::request("GET", "/exc_info_after", &[], b""));
    let r = conn.try_read_response(false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.framing, Framing::Chunked);
    assert!(!r.complete, "a failed body must not look complete");
    assert_eq!(r.body, b"part one;");
    assert!(server.wait_for_stderr("start_response re-raised ValueError", 1, WAIT));
    assert!(!server.stderr().contains("did not re-raise"));
}

#[test]
fn exc_info_after_a_write_reraises() {
    let server = corners();
    let r = get(&server.addr, "/write_then_exc_info");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "written;returned");
    assert!(server.wait_for_stderr("write_then_exc_info: start_response re-raised", 1, WAIT));
}

#[test]
fn hop_by_hop_headers_are_dropped_and_connection_close_honoured() {
    let server = corners();
    let mut conn = Conn::connect(&server.addr);
    let r = conn.get("/hop");
    assert_eq!(r.text(), "hop-by-hop dropped");
    assert_eq!(r.header("x-kept"), Some("yes"));
    assert_eq!(r.framing, Framing::ContentLength);
    for gone in ["keep-alive", "transfer-encoding", "upgrade"] {
        assert_eq!(r.header(gone), None, "{gone}: {:?}", r.headers);
    }
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.closed_by_server());
}

// ---- 4. lazy start_response, 5. write() -------------------------------------------------------

#[test]
fn start_response_inside_the_first_iteration() {
    let server = corners();
    let r = get(&server.addr, "/lazy");
    assert_eq!((r.status, r.reason.as_str()), (201, "Created Lazily"));
    assert_eq!(r.header("x-lazy"), Some("yes"));
    assert_eq!(r.text(), "lazy body");
}

#[test]
fn write_output_keeps_its_order_when_streaming() {
    let server = corners();
    let r = get(&server.addr, "/write_stream");
    assert_eq!(r.framing, Framing::Chunked);
    assert_eq!(r.text(), "one,two,three,four,five");
    let r = get(&server.addr, "/write_list");
    assert_eq!(r.text(), "written,returned");
    assert_eq!(r.header("content-length"), Some("16"));
}

// ---- 6. Content-Length, HEAD, 204/304, empty chunks -------------------------------------------

#[test]
fn body_shorter_than_content_length_closes_the_connection() {
    let server = corners();
    for path in ["/cl_short", "/cl_short_list"] {
        let mut conn = Conn::connect(&server.addr);
        conn.send(&common::http::request("GET", path, &[], b""));
        let r = conn.try_read_response(false).unwrap();
        assert_eq!(r.header("content-length"), Some("10"), "{path}");
        assert!(!r.complete, "{path}");
        assert_eq!(r.body, b"12345", "{path}");
    }
}

#[test]
fn body_longer_than_content_length_is_cut_with_a_warning() {
    let server = corners();
    let mut conn = Conn::connect(&server.addr);
    let r = conn.get("/cl_long");
    assert_eq!(r.text(), "12345");
    // The connection stays usable: the framing was kept.
    assert_eq!(conn.get("/cl_long").text(), "12345");
    assert!(server.wait_for_stderr("longer than its Content-Length", 1, WAIT));
}

#[test]
fn head_runs_the_app_sends_the_length_and_no_body() {
    let server = corners();
    let mut conn = Conn::connect(&server.addr);
    let r = conn.roundtrip("HEAD", "/head", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("10"));
    // The next response on the same connection parses: no body bytes were sent.
    let g = conn.get("/head");
    assert_eq!(g.text(), "hello head");
    assert!(server.wait_for_stderr("closed head HEAD after 2", 1, WAIT));
    assert!(server.wait_for_stderr("closed head GET after 2", 1, WAIT));
    assert_eq!(server.stderr().matches("closed head HEAD").count(), 1);
}

#[test]
fn no_body_for_204_and_304() {
    let server = corners();
    let mut conn = Conn::connect(&server.addr);
    for code in [204, 304] {
        let r = conn.get(&format!("/status/{code}"));
        assert_eq!(r.status, code);
        assert!(r.body.is_empty());
        assert_eq!(r.header("transfer-encoding"), None);
    }
    // Had a body been written, this response would not parse.
    assert_eq!(conn.get("/lazy").text(), "lazy body");
    assert!(server.wait_for_stderr("closed status 204", 1, WAIT));
    assert!(server.wait_for_stderr("closed status 304", 1, WAIT));
}

#[test]
fn empty_chunk_in_the_middle_does_not_end_the_body() {
    let server = corners();
    let r = get(&server.addr, "/empty_chunk");
    assert!(r.complete);
    assert_eq!(r.text(), "abc");
}

// ---- 7. wsgi.file_wrapper ---------------------------------------------------------------------

fn sample_file(len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let dir = common::tmpdir("file_wrapper");
    let path = dir.join("data.bin");
    let data: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(7919) >> 3) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

#[test]
fn file_wrapper_over_a_real_file_is_read_without_python() {
    let server = corners();
    let (path, data) = sample_file(3 * 1024 * 1024 + 17);
    let p = path.display().to_string();
    let r = get(&server.addr, &format!("/file?path={p}"));
    assert_eq!(
        r.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert!(r.body == data, "body differs from the file");
    assert!(server.wait_for_stderr("file closed after 0 python reads", 1, WAIT));

    // From the file's current position, for as long as the app's Content-Length says.
    let r = get(
        &server.addr,
        &format!("/file?path={p}&offset=1000&length=5000"),
    );
    assert_eq!(r.header("content-length"), Some("5000"));
    assert!(r.body == data[1000..6000]);
    let r = get(&server.addr, &format!("/file?path={p}&offset=3145000"));
    assert!(r.body == data[3_145_000..]);
    // write() output goes ahead of the file and counts in the length.
    let r = get(
        &server.addr,
        &format!("/file?path={p}&offset=3145000&prefix=head;"),
    );
    let expected = [b"head;".as_slice(), &data[3_145_000..]].concat();
    assert_eq!(
        r.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    assert!(r.body == expected);
    assert!(server.wait_for_stderr("file closed after 0 python reads", 4, WAIT));
    assert!(!server.stderr().contains("longer than its Content-Length"));
}

#[test]
fn file_wrapper_over_other_file_likes_reads_blksize_at_a_time() {
    let server = corners();
    let (path, data) = sample_file(10_000);
    let p = path.display().to_string();
    let r = get(
        &server.addr,
        &format!("/file?path={p}&kind=bytes&blksize=1000&offset=500"),
    );
    assert!(r.body == data[500..]);
    // 9500 bytes at 1000 a read: ten reads with data, one empty read at the end.
    assert!(server.wait_for_stderr("bytes closed after 11 python reads", 1, WAIT));
}

// ---- 8. close() -------------------------------------------------------------------------------

#[test]
fn close_is_called_once_at_the_end_and_after_an_exception() {
    let server = corners();
    assert_eq!(get(&server.addr, "/close_normal").text(), "xxx");
    let r = get(&server.addr, "/close_raise_first");
    assert_eq!(r.status, 500);
    let mut conn = Conn::connect(&server.addr);
    conn.send(&common::http::request("GET", "/close_raise", &[], b""));
    let r = conn.try_read_response(false).unwrap();
    assert!(!r.complete);
    assert!(server.wait_for_stderr("closed normal after 3", 1, WAIT));
    assert!(server.wait_for_stderr("closed raising first after 0", 1, WAIT));
    assert!(server.wait_for_stderr("closed raising after 1", 1, WAIT));
    // One more request goes through, so any late second close() would be logged by now.
    assert_eq!(get(&server.addr, "/close_normal").text(), "xxx");
    assert!(server.wait_for_stderr("closed normal after 3", 2, WAIT));
    let log = server.stderr();
    // The exception is logged once, with its traceback.
    assert!(log.contains("Traceback (most recent call last)"), "{log}");
    assert_eq!(
        log.matches("RuntimeError: raising first fails on purpose")
            .count(),
        1
    );
    assert_eq!(log.matches("closed raising first").count(), 1);
    assert_eq!(log.matches("closed raising after").count(), 1);
    assert_eq!(log.matches("closed normal").count(), 2);
}

#[test]
fn client_leaving_a_100_mib_stream_stops_the_app_and_closes_once() {
    let server = corners();
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = vec![0u8; 2 << 20];
    stream.read_exact(&mut got).unwrap();
    drop(stream);
    assert!(server.wait_for_stderr("closed big after", 1, WAIT));
    let log = server.stderr();
    let pulled: u32 = log
        .split("closed big after ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("pull count");
    assert!(
        pulled < 100,
        "the generator was pulled to the end: {pulled}"
    );
    assert_eq!(get(&server.addr, "/close_normal").text(), "xxx");
    assert!(server.wait_for_stderr("closed normal", 1, WAIT));
    assert_eq!(server.stderr().matches("closed big").count(), 1);
}

// ---- 9. wsgi.errors ---------------------------------------------------------------------------

#[test]
fn errors_lines_reach_the_log_tagged_with_the_worker_pid() {
    let server = corners();
    assert_eq!(get(&server.addr, "/errors").text(), "ok");
    let pid = server.worker_pids()[0];
    assert!(server.wait_for_stderr("errors: via print", 1, WAIT));
    let log = server.stderr();
    for line in [
        "errors: line one",
        "errors: line two",
        "errors: partial line three",
        "errors: from writelines a",
        "errors: from writelines b",
        "errors: from a generator",
        "errors: flushed without a newline",
        "errors: via print",
    ] {
        let found = log
            .lines()
            .find(|l| l.contains(&format!("{line} pid=")))
            .unwrap_or_else(|| panic!("{line:?} not logged:\n{log}"));
        assert!(found.contains(&format!("pid={pid}")), "{found}");
    }
}

// ---- 10. strings ------------------------------------------------------------------------------

#[test]
fn environ_values_are_latin1_str() {
    let server = corners();
    let r = get(&server.addr, "/strings/%E4%BD%A0?q=%E4%BD%A0");
    let json = r.json();
    assert_eq!(json.at("PATH_INFO").str(), r"'/strings/\xe4\xbd\xa0'");
    assert_eq!(json.at("QUERY_STRING").str(), "'q=%E4%BD%A0'");
    assert_eq!(json.at("latin1_roundtrip").str(), "/strings/你");
    assert!(json.at("not_str").arr().is_empty());

    // A raw UTF-8 path and a latin-1 header value arrive byte for byte.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut req = b"GET /strings/".to_vec();
    req.extend_from_slice("你".as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n");
    stream.write_all(&req).unwrap();
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(r#""PATH_INFO": "'/strings/\\xe4\\xbd\\xa0'""#),
        "{text}"
    );
    assert!(text.contains(r#""HTTP_X_LATIN": "'caf\\xe9'""#), "{text}");
}

// ---- 11. SCRIPT_NAME --------------------------------------------------------------------------

fn script_split(server: &Server, target: &str) -> (u16, String, String) {
    let r = get(&server.addr, target);
    if r.status != 200 {
        return (r.status, String::new(), String::new());
    }
    let json = r.json();
    (
        r.status,
        json.at("SCRIPT_NAME").str().to_owned(),
        json.at("PATH_INFO").str().to_owned(),
    )
}

#[test]
fn script_name_flag_splits_the_path() {
    let server = corners_with(&["--script-name", "/prefix/"]);
    assert_eq!(
        script_split(&server, "/prefix/strings/a"),
        (200, "'/prefix'".into(), "'/strings/a'".into())
    );
    assert_eq!(
        script_split(&server, "/prefix/strings%20x"),
        (200, "'/prefix'".into(), "'/strings x'".into())
    );
    assert_eq!(script_split(&server, "/strings/a").0, 404);
    assert_eq!(script_split(&server, "/prefixstrings").0, 404);
    let r = get(&server.addr, "/prefix");
    assert_eq!(r.text(), "no such corner: ");

    // Outside the prefix the answer comes before any body is read: no 100 Continue.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
}

#[test]
fn script_name_environment_variable_like_gunicorn() {
    let server = pyrite()
        .args(&["--pythonpath", &apps_dir(), "pep_corners"])
        .env("SCRIPT_NAME", "/mounted")
        .start();
    assert_eq!(
        script_split(&server, "/mounted/strings"),
        (200, "'/mounted'".into(), "'/strings'".into())
    );
    assert_eq!(script_split(&server, "/strings").0, 404);
    drop(server);

    // The flag's own environment twin wins over SCRIPT_NAME.
    let server = pyrite()
        .args(&["--pythonpath", &apps_dir(), "pep_corners"])
        .env("SCRIPT_NAME", "/mounted")
        .env("PYRITE_SCRIPT_NAME", "/twin")
        .start();
    assert_eq!(
        script_split(&server, "/twin/strings"),
        (200, "'/twin'".into(), "'/strings'".into())
    );
    assert_eq!(script_split(&server, "/mounted/strings").0, 404);
}

#[test]
fn bad_script_name_is_a_one_line_error() {
    let out = pyrite()
        .args(&[
            "--pythonpath",
            &apps_dir(),
            "--script-name",
            "nope",
            "pep_corners",
        ])
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--script-name"), "{}", out.stderr);
}
