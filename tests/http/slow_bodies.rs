//! Slow request bodies: hundreds of uploads that send a megabyte and then almost nothing pin
//! at most `--body-memory` of a worker's memory (the rest goes to disk), that memory is given
//! back once they are gone, and a body slower than `--body-min-rate` is cut with 408.

use std::io::Write;
use std::thread;
use std::time::Duration;

use super::Echo;
use crate::support::process::proc_kib;
use crate::support::{eventually, Conn, LONG_WAIT, WAIT};

/// Resident memory of `pid`, in MiB.
fn rss_mib(pid: i32) -> u64 {
    proc_kib(pid, "status", "VmRSS") / 1024
}

/// Request bodies `pid` has spooled to disk (unlinked temporary files it holds open).
fn spooled(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter(|target| target.to_string_lossy().ends_with("(deleted)"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn three_hundred_slow_bodies_pin_bounded_memory_that_comes_back() {
    const BODIES: usize = 300;
    const BUDGET_MIB: u64 = 16;
    let server = Echo::start(&["--body-memory", "16", "--body-timeout", "60"]);
    let worker = server.worker_pids()[0];
    // Warm up (the app imported, the first request served) before the baseline.
    assert_eq!(server.connect().get("/").status, 200);
    let base = rss_mib(worker);
    // Each sends its head and 1 MB of a 2 MB body, then nothing: held open, mid-body.
    let megabyte = vec![b'x'; 1_000_000];
    let head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n";
    let mut uploads = Vec::new();
    for _ in 0..BODIES {
        let mut conn = server.connect();
        conn.send(head);
        conn.send(&megabyte);
        uploads.push(conn);
    }
    // Past the budget, bodies go to disk: wait until the worker has taken them all in.
    let in_memory = (BUDGET_MIB as usize * 1024 * 1024) / 1_000_000;
    assert!(
        eventually(LONG_WAIT, || spooled(worker) >= BODIES - in_memory - 1),
        "{} of {BODIES} bodies spooled",
        spooled(worker)
    );
    let held = rss_mib(worker);
    assert!(
        held <= base + BUDGET_MIB + 32,
        "{BODIES} slow bodies took the worker from {base} to {held} MiB (budget {BUDGET_MIB})"
    );
    // A trickle keeps them under the stall timeout; the worker still serves.
    for conn in uploads.iter_mut().take(10) {
        conn.send(b"y");
    }
    assert_eq!(server.connect().get("/").status, 200);
    // They leave: the files go, and so does the memory.
    drop(uploads);
    assert!(
        eventually(WAIT, || spooled(worker) == 0),
        "{} spooled bodies left",
        spooled(worker)
    );
    assert!(
        eventually(WAIT, || rss_mib(worker) <= base + 8),
        "memory not given back: {base} MiB before, {held} MiB with the bodies, {} MiB after",
        rss_mib(worker)
    );
    eprintln!(
        "worker RSS: {base} MiB, {held} MiB with {BODIES} slow bodies, {} MiB after",
        rss_mib(worker)
    );
    assert_eq!(server.app_calls(), 2, "no partial body reached the app");
}

#[test]
fn a_body_slower_than_the_minimum_rate_gets_408() {
    // At least 1000 bytes a second over each 1 s window; a byte every 50 ms never stalls 1 s.
    let server = Echo::start(&["--body-timeout", "1", "--body-min-rate", "1000"]);
    let mut conn = server.connect();
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    let mut trickle = conn.stream().try_clone().unwrap();
    let writer = thread::spawn(move || {
        for _ in 0..200 {
            if trickle.write_all(b"z").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    let refused = conn.read_response();
    assert_eq!(refused.status, 408, "{}", refused.text());
    assert!(conn.closed_by_server());
    writer.join().unwrap();
    assert_eq!(server.app_calls(), 0);
    // A body that arrives at once is fine.
    let r = Conn::connect(&server.addr).roundtrip("POST", "/upload", &[], &vec![b'a'; 100_000]);
    assert_eq!(r.status, 200);
}
