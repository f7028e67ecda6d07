//! PEP 3333 on the request side, over real sockets against `tests/apps/pep_corners.py`:
//! `wsgi.input` (issue point 1), `Expect` (2; `100 Continue` itself is in `http::codec`),
//! latin-1 `str` values (10) and `--script-name` (11). The response side is in `response.rs`.

use crate::support::{chunked, exchange, fetch, get, pyrite, Conn, Server, Value};

fn corners() -> Server {
    Server::app("pep_corners")
}

fn corners_with(args: &[&str]) -> Server {
    pyrite().args(args).app("pep_corners").start()
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
    assert_eq!(json.at("terminated"), &Value::Bool(true));
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

    // A latin-1 header value arrives byte for byte.
    let got = exchange(
        &server.addr,
        b"GET /strings/%E4%BD%A0 HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nConnection: close\r\n\r\n",
    );
    assert!(got.closed && !got.reset);
    let text = got.text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(r#""PATH_INFO": "'/strings/\\xe4\\xbd\\xa0'""#),
        "{text}"
    );
    assert!(text.contains(r#""HTTP_X_LATIN": "'caf\\xe9'""#), "{text}");

    // Raw UTF-8 in the request-target is not a valid URI (RFC 9112 §3.2, RFC 3986): 400, and
    // the app never sees it. Clients percent-encode, as above.
    let mut req = b"GET /strings/".to_vec();
    req.extend_from_slice("你".as_bytes());
    req.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let got = exchange(&server.addr, &req);
    assert!(got.closed && !got.reset);
    let text = got.text();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
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
    let mut conn = Conn::connect(&server.addr);
    conn.send(
        b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let head = conn.read_head().head;
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
}

#[test]
fn script_name_environment_variable_like_gunicorn() {
    let server = pyrite()
        .app("pep_corners")
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
        .app("pep_corners")
        .env("SCRIPT_NAME", "/mounted")
        .env("PYRITE_SCRIPT_NAME", "/twin")
        .start();
    assert_eq!(
        script_split(&server, "/twin/strings"),
        (200, "'/twin'".into(), "'/strings'".into())
    );
    assert_eq!(script_split(&server, "/mounted/strings").0, 404);
}
