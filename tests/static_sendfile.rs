//! Large static files over real sockets, as the worker sends them with sendfile(2): whole files
//! byte for byte over TCP and a unix socket, ranges and multipart/byteranges of a large file,
//! keep-alive and pipelined reuse after a file, a slow reader, a client that leaves mid-file
//! (logged with what it got), and a file that shrinks while it is sent (the connection is cut
//! short; the worker serves on).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::{fetch, get, request, Conn};
use common::{pyrite, tmpdir, Server, WAIT};

/// Above the in-memory cache threshold (256 KiB) by far: always streamed from the file.
const BIG: usize = 5 * 1024 * 1024 + 13;

/// Bytes that differ with their position (no short period), so a wrong offset shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// `<tmp>/root/` with `big.bin` (`BIG` patterned bytes) and a small `hello.txt`.
fn site(name: &str) -> (PathBuf, Vec<u8>) {
    let root = tmpdir(name).join("root");
    std::fs::create_dir_all(&root).unwrap();
    let content = pattern(BIG);
    std::fs::write(root.join("big.bin"), &content).unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    (root, content)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A TCP connection whose receive buffer is small, so the server meets a full socket often.
fn small_window(addr: &str) -> TcpStream {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads a response head; returns it and the body bytes that came with it.
fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("read head");
        assert!(n > 0, "closed before the head: {got:?}");
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = got.split_off(end + 4);
            return (String::from_utf8(got).unwrap(), body);
        }
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_large_file_goes_out_byte_for_byte_over_tcp_and_a_unix_socket() {
    let (root, content) = site("whole");
    let sock = root.parent().unwrap().join("s.sock");
    let server = pyrite()
        .args(&["-b", "127.0.0.1:0", "-b", &format!("unix:{}", s(&sock))])
        .args(&["--docroot", &s(&root)])
        .start();
    let tcp = get(&server.addr, "/big.bin");
    assert_eq!(tcp.status, 200);
    assert_eq!(tcp.header("content-length"), Some(BIG.to_string().as_str()));
    assert!(tcp.body == content, "the file arrived changed over TCP");
    let unix = Conn::connect_unix(&sock).get("/big.bin");
    assert_eq!(unix.status, 200);
    assert!(
        unix.body == content,
        "the file arrived changed over the unix socket"
    );
    assert!(server.wait_for_stdout(&format!("\"GET /big.bin HTTP/1.1\" 200 {BIG} "), 2, WAIT));
}

#[test]
fn a_range_of_a_large_file_from_an_odd_offset() {
    let (root, content) = site("range");
    let server = Server::start(&["--docroot", &s(&root)]);
    let r = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", "bytes=1000001-3000002")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 1000001-3000002/{BIG}").as_str())
    );
    assert!(r.body == content[1_000_001..=3_000_002]);
    let tail = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", "bytes=-300007")],
        b"",
    );
    assert_eq!(tail.status, 206);
    assert!(tail.body == content[BIG - 300_007..]);
    assert_eq!(server.logged_bytes("/big.bin", 206), 2_000_002);
}

#[test]
fn multipart_byteranges_of_a_large_file() {
    let (root, content) = site("multipart");
    let server = Server::start(&["--docroot", &s(&root)]);
    let ranges = [
        (1, 3),
        (100_001, 400_000),
        (400_017, 400_017),
        (4_000_000, BIG - 1),
    ];
    let spec = ranges
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(", ");
    let r = fetch(
        &server.addr,
        "GET",
        "/big.bin",
        &[("Range", &format!("bytes={spec}"))],
        b"",
    );
    assert_eq!(r.status, 206);
    let boundary = r
        .header("content-type")
        .and_then(|ct| ct.strip_prefix("multipart/byteranges; boundary="))
        .expect("multipart/byteranges")
        .to_owned();
    let delimiter = format!("\r\n--{boundary}");
    let find = |from: usize, needle: &[u8]| {
        r.body[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| from + p)
    };
    let mut at = 0;
    for (start, end) in ranges {
        at = find(at, delimiter.as_bytes()).expect("a part") + delimiter.len();
        let data = find(at, b"\r\n\r\n").expect("part headers") + 4;
        let headers = String::from_utf8_lossy(&r.body[at..data]);
        assert!(
            headers.contains(&format!("Content-Range: bytes {start}-{end}/{BIG}\r\n")),
            "{headers}"
        );
        at = data + (end - start + 1);
        assert!(
            r.body[data..at] == content[start..=end],
            "part {start}-{end}"
        );
    }
    assert_eq!(&r.body[at..], format!("{delimiter}--\r\n").as_bytes());
}

