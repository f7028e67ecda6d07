//! Large files stream with bounded memory: a 4 GiB sparse file goes out whole while the
//! worker's resident set barely moves (read from /proc/PID/status around and during the
//! transfer; the body goes to a sink).

#[path = "static_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{tmpdir, vm_rss_kib, Server};

const FILE_LEN: u64 = 4 << 30;
const RSS_GROWTH_LIMIT_KIB: u64 = 16 * 1024;

#[test]
fn a_4_gib_sparse_file_streams_with_bounded_worker_memory() {
    let dir = tmpdir("sparse");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let path = root.join("huge.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(FILE_LEN).unwrap();
    // A few real bytes at both ends, to check the edges arrive intact.
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(b"HEAD", 0).unwrap();
        file.write_all_at(b"TAIL", FILE_LEN - 4).unwrap();
    }
    drop(file);
    let server = Server::start(&["--docroot", &root.to_string_lossy()]);
    // Warm the request path up with a small range, so one-time allocations are not counted.
    let warm = server.request("GET", "/huge.bin", &[("Range", "bytes=0-3")]);
    assert_eq!(warm.body, b"HEAD");
    let before = vm_rss_kib(server.worker);

    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(b"GET /huge.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut body_len: u64 = 0;
    let mut first = Vec::new();
    let mut last = [0u8; 4];
    let mut peak = before;
    let mut next_sample: u64 = 0;
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if body_len == 0 && first.len() < 4 {
            if !head.ends_with(b"\r\n\r\n") {
                let end = chunk
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|p| p + 4);
                match end {
                    Some(end) if head.is_empty() => {
                        head.extend_from_slice(&chunk[..end]);
                        chunk = &chunk[end..];
                    }
                    _ => panic!("headers split across reads"),
                }
            }
            first.extend_from_slice(&chunk[..chunk.len().min(4)]);
        }
        body_len += chunk.len() as u64;
        if chunk.len() >= 4 {
            last.copy_from_slice(&chunk[chunk.len() - 4..]);
        }
        if body_len >= next_sample {
            peak = peak.max(vm_rss_kib(server.worker));
            next_sample += 64 << 20;
        }
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {FILE_LEN}")),
        "{head}"
    );
    assert_eq!(body_len, FILE_LEN);
    assert_eq!(&first[..4], b"HEAD");
    assert_eq!(&last, b"TAIL");
    let after = vm_rss_kib(server.worker);
    peak = peak.max(after);
    assert!(
        peak - before < RSS_GROWTH_LIMIT_KIB,
        "worker RSS grew from {before} KiB to {peak} KiB"
    );
    eprintln!("worker RSS: before {before} KiB, peak {peak} KiB, after {after} KiB");
    assert!(server.wait_for_stdout(&format!("\"GET /huge.bin HTTP/1.1\" 200 {FILE_LEN} ")));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
