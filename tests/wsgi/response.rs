//! PEP 3333 on the response side, over real sockets against `tests/apps/pep_corners.py`:
//! `start_response` and `exc_info` (issue point 3), lazy start (4), `write()` (5),
//! Content-Length, HEAD and bodyless statuses (6), `wsgi.file_wrapper` (7), `close()` (8) and
//! `wsgi.errors` (9). The request side is in `request.rs`.

use std::io::Read;

use crate::support::{get, pyrite, request, tmpdir, Conn, Framing, Server, WAIT};

fn corners() -> Server {
    Server::app("pep_corners")
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
    conn.send(&request("GET", "/exc_info_after", &[], b""));
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
    // write() output, then the returned list, in one length.
    let r = get(&server.addr, "/write_list");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "written,returned");
    assert_eq!(r.header("content-length"), Some("16"));
}

// ---- 6. Content-Length, HEAD, 204/304, empty chunks -------------------------------------------

#[test]
fn body_shorter_than_content_length_closes_the_connection() {
    let server = corners();
    for path in ["/cl_short", "/cl_short_list"] {
        let mut conn = Conn::connect(&server.addr);
        conn.send(&request("GET", path, &[], b""));
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
    let dir = tmpdir("file_wrapper");
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

/// Well past the 16 KiB below which pieces of a file are read rather than sent with sendfile.
const BIG_FILE: usize = 5 * 1024 * 1024 + 13;

#[test]
fn file_wrapper_sends_a_5_mib_file_byte_for_byte_with_and_without_a_content_length() {
    let server = pyrite().access_log().app("pep_corners").start();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let len = data.len().to_string();
    let mut conn = Conn::connect(&server.addr);
    for target in [
        format!("/file?path={p}"),
        format!("/file?path={p}&length={len}"),
    ] {
        let r = conn.get(&target);
        assert_eq!(r.framing, Framing::ContentLength, "{target}");
        assert_eq!(r.header("content-length"), Some(len.as_str()), "{target}");
        assert!(r.body == data, "{target}: body differs from the file");
        // What the kernel sent on the worker's behalf is counted all the same.
        assert_eq!(
            server.logged_bytes(&target, 200),
            BIG_FILE as u64,
            "{target}"
        );
    }
    // write() output goes ahead of the file, in the same length.
    let r = conn.get(&format!("/file?path={p}&prefix=head;"));
    let expected = [b"head;".as_slice(), &data].concat();
    assert_eq!(
        r.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
    assert!(r.body == expected, "write() output then the file");
    assert!(server.wait_for_stderr("file closed after 0 python reads", 3, WAIT));
    assert_eq!(server.stderr().matches("file closed after").count(), 3);
}

#[test]
fn file_wrapper_starts_where_the_app_left_the_file() {
    let server = corners();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let r = get(&server.addr, &format!("/file?path={p}&offset=1234567"));
    assert_eq!(
        r.header("content-length"),
        Some((BIG_FILE - 1_234_567).to_string().as_str())
    );
    assert!(r.body == data[1_234_567..], "not from the app's position");
    let r = get(
        &server.addr,
        &format!("/file?path={p}&offset=1000001&length=2000000&prefix=head;"),
    );
    assert_eq!(r.header("content-length"), Some("2000000"));
    let expected = [b"head;".as_slice(), &data[1_000_001..2_999_996]].concat();
    assert!(
        r.body == expected,
        "write() output, then the file from its position"
    );
    assert!(server.wait_for_stderr("file closed after 0 python reads", 2, WAIT));
}

#[test]
fn file_wrapper_with_a_content_length_shorter_than_the_file_sends_that_much() {
    let server = corners();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let mut conn = Conn::connect(&server.addr);
    let r = conn.get(&format!("/file?path={p}&length=3000000"));
    assert_eq!(r.header("content-length"), Some("3000000"));
    assert!(r.body == data[..3_000_000]);
    // Not a byte more went out: the connection carries the next requests.
    let r = conn.get(&format!("/file?path={p}&offset=5&length=20000"));
    assert!(r.body == data[5..20_005]);
    assert_eq!(conn.get("/close_normal").text(), "xxx");
    assert!(server.wait_for_stderr("file closed after 0 python reads", 2, WAIT));
    let log = server.stderr();
    assert!(!log.contains("longer than its Content-Length"), "{log}");
    assert!(!log.contains("shorter than its Content-Length"), "{log}");
}

#[test]
fn file_wrapper_over_a_file_shorter_than_its_content_length_closes_the_connection() {
    let server = corners();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let declared = (BIG_FILE + 1000).to_string();
    let mut conn = Conn::connect(&server.addr);
    conn.send(&request(
        "GET",
        &format!("/file?path={p}&length={declared}"),
        &[],
        b"",
    ));
    let r = conn.try_read_response(false).unwrap();
    assert_eq!(r.header("content-length"), Some(declared.as_str()));
    assert!(!r.complete, "a short body must not look complete");
    assert!(r.body == data, "the whole file went out before the cut");
    assert!(server.wait_for_stderr("shorter than its Content-Length", 1, WAIT));
    assert!(server.wait_for_stderr("file closed after 0 python reads", 1, WAIT));
}

#[test]
fn client_leaving_mid_file_wrapper_closes_the_file_once() {
    let server = pyrite().access_log().app("pep_corners").start();
    let dir = tmpdir("file_wrapper_leave");
    let path = dir.join("huge.bin");
    let huge: u64 = 256 << 20;
    std::fs::File::create(&path).unwrap().set_len(huge).unwrap();
    let target = format!("/file?path={}", path.display());
    let mut conn = Conn::connect(&server.addr);
    conn.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let mut got = vec![0u8; 2 << 20];
    conn.read_exact(&mut got).unwrap();
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    // Leaves with bytes unread: the server's next send meets a reset.
    drop(conn);
    assert!(server.wait_for_stderr("file closed after 0 python reads", 1, WAIT));
    let logged = server.logged_bytes(&target, 200);
    assert!(
        logged > 1 << 20 && logged < huge,
        "logged {logged} of {huge} bytes"
    );
    // One more request goes through, so a late second close() would be logged by now.
    assert_eq!(get(&server.addr, "/close_normal").text(), "xxx");
    assert!(server.wait_for_stderr("closed normal after 3", 1, WAIT));
    assert_eq!(server.stderr().matches("file closed after").count(), 1);
}

#[test]
fn head_and_304_of_a_file_wrapper_send_no_body_and_close_the_file() {
    let server = corners();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let mut conn = Conn::connect(&server.addr);
    let r = conn.roundtrip("HEAD", &format!("/file?path={p}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(BIG_FILE.to_string().as_str())
    );
    let r = conn.roundtrip("HEAD", &format!("/file?path={p}&length=10"), &[], b"");
    assert_eq!(r.header("content-length"), Some("10"));
    let r = conn.roundtrip(
        "HEAD",
        &format!("/file?path={p}&offset=100&prefix=ab"),
        &[],
        b"",
    );
    assert_eq!(
        r.header("content-length"),
        Some((BIG_FILE - 100 + 2).to_string().as_str())
    );
    let r = conn.get(&format!("/file?path={p}&status=304"));
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("transfer-encoding"), None);
    // Had a body byte been sent, this response would not parse.
    let r = conn.get(&format!("/file?path={p}&length=10"));
    assert!(r.body == data[..10]);
    assert!(server.wait_for_stderr("file closed after 0 python reads", 5, WAIT));
    assert_eq!(server.stderr().matches("file closed after").count(), 5);
}

#[test]
fn file_wrapper_from_a_pool_thread_goes_out_the_same() {
    let server = pyrite()
        .args(&["--threads", "2"])
        .app("pep_corners")
        .start();
    let (path, data) = sample_file(BIG_FILE);
    let p = path.display().to_string();
    let r = get(&server.addr, &format!("/file?path={p}&offset=7"));
    assert!(r.body == data[7..]);
    assert!(server.wait_for_stderr("file closed after 0 python reads", 1, WAIT));
}

// ---- 8. close() -------------------------------------------------------------------------------

#[test]
fn close_is_called_once_at_the_end_and_after_an_exception() {
    let server = corners();
    assert_eq!(get(&server.addr, "/close_normal").text(), "xxx");
    let r = get(&server.addr, "/close_raise_first");
    assert_eq!(r.status, 500);
    let mut conn = Conn::connect(&server.addr);
    conn.send(&request("GET", "/close_raise", &[], b""));
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
    let mut conn = Conn::connect(&server.addr);
    conn.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut got = vec![0u8; 2 << 20];
    conn.read_exact(&mut got).unwrap();
    drop(conn);
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
        // One record per write: a write of several lines is one record, whose fields (the
        // worker's pid) follow its last line.
        let at = log
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} not logged:\n{log}"));
        let fields = &log[at..];
        let tag = fields.find(" pid=").expect("the record's fields");
        assert!(
            fields[tag..].starts_with(&format!(" pid={pid}")),
            "{line:?}: {}",
            &fields[..tag + 20]
        );
    }
    let one = log.find("errors: line one").unwrap();
    assert!(
        log[one..].starts_with("errors: line one\nerrors: line two pid="),
        "a write of two lines is one record:\n{log}"
    );
}
