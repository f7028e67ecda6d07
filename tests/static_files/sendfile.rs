//! Large static files over real sockets, as the worker sends them with sendfile(2): whole files
//! byte for byte over TCP and a unix socket, keep-alive and pipelined reuse after a file, a slow
//! reader, a client that leaves mid-file (logged with what it got), a file that shrinks while it
//! is sent (the connection is cut short; the worker serves on), and a 4 GiB file sent with the
//! worker's memory bounded.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::process::proc_kib;
use crate::support::{fetch, get, pyrite, request, tmpdir, Conn, Server, WAIT};

use super::{big_site, pattern, s, BIG};

/// A TCP connection whose receive buffer is small, so the server meets a full socket often.
fn small_window(addr: &str) -> Conn {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    Conn::from_stream(TcpStream::from(socket)).unwrap()
}

#[test]
fn a_large_file_goes_out_byte_for_byte_over_tcp_and_a_unix_socket() {
    let (root, content) = big_site("whole");
    let sock = root.parent().unwrap().join("s.sock");
    let server = pyrite()
        .access_log()
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
fn keep_alive_and_pipelined_requests_after_large_files() {
    let (root, content) = big_site("keepalive");
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
    let (root, content) = big_site("slow");
    let server = Server::start(&["--access-logfile", "-", "--docroot", &s(&root)]);
    let mut conn = small_window(&server.addr);
    conn.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let head = conn.read_head().head;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut body = Vec::new();
    let mut buf = [0u8; 8192];
    let mut reads = 0;
    loop {
        let n = conn.read(&mut buf).expect("read body");
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
    let server = Server::start(&["--access-logfile", "-", "--docroot", &s(&root)]);
    let worker = server.worker_pids();

    let mut conn = small_window(&server.addr);
    conn.send(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = conn.read_head().head;
    assert!(
        head.contains(&format!("Content-Length: {huge}\r\n")),
        "{head}"
    );
    let mut got = 0;
    let mut buf = [0u8; 65536];
    while got < 1 << 20 {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    // Leaves with bytes unread: the server's next send meets a reset.
    drop(conn);

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
    let server = Server::start(&[
        "--access-logfile",
        "-",
        "--docroot",
        &s(&root),
        "--write-timeout",
        "20",
    ]);
    let worker = server.worker_pids();

    let mut conn = small_window(&server.addr);
    conn.send(b"GET /shrinks.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = conn.read_head().head;
    assert!(
        head.contains(&format!("\r\nContent-Length: {len}\r\n")),
        "{head}"
    );
    let mut got = 0;
    let mut buf = [0u8; 65536];
    while got < 256 * 1024 {
        got += conn.read(&mut buf).unwrap();
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
        match conn.read(&mut buf) {
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

/// Large files stream with bounded memory: a 4 GiB sparse file goes out whole while the
/// worker's resident set barely moves (read from /proc/PID/status around and during the
/// transfer; the body goes to a sink).
#[test]
fn a_4_gib_sparse_file_streams_with_bounded_worker_memory() {
    const FILE_LEN: u64 = 4 << 30;
    const RSS_GROWTH_LIMIT_KIB: u64 = 16 * 1024;
    let dir = tmpdir("sparse");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let file = std::fs::File::create(root.join("huge.bin")).unwrap();
    file.set_len(FILE_LEN).unwrap();
    // A few real bytes at both ends, to check the edges arrive intact.
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(b"HEAD", 0).unwrap();
        file.write_all_at(b"TAIL", FILE_LEN - 4).unwrap();
    }
    drop(file);
    let server = Server::start(&["--access-logfile", "-", "--docroot", &s(&root)]);
    let worker = server.worker_pids()[0];
    let rss = || proc_kib(worker, "status", "VmRSS");
    // Warm the request path up with a small range, so one-time allocations are not counted.
    let warm = fetch(
        &server.addr,
        "GET",
        "/huge.bin",
        &[("Range", "bytes=0-3")],
        b"",
    );
    assert_eq!(warm.body, b"HEAD");
    let before = rss();

    let mut conn = Conn::connect(&server.addr);
    conn.stream()
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.send(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let head = conn.read_head().head;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {FILE_LEN}\r\n")),
        "{head}"
    );
    let mut buf = vec![0u8; 1 << 20];
    let mut body_len: u64 = 0;
    let mut first = Vec::new();
    let mut last = [0u8; 4];
    let mut peak = before;
    let mut next_sample: u64 = 0;
    loop {
        let n = conn.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if first.len() < 4 {
            first.extend_from_slice(&chunk[..chunk.len().min(4 - first.len())]);
        }
        body_len += n as u64;
        if n >= 4 {
            last.copy_from_slice(&chunk[n - 4..]);
        }
        if body_len >= next_sample {
            peak = peak.max(rss());
            next_sample += 64 << 20;
        }
    }
    assert_eq!(body_len, FILE_LEN);
    assert_eq!(&first[..4], b"HEAD");
    assert_eq!(&last, b"TAIL");
    let after = rss();
    peak = peak.max(after);
    assert!(
        peak - before < RSS_GROWTH_LIMIT_KIB,
        "worker RSS grew from {before} KiB to {peak} KiB"
    );
    eprintln!("worker RSS: before {before} KiB, peak {peak} KiB, after {after} KiB");
    assert!(server.wait_for_stdout(
        &format!("\"GET /huge.bin HTTP/1.1\" 200 {FILE_LEN} "),
        1,
        WAIT
    ));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
