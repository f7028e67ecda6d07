//! `--timeout`: a request that overruns it gets `pyrite.RequestTimeout` raised in the running
//! Python code (a 504 for the client, the worker survives); a worker stuck in C code past the
//! timeout and a grace period is killed by the master and replaced. With `--threads`, a pool
//! thread stuck in C gets its 504 from the I/O thread at the deadline, and the worker lets its
//! other requests finish before it is replaced.

use std::thread;
use std::time::{Duration, Instant};

use super::{answering_pid, get_json, num};
use crate::support::{
    apps_dir, pid_alive, pyrite, request, wait_pid_gone, Conn, Server, BOOTED, EXITED, LONG_WAIT,
    WAIT,
};

fn with_timeout(timeout: &str) -> Server {
    pyrite()
        .args(&[
            "--timeout",
            timeout,
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start()
}

#[test]
fn a_sleeping_view_past_the_timeout_gets_504_and_the_worker_keeps_serving() {
    let server = with_timeout("2");
    let worker = server.worker_pids()[0];
    let started = Instant::now();
    let r = Conn::connect(&server.addr).get("/sleep?s=10");
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(
        took >= Duration::from_millis(1900),
        "504 after {took:?}, before the 2 s timeout"
    );
    assert!(took < Duration::from_secs(8), "504 only after {took:?}");
    assert!(
        server.wait_for_stderr("RequestTimeout", 1, WAIT),
        "no RequestTimeout traceback in stderr:\n{}",
        server.stderr()
    );
    assert!(server.stderr().contains("Traceback"), "{}", server.stderr());
    // The same worker answers the next requests.
    for _ in 0..3 {
        let info = get_json(&server.addr, "/");
        assert_eq!(num(&info, "pid") as i32, worker);
    }
    assert!(pid_alive(worker));
    assert_eq!(server.worker_pids(), vec![worker]);
    assert!(!server.stderr().contains(EXITED), "{}", server.stderr());
    assert!(!server.stderr().contains("worker timed out"));
}

#[test]
fn request_timeout_is_a_base_exception_raised_inside_the_app() {
    let server = with_timeout("1");
    // The app sleeps inside `except Exception:`, which must not swallow the timeout.
    let r = Conn::connect(&server.addr).get("/guarded?s=10");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(
        server.wait_for_stderr("supervised app: caught", 1, WAIT),
        "the app saw no exception:\n{}",
        server.stderr()
    );
    let err = server.stderr();
    assert!(
        err.contains("supervised app: caught pyrite.RequestTimeout exception_subclass=False"),
        "{err}"
    );
    // The traceback points into the app's time.sleep call.
    assert!(server.wait_for_stderr("RequestTimeout", 2, WAIT));
    let err = server.stderr();
    assert!(err.contains("Traceback"), "{err}");
    assert!(err.contains("supervised.py"), "{err}");
    assert!(err.contains("time.sleep"), "{err}");
}

#[test]
fn a_timeout_does_not_leak_into_the_next_request() {
    let server = with_timeout("2");
    let r = Conn::connect(&server.addr).get("/sleep?s=10");
    assert_eq!(r.status, 504);
    // A request that sleeps for less than the timeout, right after, completes normally.
    let r = Conn::connect(&server.addr).get("/sleep?s=1.5");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = Conn::connect(&server.addr).get("/sleep?s=1.5");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn timeout_0_disables_the_limit() {
    let server = with_timeout("0");
    let r = Conn::connect(&server.addr).get("/sleep?s=3");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!server.stderr().contains("RequestTimeout"));
}

#[test]
fn a_worker_stuck_in_c_code_is_killed_and_replaced() {
    let server = with_timeout("2");
    let worker = server.worker_pids()[0];
    let addr = server.addr.clone();
    let started = Instant::now();
    let client = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.send(&request("GET", "/stuck", &[], b""));
        conn.try_read_response(false)
    });
    assert!(server.wait_for_stderr("supervised app: stuck started", 1, WAIT));
    assert!(
        server.wait_for_stderr("worker timed out", 1, LONG_WAIT),
        "the master never gave up on the stuck worker:\n{}",
        server.stderr()
    );
    let noticed = started.elapsed();
    assert!(
        noticed >= Duration::from_millis(3500),
        "killed after {noticed:?}, before timeout + 2 s grace"
    );
    assert!(
        noticed < Duration::from_secs(12),
        "noticed only after {noticed:?}"
    );
    assert!(
        wait_pid_gone(worker, WAIT),
        "the stuck worker was not killed"
    );
    assert!(
        server.wait_for_stderr(&format!("{EXITED}{worker}"), 1, WAIT),
        "the master did not log the stuck worker's exit"
    );
    assert!(
        server.wait_for_stderr(BOOTED, 2, WAIT),
        "no replacement booted"
    );
    // The client of the stuck request gets an error or a closed connection, not a hang.
    let answered = client.join().expect("client thread panicked");
    if let Ok(r) = answered {
        assert_ne!(r.status, 200, "the stuck request got a 200");
    }
    let fresh = server.worker_pids();
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh[0], worker);
    assert_eq!(answering_pid(&server.addr), fresh[0]);
}

#[test]
fn a_pool_thread_stuck_in_c_gets_504_at_the_deadline_and_its_worker_drains_then_is_replaced() {
    let server = pyrite()
        .args(&[
            "--threads",
            "4",
            "--timeout",
            "2",
            "--graceful-timeout",
            "30",
        ])
        .app("pooled")
        .start();
    let worker = server.worker_pids()[0];
    // 10^9 PBKDF2 iterations: minutes in C, where no exception reaches the thread.
    let addr = server.addr.clone();
    let stuck = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.send(&request("GET", "/pbkdf2", &[], b""));
        conn.try_read_response(false)
    });
    assert!(server.wait_for_stderr("pooled app: pbkdf2 started", 1, WAIT));
    // A healthy request on the same worker, in flight: its head and half its body are here.
    let mut healthy = Conn::connect(&server.addr);
    healthy.send(b"POST /sleep?s=0 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
    let answer = stuck
        .join()
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(answer.status, 504, "{}", answer.text());
    assert!(
        server.wait_for_stderr("an app thread is stuck", 1, LONG_WAIT),
        "the worker did not notice its stuck thread:\n{}",
        server.stderr()
    );
    // The worker stops taking work but finishes what it has: the rest of the body, the answer.
    healthy.send(b"world");
    let r = healthy.read_response();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().ends_with("True"), "{}", r.text());
    // Then it exits and is replaced; the master never had to kill it.
    assert!(wait_pid_gone(worker, LONG_WAIT), "the worker never exited");
    assert!(
        server.wait_for_stderr(BOOTED, 2, WAIT),
        "no replacement booted"
    );
    let r = Conn::connect(&server.addr).get("/");
    assert_eq!(r.status, 200, "{}", r.text());
    let err = server.stderr();
    assert!(!err.contains("worker timed out"), "{err}");
    assert!(err.contains("worker recycled"), "{err}");
}
