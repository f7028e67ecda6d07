//! New connections spread over the workers: a burst of keep-alive connections to `-w 2` is
//! served by both workers, each taking a fair share — a worker that holds more than its share
//! leaves new connections to the other. The bound is generous (a liveness bound, not a timing).

use std::collections::HashMap;

use crate::support::{apps_dir, pyrite, request, Conn};

/// Connections in the burst, as many as a `wrk -c64` opens.
const BURST: usize = 64;

#[test]
fn a_burst_of_connections_is_shared_by_both_workers() {
    let server = pyrite()
        .args(&["-w", "2", "--pythonpath", &apps_dir(), "balanced"])
        .start();
    // All connected first (the kernel queues them), then each sends a request, as wrk does.
    let mut conns: Vec<Conn> = (0..BURST).map(|_| Conn::connect(&server.addr)).collect();
    let get = request("GET", "/work?t=x", &[], b"");
    for conn in &mut conns {
        conn.send(&get);
    }
    let mut served: HashMap<String, usize> = HashMap::new();
    for conn in &mut conns {
        let r = conn.read_response();
        assert_eq!(r.status, 200, "{}", r.text());
        let worker = r.header("X-Worker").expect("X-Worker").to_string();
        *served.entry(worker).or_default() += 1;
    }
    // Every connection is still open: each worker holds the connections it answered.
    assert_eq!(
        served.len(),
        2,
        "one worker served every connection: {served:?}"
    );
    for (worker, n) in &served {
        assert!(
            *n >= BURST / 4,
            "worker {worker} served {n} of {BURST} connections: {served:?}"
        );
    }
    drop(conns);
}
