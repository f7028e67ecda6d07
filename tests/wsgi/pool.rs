//! The pool executor (`--threads N`): N Python threads call the app while the runtime thread
//! does the I/O, so requests that wait overlap; `wsgi.multithread` says so; `--timeout`
//! interrupts a pool thread too.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{get, pyrite, Conn, Server};

fn pooled(extra: &[&str]) -> Server {
    pyrite()
        .args(&["-w", "1"])
        .args(extra)
        .app("pooled")
        .start()
}

/// Runs `client` with the server's address on `n` threads at once; what each returned, once all
/// are done.
fn at_once<T: Send + 'static>(server: &Server, n: usize, client: fn(&str) -> T) -> Vec<T> {
    let clients: Vec<_> = (0..n)
        .map(|_| {
            let addr = server.addr.clone();
            thread::spawn(move || client(&addr))
        })
        .collect();
    clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .collect()
}

#[test]
fn sleeping_requests_overlap_on_the_pool_threads() {
    let server = pooled(&["--threads", "8"]);
    let started = Instant::now();
    let responses = at_once(&server, 8, |addr| get(addr, "/sleep?s=1"));
    let mut threads = HashSet::new();
    for response in responses {
        assert_eq!(response.status, 200, "{}", response.text());
        let text = response.text();
        let (ident, multithread) = text.split_once(' ').expect("ident and flag");
        assert_eq!(multithread, "True");
        threads.insert(ident.to_owned());
    }
    // Eight one-second sleeps on one worker finish together, not one after another.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "8 × 1 s sleeps took {took:?}"
    );
    assert!(threads.len() > 1, "all answered by one thread: {threads:?}");
}

#[test]
fn a_pool_thread_keeps_its_python_thread_state_between_requests() {
    // Two threads, six requests one after another: some thread answers several, and its
    // threading.local still holds what the earlier ones left there.
    let server = pooled(&["--threads", "2"]);
    let mut seen = std::collections::HashMap::new();
    for _ in 0..6 {
        let response = get(&server.addr, "/local");
        assert_eq!(response.status, 200, "{}", response.text());
        let text = response.text();
        let (ident, count) = text.split_once(' ').expect("ident and count");
        let answered = seen.entry(ident.to_owned()).or_insert(0u32);
        *answered += 1;
        assert_eq!(count, answered.to_string(), "thread {ident}: {seen:?}");
    }
}

#[test]
fn more_requests_than_threads_and_queue_all_get_answered() {
    // 2 threads take at most 4 requests at a time; the other connections wait their turn.
    let server = pooled(&["--threads", "2"]);
    for status in at_once(&server, 12, |addr| get(addr, "/sleep?s=0.05").status) {
        assert_eq!(status, 200);
    }
}

#[test]
fn a_saturated_pool_answers_every_keep_alive_request_whole() {
    // 2 threads and 16 connections: requests queue, so replies go back in batches; each must
    // still reach its own connection, whole, and a lone request after the burst is answered.
    let server = pooled(&["--threads", "2"]);
    let answers = at_once(&server, 16, |addr| {
        let mut conn = Conn::connect(addr);
        (0..4)
            .map(|_| {
                let response = conn.get("/sleep?s=0.01");
                (response.status, response.text())
            })
            .collect::<Vec<_>>()
    });
    for (status, text) in answers.into_iter().flatten() {
        assert_eq!(status, 200, "{text}");
        assert!(text.ends_with(" True"), "{text}");
    }
    assert_eq!(get(&server.addr, "/").status, 200);
}

#[test]
fn inline_by_default_reports_single_threaded() {
    let server = pooled(&[]);
    let response = get(&server.addr, "/");
    assert_eq!(response.status, 200);
    assert!(response.text().ends_with(" False"), "{}", response.text());
}

#[test]
fn timeout_interrupts_a_pool_thread_and_the_pool_keeps_serving() {
    let server = pooled(&["--threads", "2", "--timeout", "1"]);
    let response = get(&server.addr, "/spin");
    assert_eq!(response.status, 504, "{}", response.text());
    assert!(server.wait_for_stderr("RequestTimeout", 1, Duration::from_secs(10)));
    let worker = server.worker_pids();
    for _ in 0..4 {
        assert_eq!(get(&server.addr, "/").status, 200);
    }
    assert_eq!(server.worker_pids(), worker, "the worker was replaced");
}
