//! The process tree over time: graceful stop on SIGTERM/SIGINT (in-flight requests finish),
//! respawn of a killed worker, workers dying with the master, and the access log.

mod common;

use common::http::{get, Conn};
use common::{apps_dir, kill, pid_alive, pyrite, wait_pid_gone, Server, BOOTED, EXITED, WAIT};
use std::thread;
use std::time::Duration;

#[test]
fn sigterm_stops_master_and_workers_with_exit_0() {
    let mut server = Server::start(&["-w", "2", "--pythonpath", &apps_dir(), "hello"]);
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert_eq!(get(&server.addr, "/").status, 200);
    let status = server
        .terminate()
        .expect("master did not exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    for pid in workers {
        assert!(wait_pid_gone(pid, WAIT), "worker {pid} outlived the master");
    }
}

#[test]
fn sigint_stops_with_exit_0() {
    let mut server = Server::app("hello");
    server.signal(libc::SIGINT);
    let status = server.wait_exit(WAIT).expect("no exit after SIGINT");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn sigterm_lets_in_flight_request_finish() {
    let mut server = Server::app("slow");
    let addr = server.addr.clone();
    let client = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.get("/?s=2")
    });
    // The app logs when the request has reached it; only then is it "in flight".
    assert!(
        server.wait_for_stderr("slow app: request started", 1, WAIT),
        "slow request never reached the app"
    );
    server.signal(libc::SIGTERM);
    let r = client.join().expect("client thread panicked");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "slept 2.0");
    let status = server.wait_exit(WAIT).expect("master did not exit");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn sigterm_closes_listener_while_request_in_flight() {
    let mut server = Server::app("slow");
    let addr = server.addr.clone();
    let client = {
        let addr = addr.clone();
        thread::spawn(move || Conn::connect(&addr).get("/?s=2"))
    };
    assert!(server.wait_for_stderr("slow app: request started", 1, WAIT));
    server.signal(libc::SIGTERM);
    // New connections are refused once the listener is closed (polled, bounded).
    let refused = common::eventually(WAIT, || std::net::TcpStream::connect(&addr).is_err());
    assert!(refused, "listener still accepting after SIGTERM");
    assert_eq!(client.join().unwrap().status, 200);
    assert_eq!(server.wait_exit(WAIT).and_then(|s| s.code()), Some(0));
}

#[test]
fn graceful_timeout_bounds_the_drain() {
    let mut server = pyrite()
        .args(&[
            "--graceful-timeout",
            "1",
            "--pythonpath",
            &apps_dir(),
            "slow",
        ])
        .start();
    let addr = server.addr.clone();
    let _client = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.send(&common::http::request("GET", "/?s=60", &[], b""));
        let _ = conn.try_read_response(false);
    });
    assert!(server.wait_for_stderr("slow app: request started", 1, WAIT));
    let workers = server.worker_pids();
    server.signal(libc::SIGTERM);
    // A 60 s request must not hold a 1 s graceful timeout for long.
    assert!(
        server.wait_exit(Duration::from_secs(20)).is_some(),
        "--graceful-timeout 1 did not stop the master while a 60 s request ran"
    );
    for pid in workers {
        assert!(
            wait_pid_gone(pid, WAIT),
            "worker {pid} survived the graceful timeout"
        );
    }
}

#[test]
fn killed_worker_is_replaced_and_serving_continues() {
    let server = Server::start(&["-w", "2", "--pythonpath", &apps_dir(), "hello"]);
    let before = server.worker_pids();
    assert_eq!(before.len(), 2);
    let victim = before[0];
    kill(victim, libc::SIGKILL);
    assert!(
        server.wait_for_stderr(&format!("{EXITED}{victim}"), 1, WAIT),
        "master did not log the dead worker"
    );
    assert!(
        server.wait_for_stderr(BOOTED, 3, WAIT),
        "no replacement worker booted"
    );
    let after = server.worker_pids();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(!after.contains(&victim));
    assert!(after.contains(&before[1]));
    for _ in 0..10 {
        let r = get(&server.addr, "/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, world!\n");
    }
}

#[test]
fn single_killed_worker_is_replaced() {
    let server = Server::app("hello");
    let victim = server.worker_pids()[0];
    kill(victim, libc::SIGKILL);
    assert!(server.wait_for_stderr(EXITED, 1, WAIT));
    assert!(server.wait_for_stderr(BOOTED, 2, WAIT));
    let fresh = server.worker_pids();
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh[0], victim);
    assert_eq!(get(&server.addr, "/").status, 200);
}

#[test]
fn workers_die_with_the_master() {
    let mut server = Server::start(&["-w", "2", "--pythonpath", &apps_dir(), "hello"]);
    let workers = server.worker_pids();
    server.signal(libc::SIGKILL);
    server.wait_exit(WAIT).expect("master survived SIGKILL");
    for pid in workers {
        assert!(
            wait_pid_gone(pid, WAIT),
            "worker {pid} kept running after the master was killed"
        );
    }
}

#[test]
fn worker_pids_are_children_running_distinct_processes() {
    let server = Server::start(&["-w", "2", "--pythonpath", &apps_dir(), "sysinfo"]);
    let pids = server.worker_pids();
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1]);
    for pid in &pids {
        assert!(pid_alive(*pid));
        assert_ne!(*pid, server.pid());
    }
    let app_pid = get(&server.addr, "/").json().at("pid").clone();
    let common::json::Value::Num(n) = app_pid else {
        panic!("pid not a number")
    };
    assert!(
        pids.contains(&(n as i32)),
        "app ran in pid {n}, workers {pids:?}"
    );
}

#[test]
fn access_log_line_per_request_on_stdout() {
    let dir = common::tmpdir("access-log");
    std::fs::write(dir.join("file.txt"), "file\n").unwrap();
    let server = pyrite()
        .args(&["--static", &format!("/s={}", dir.to_string_lossy())])
        .args(&["--pythonpath", &apps_dir(), "hello"])
        .start();
    assert_eq!(get(&server.addr, "/app.py?name=x").status, 200);
    assert_eq!(get(&server.addr, "/s/file.txt").status, 200);
    assert_eq!(get(&server.addr, "/s/missing.txt").status, 404);
    assert!(
        server.wait_for_stdout("\n", 3, WAIT),
        "expected 3 access log lines, stdout:\n{}",
        server.stdout()
    );
    let out = server.stdout();
    for (needle, status) in [
        ("\"GET /app.py?name=x HTTP/1.1\"", "200"),
        ("\"GET /s/file.txt HTTP/1.1\"", "200"),
        ("\"GET /s/missing.txt HTTP/1.1\"", "404"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no access log line with {needle}:\n{out}"));
        assert!(line.starts_with("127.0.0.1:"), "peer first: {line}");
        let rest = line.split(needle).nth(1).unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(
            fields.len(),
            3,
            "STATUS BYTES DURATION after request: {line}"
        );
        assert_eq!(fields[0], status, "{line}");
        assert!(fields[1].parse::<u64>().is_ok(), "bytes field: {line}");
        assert!(
            fields[2].chars().next().is_some_and(|c| c.is_ascii_digit()),
            "duration field: {line}"
        );
    }
}
