//! Recycling: `--max-requests N` (+ `--max-requests-jitter J`) and `--max-rss MIB` make a
//! worker exit gracefully and be replaced, without losing a request.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{assert_all_ok, get_json, num, try_get, Outcome, Stream};
use crate::support::{apps_dir, eventually, pyrite, wait_pid_gone, WAIT};

/// `n` sequential requests, each on a fresh connection.
fn sequential(addr: &str, n: usize) -> Vec<Outcome> {
    (0..n)
        .map(|_| Outcome {
            result: try_get(addr, "/"),
        })
        .collect()
}

#[test]
fn max_requests_recycles_workers_without_losing_requests() {
    let server = pyrite()
        .args(&[
            "-w",
            "2",
            "--max-requests",
            "50",
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    let outcomes = sequential(&server.addr, 500);
    assert_all_ok(&outcomes, "500 requests with --max-requests 50");
    let mut per_pid: BTreeMap<i32, usize> = BTreeMap::new();
    for o in &outcomes {
        *per_pid.entry(o.pid().expect("pid in answer")).or_default() += 1;
    }
    assert!(
        per_pid.len() >= 9,
        "only {} distinct workers served 500 requests: {per_pid:?}",
        per_pid.len()
    );
    for (pid, n) in &per_pid {
        assert!(
            *n <= 50,
            "worker {pid} served {n} requests, past --max-requests 50"
        );
    }
    assert!(
        server.wait_for_stderr("worker recycled", 8, WAIT),
        "expected at least 8 'worker recycled' lines:\n{}",
        server.stderr()
    );
    // Recycled workers exit cleanly and are replaced: 2 serve at the end.
    assert!(eventually(WAIT, || server.live_workers().len() == 2));
    let recycled: Vec<i32> = per_pid
        .iter()
        .filter(|(_, n)| **n == 50)
        .map(|(p, _)| *p)
        .collect();
    for pid in recycled {
        assert!(
            wait_pid_gone(pid, WAIT),
            "recycled worker {pid} still running"
        );
    }
}

#[test]
fn max_requests_jitter_spreads_the_recycling_point() {
    let server = pyrite()
        .args(&[
            "--max-requests",
            "10",
            "--max-requests-jitter",
            "10",
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    let outcomes = sequential(&server.addr, 150);
    assert_all_ok(
        &outcomes,
        "150 requests with --max-requests 10 --max-requests-jitter 10",
    );
    // One worker: consecutive answers from the same pid are one worker's whole life.
    let mut runs: Vec<(i32, usize)> = Vec::new();
    for o in &outcomes {
        let pid = o.pid().expect("pid in answer");
        match runs.last_mut() {
            Some((p, n)) if *p == pid => *n += 1,
            _ => runs.push((pid, 1)),
        }
    }
    let complete = &runs[..runs.len() - 1];
    assert!(complete.len() >= 6, "too few recycles: {runs:?}");
    let pids: HashSet<i32> = runs.iter().map(|(p, _)| *p).collect();
    assert_eq!(pids.len(), runs.len(), "a pid served twice: {runs:?}");
    for (pid, n) in complete {
        assert!(
            (10..=20).contains(n),
            "worker {pid} served {n} requests, outside 10 + 0..=10: {runs:?}"
        );
    }
    let lengths: HashSet<usize> = complete.iter().map(|(_, n)| *n).collect();
    assert!(
        lengths.len() > 1,
        "every worker recycled after exactly the same count: {runs:?}"
    );
    assert!(runs.last().unwrap().1 <= 20);
}

#[test]
fn max_rss_recycles_a_worker_that_grew_past_the_limit() {
    let server = pyrite()
        .args(&["--max-rss", "60", "--pythonpath", &apps_dir(), "supervised"])
        .start();
    let fat = server.worker_pids()[0];
    // Below the limit at rest: a fresh worker is not recycled.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        server.worker_pids(),
        vec![fat],
        "recycled before growing (is a fresh worker over 60 MiB?)\n{}",
        server.stderr()
    );
    let info = get_json(&server.addr, "/hoard?mib=100");
    assert_eq!(num(&info, "pid") as i32, fat);
    assert_eq!(num(&info, "hoard_mib"), 100);
    let stream = Stream::start(&server.addr, "/", Duration::from_millis(20));
    let replaced = eventually(Duration::from_secs(10), || {
        stream
            .snapshot()
            .iter()
            .any(|o| o.pid().is_some_and(|p| p != fat))
    });
    // A few more requests on the new worker.
    let n = stream.count();
    assert!(eventually(WAIT, || stream.count() >= n + 10));
    let outcomes = stream.finish();
    assert!(
        replaced,
        "the worker holding 100 MiB was not recycled within 10 s:\n{}",
        server.stderr()
    );
    assert_all_ok(&outcomes, "requests around an RSS recycle");
    assert!(server.wait_for_stderr("worker recycled", 1, WAIT));
    assert!(wait_pid_gone(fat, WAIT));
    let fresh = get_json(&server.addr, "/");
    assert_ne!(num(&fresh, "pid") as i32, fat);
    assert_eq!(num(&fresh, "hoard_mib"), 0);
}
