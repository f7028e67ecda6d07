//! Timeouts against slow clients, with short settings; the tests assert what happens (408,
//! closed), not how long it takes. The head must arrive within `--header-timeout` from its first
//! byte, however slowly it trickles (slowloris); a body may not stall past `--body-timeout`;
//! an idle persistent connection closes after `--keep-alive`; a client that stops reading is
//! dropped after `--write-timeout`.

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use super::Echo;

#[test]
fn partial_head_gets_408() {
    let server = Echo::start(&["--header-timeout", "0.5"]);
    let mut conn = server.connect();
    conn.send(b"GET / HTTP/1.1\r\nHo");
    let got = conn.read_to_close();
    assert!(got.closed, "{}", got.text());
    assert_eq!(got.status(), 408, "{}", got.text());
    assert!(got.has_header("connection", "close"));
    assert_eq!(server.app_calls(), 0);
}

#[test]
fn trickled_head_gets_408() {
    let server = Echo::start(&["--header-timeout", "0.5"]);
    let mut conn = server.connect();
    // One byte every 100 ms: every byte is "progress", but the head as a whole is too slow.
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    for &b in request.iter() {
        if conn.try_send(&[b]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    let got = conn.read_to_close();
    assert_eq!(got.status(), 408, "{}", got.text());
    assert!(got.closed);
    assert!(started.elapsed() < Duration::from_secs(request.len() as u64 / 10));
    assert_eq!(server.app_calls(), 0);
}

#[test]
fn silent_connection_is_closed_without_a_response() {
    let server = Echo::start(&["--header-timeout", "0.3"]);
    let mut conn = server.connect();
    let got = conn.read_to_close();
    assert!(got.closed && got.bytes.is_empty(), "{}", got.text());
}

#[test]
fn idle_keep_alive_is_closed() {
    let server = Echo::start(&["--keep-alive", "0.3"]);
    let mut conn = server.connect();
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(conn.read_response().text(), "hello");
    let got = conn.read_to_close();
    assert!(got.closed && got.bytes.is_empty(), "{}", got.text());
}

#[test]
fn keep_alive_zero_closes_after_each_response() {
    let server = Echo::start(&["--keep-alive", "0"]);
    let got = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(got.closed && got.has_header("connection", "close"));
}

#[test]
fn stalled_body_gets_408() {
    let server = Echo::start(&["--body-timeout", "0.5"]);
    let mut conn = server.connect();
    conn.send(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    let got = conn.read_to_close();
    assert_eq!(got.status(), 408, "{}", got.text());
    assert!(got.closed && got.has_header("connection", "close"));
    assert_eq!(server.app_calls(), 0);
}

#[test]
fn client_that_stops_reading_is_dropped() {
    let server = Echo::start(&["--write-timeout", "0.5"]);
    let mut conn = server.connect();
    conn.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    // Read nothing until the server has given up on us.
    thread::sleep(Duration::from_secs(2));
    let mut received = 0usize;
    let mut tail = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                received += n;
                tail = buf[..n].to_vec();
            }
        }
    }
    // 128 MiB were promised; far less arrived, and no terminating chunk.
    assert!(received < 64 * 1024 * 1024, "received {received}");
    assert!(!tail.ends_with(b"0\r\n\r\n"));
    // The worker is free for others.
    let got = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(got.text().ends_with("hello"));
}