#[test]
fn keep_alive_and_pipelined_requests_after_large_files() {
    let (root, content) = site("keepalive");
    let middle = pattern(600_001);
    std::fs::write(root.join("middle.bin"), &middle).unwrap();
    let server = Server::start(&["--docroot", &s(&root)]);
    let mut conn = Conn::connect(&server.addr);
    for i in 0..12 {
        let r = conn.get("/middle.bin");
        assert_eq!(r.status, 200, "request {i}");
        assert!(r.body == middle, "request {i}");
        assert_eq!(
            conn.get("/hello.txt").text(),
            "hello\n",
            "after request {i}"
        );
    }
    // Several at once: each response follows the previous one's last byte exactly.
    let mut burst = request("GET", "/big.bin", &[], b"");
    burst.extend(request("GET", "/hello.txt", &[], b""));
    burst.extend(request(
        "GET",
        "/middle.bin",
        &[("Range", "bytes=7-300006")],
        b"",
    ));
    burst.extend(request("GET", "/big.bin", &[], b""));
    conn.send(&burst);
    assert!(conn.read_response().body == content);
    assert_eq!(conn.read_response().text(), "hello\n");
    let range = conn.read_response();
    assert_eq!(range.status, 206);
    assert!(range.body == middle[7..300_007]);
    assert!(conn.read_response().body == content);
    assert_eq!(conn.get("/hello.txt").status, 200);
}

#[test]
fn a_slow_reader_gets_every_byte() {
    let (root, content) = site("slow");
    let server = Server::start(&["--docroot", &s(&root)]);
    let mut stream = small_window(&server.addr);
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (head, mut body) = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut buf = [0u8; 8192];
    let mut reads = 0;
    loop {
        let n = stream.read(&mut buf).expect("read body");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        reads += 1;
        if reads % 16 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    assert_eq!(body.len(), BIG);
    assert!(body == content, "the file arrived changed");
    assert_eq!(server.logged_bytes("/big.bin", 200), BIG as u64);
}

#[test]
fn a_client_leaving_mid_file_is_logged_with_what_it_got() {
    let dir = tmpdir("leave");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let huge: u64 = 256 << 20;
    std::fs::File::create(root.join("huge.bin"))
        .unwrap()
        .set_len(huge)
        .unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    let server = Server::start(&["--docroot", &s(&root)]);
    let worker = server.worker_pids();

    let mut stream = small_window(&server.addr);
    stream
        .write_all(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (head, body) = read_head(&mut stream);
    assert!(head.contains(&format!("Content-Length: {huge}")), "{head}");
    let mut got = body.len();
    let mut buf = [0u8; 65536];
    while got < 1 << 20 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    // Leaves with bytes unread: the server's next send meets a reset.
    drop(stream);

    let logged = server.logged_bytes("/huge.bin", 200);
    assert!(
        logged >= got as u64 && logged < huge,
        "logged {logged} bytes; the client read {got} of {huge}"
    );
    assert_eq!(get(&server.addr, "/hello.txt").text(), "hello\n");
    assert_eq!(server.worker_pids(), worker, "the worker was not replaced");
}

#[test]
fn a_file_shrinking_while_sent_cuts_the_connection_short() {
    let dir = tmpdir("shrink");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let path = root.join("shrinks.bin");
    let len: usize = 32 << 20;
    std::fs::write(&path, pattern(len)).unwrap();
    std::fs::write(root.join("hello.txt"), "hello\n").unwrap();
    // A stalled send would end at the write timeout; the cut must come before it.
    let server = Server::start(&["--docroot", &s(&root), "--write-timeout", "20"]);
    let worker = server.worker_pids();

    let mut stream = small_window(&server.addr);
    stream
        .write_all(b"GET /shrinks.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (head, body) = read_head(&mut stream);
    assert_eq!(content_length(&head), len);
    let mut got = body.len();
    let mut buf = [0u8; 65536];
    while got < 256 * 1024 {
        got += stream.read(&mut buf).unwrap();
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    // The rest: what was already on its way, then the end of the connection (never a wait
    // for bytes that cannot come: the client's read timeout is below the write timeout).
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == ErrorKind::ConnectionReset => break,
            Err(err) => panic!("after {got} bytes: {err}"),
        }
    }
    assert!(got < len, "{got} bytes of a file cut to 1 MiB");
    let logged = server.logged_bytes("/shrinks.bin", 200);
    assert!(logged < len as u64, "logged {logged}");
    assert_eq!(get(&server.addr, "/hello.txt").text(), "hello\n");
    assert_eq!(server.worker_pids(), worker, "the worker was not replaced");
}
