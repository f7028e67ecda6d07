//! Signals to the master: TERM (graceful: in-flight requests finish, idle connections and the
//! listener close, `--graceful-timeout` bounds it), INT/QUIT (fast), KILL (the workers die
//! with the master), HUP (zero-downtime reload, and a reload whose app no longer imports),
//! TTIN/TTOU (one worker more/less); a signal sent to a child of the master is never the
//! master's. A worker stuck in its app does not outlive a killed master past the time a stop
//! allows.

use std::collections::HashSet;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::{answering_pid, assert_all_ok, pid_in, supervised, version_at, Stream};
use crate::support::process::children_of;
use crate::support::{
    app_dir, eventually, kill, pid_alive, pyrite, request, wait_pid_gone, write_module, Conn,
    Server, BOOTED, EXITED, LONG_WAIT, WAIT,
};

/// SIGTERM is a graceful stop: the listener closes (new connections are refused), an idle
/// keep-alive connection is closed without a byte, the request in flight finishes and then its
/// connection closes, the workers exit and the master exits 0.
#[test]
fn term_finishes_in_flight_request_closes_the_rest_then_exits_0() {
    let mut server = pyrite()
        .args(&["-w", "2", "--graceful-timeout", "15"])
        .app("supervised")
        .start();
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2, "{workers:?}");
    let mut idle = Conn::connect(&server.addr);
    assert_eq!(idle.get("/").status, 200);
    let addr = server.addr.clone();
    let client = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        let r = conn.get("/sleep?s=2");
        (r, conn.closed_by_server())
    });
    assert!(
        server.wait_for_stderr("supervised app: sleep started", 1, WAIT),
        "the request never reached the app"
    );
    server.signal(libc::SIGTERM);
    // New connections are refused once the listener is closed (polled, bounded).
    let refused = eventually(WAIT, || TcpStream::connect(&server.addr).is_err());
    assert!(refused, "listener still accepting after SIGTERM");
    let idle_end = idle.read_to_close();
    assert!(
        idle_end.closed && idle_end.bytes.is_empty(),
        "idle connection: {:?}",
        idle_end.text()
    );
    let (r, closed) = client.join().expect("client thread panicked");
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer.at("slept").num(), 2.0, "{}", r.text());
    assert!(workers.contains(&(answer.at("pid").num() as i32)));
    assert!(
        closed,
        "the connection stayed open after the in-flight response"
    );
    let status = server.expect_exit(WAIT, "SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    for pid in workers {
        assert!(wait_pid_gone(pid, WAIT), "worker {pid} outlived the master");
    }
}

#[test]
fn graceful_timeout_bounds_the_drain() {
    let mut server = pyrite()
        .args(&["--graceful-timeout", "1"])
        .app("supervised")
        .start();
    request_in_the_app(&server, "/sleep?s=60", "supervised app: sleep started");
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

/// Sends `GET path` from a thread of its own, on a connection of its own that waits for the
/// answer, and returns once the app has written `started` (it has the request).
fn request_in_the_app(server: &Server, path: &str, started: &str) {
    let addr = server.addr.clone();
    let target = path.to_string();
    thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.send(&request("GET", &target, &[], b""));
        let _ = conn.try_read_response(false);
    });
    assert!(
        server.wait_for_stderr(started, 1, WAIT),
        "{path}: the request never reached the app"
    );
}

/// INT and QUIT stop at once: the in-flight 20 s request is not waited for.
fn fast_stop(sig: i32) {
    let mut server = pyrite()
        .args(&["-w", "2", "--graceful-timeout", "30"])
        .app("supervised")
        .start();
    let workers = server.worker_pids();
    let addr = server.addr.clone();
    let client = thread::spawn(move || {
        let mut conn = Conn::connect(&addr);
        conn.send(&request("GET", "/sleep?s=20", &[], b""));
        conn.try_read_response(false)
    });
    assert!(
        server.wait_for_stderr("supervised app: sleep started", 1, WAIT),
        "the request never reached the app"
    );
    let sent = Instant::now();
    server.signal(sig);
    let status = server.expect_exit(WAIT, "a fast-stop signal");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "fast stop took {:?}: it waited for the in-flight request",
        sent.elapsed()
    );
    for pid in &workers {
        assert!(
            wait_pid_gone(*pid, WAIT),
            "worker {pid} survived a fast stop"
        );
    }
    // Expected: the connection closes without an answer (an Err here).
    if let Ok(r) = client.join().expect("client thread panicked") {
        assert!(
            !(r.status == 200 && r.complete),
            "the in-flight request completed normally despite a fast stop"
        );
    }
}

#[test]
fn int_is_a_fast_stop_with_exit_0() {
    fast_stop(libc::SIGINT);
}

#[test]
fn quit_is_a_fast_stop_with_exit_0() {
    fast_stop(libc::SIGQUIT);
}

#[test]
fn workers_die_with_the_master() {
    let mut server = supervised("2");
    kill_the_master(&mut server, WAIT);
}

/// Kills the master (SIGKILL) and waits, up to `wait` each, for its workers to be gone.
fn kill_the_master(server: &mut Server, wait: Duration) {
    let workers = server.worker_pids();
    server.signal(libc::SIGKILL);
    server.wait_exit(WAIT).expect("master survived SIGKILL");
    for pid in workers {
        assert!(
            wait_pid_gone(pid, wait),
            "worker {pid} kept running after the master was killed"
        );
    }
}

/// A worker whose app call never returns (stuck in C, with no `--timeout` to interrupt it)
/// cannot answer the SIGTERM its master's death sends it, and no master is left to kill it once
/// `--graceful-timeout` has passed: it ends itself then, and leaves the address free for the
/// next server. The other, idle worker stops at once.
#[test]
fn a_stuck_worker_does_not_outlive_a_killed_master() {
    let mut server = pyrite()
        .args(&["-w", "2", "--timeout", "0", "--graceful-timeout", "1"])
        .app("supervised")
        .start();
    request_in_the_app(&server, "/stuck", "supervised app: stuck started");
    kill_the_master(&mut server, LONG_WAIT);
    assert!(
        server.wait_for_stderr("the master is gone", 1, WAIT),
        "no line says why the stuck worker ended: {}",
        server.stderr()
    );
    // Its last threads may still be exiting (and holding its descriptors) once its main thread
    // shows as a zombie.
    assert!(
        eventually(WAIT, || std::net::TcpListener::bind(&server.addr).is_ok()),
        "the address is still held"
    );
}

#[test]
fn hup_boots_a_new_generation_then_stops_the_old_one() {
    let server = supervised("2");
    let old = server.worker_pids();
    assert_eq!(old.len(), 2, "{old:?}");
    // A request in flight on an old worker: it is stopped gracefully, so this one finishes.
    let addr = server.addr.clone();
    let in_flight = thread::spawn(move || Conn::connect(&addr).get("/sleep?s=2"));
    assert!(server.wait_for_stderr("supervised app: sleep started", 1, WAIT));
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_stderr("reload complete", 1, WAIT),
        "no 'reload complete' after HUP"
    );
    assert!(
        server.wait_for_stderr(BOOTED, 4, WAIT),
        "a new generation of 2 workers did not boot"
    );
    for pid in &old {
        assert!(
            wait_pid_gone(*pid, WAIT),
            "old worker {pid} still running after the reload"
        );
        assert!(
            server.wait_for_stderr(&format!("{EXITED}{pid}"), 1, WAIT),
            "the master did not log old worker {pid} exiting"
        );
    }
    let r = in_flight.join().expect("client thread panicked");
    assert_eq!(r.status, 200, "in-flight request during HUP: {}", r.text());
    assert!(old.contains(&(pid_in(&r.text()).unwrap())));
    let new = server.live_workers();
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.iter().all(|p| !old.contains(p)), "{old:?} -> {new:?}");
    // (That the new generation is serving before the old one stops is checked with a
    // request stream in `hup_twice_during_a_request_stream_loses_nothing`: the workers log
    // "booted worker" only after telling the master, so log order cannot show it.)
    for _ in 0..6 {
        let pid = answering_pid(&server.addr);
        assert!(new.contains(&pid), "answered by {pid}, workers {new:?}");
    }
}

#[test]
fn hup_picks_up_new_code() {
    let dir = app_dir("hupapp", "reload/versioned.py", Some("one"));
    let server = pyrite()
        .args(&["-w", "2", "--pythonpath", dir.to_str().unwrap(), "hupapp"])
        .start();
    assert_eq!(version_at(&server.addr).as_deref(), Some("one"));
    let old = server.worker_pids();
    write_module(&dir, "hupapp", "reload/versioned.py", Some("version-two"));
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_stderr("reload complete", 1, WAIT));
    // Once the old generation has stopped, only the new code answers.
    for pid in old {
        assert!(wait_pid_gone(pid, WAIT), "old worker {pid} still running");
    }
    for _ in 0..6 {
        assert_eq!(version_at(&server.addr).as_deref(), Some("version-two"));
    }
}

#[test]
fn hup_with_an_app_that_no_longer_imports_keeps_the_old_workers() {
    let dir = app_dir("hupbroken", "reload/versioned.py", Some("good"));
    let mut server = pyrite()
        .args(&[
            "-w",
            "2",
            "--pythonpath",
            dir.to_str().unwrap(),
            "hupbroken",
        ])
        .start();
    let old = server.worker_pids();
    assert_eq!(old.len(), 2);
    write_module(&dir, "hupbroken", "reload/syntax_error.py", None);
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_stderr("reload failed", 1, WAIT),
        "no 'reload failed' after HUP with a broken app"
    );
    assert!(
        server.stderr().contains("SyntaxError"),
        "the import error is not in stderr"
    );
    assert!(
        server.wait_exit(Duration::from_millis(500)).is_none(),
        "the master exited after a failed reload"
    );
    for pid in &old {
        assert!(pid_alive(*pid), "old worker {pid} was stopped");
    }
    for _ in 0..10 {
        assert_eq!(version_at(&server.addr).as_deref(), Some("good"));
        let pid = answering_pid(&server.addr);
        assert!(old.contains(&pid), "answered by {pid}, old workers {old:?}");
    }
    // Fixed again, a further HUP succeeds.
    write_module(
        &dir,
        "hupbroken",
        "reload/versioned.py",
        Some("fixed-again"),
    );
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_stderr("reload complete", 1, WAIT),
        "no 'reload complete' once the app imports again"
    );
    for pid in &old {
        assert!(wait_pid_gone(*pid, WAIT), "old worker {pid} still running");
    }
    assert_eq!(version_at(&server.addr).as_deref(), Some("fixed-again"));
}

#[test]
fn hup_twice_during_a_request_stream_loses_nothing() {
    let server = supervised("2");
    let old: HashSet<i32> = server.worker_pids().into_iter().collect();
    let stream = Stream::start(&server.addr, "/", Duration::ZERO);
    let started = Instant::now();
    assert!(eventually(WAIT, || stream.count() >= 20));
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_stderr("reload complete", 1, WAIT),
        "first reload did not complete"
    );
    thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_for_stderr("reload complete", 2, WAIT),
        "second reload did not complete"
    );
    let last_reload = Instant::now();
    // Keep the stream going for 3 s overall and at least 0.5 s after the last reload.
    while started.elapsed() < Duration::from_secs(3)
        || last_reload.elapsed() < Duration::from_millis(500)
    {
        thread::sleep(Duration::from_millis(50));
    }
    let outcomes = stream.finish();
    assert!(
        outcomes.len() >= 50,
        "only {} requests made",
        outcomes.len()
    );
    assert_all_ok(&outcomes, "HUP x2 during a request stream");
    assert!(eventually(WAIT, || server.live_workers().len() == 2));
    let now: HashSet<i32> = server.live_workers().into_iter().collect();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        old.is_disjoint(&now),
        "workers not all replaced: {old:?} -> {now:?}"
    );
    // The last answers come from the newest generation.
    let tail: HashSet<i32> = outcomes[outcomes.len() - 10..]
        .iter()
        .filter_map(|o| o.pid())
        .collect();
    assert!(
        tail.is_subset(&now),
        "tail answered by {tail:?}, workers {now:?}"
    );
}

#[test]
fn ttin_adds_a_worker_and_ttou_removes_one_of_the_older_ones() {
    let server = supervised("2");
    let first = server.worker_pids();
    assert_eq!(first.len(), 2);
    server.signal(libc::SIGTTIN);
    assert!(
        server.wait_for_stderr(BOOTED, 3, WAIT),
        "TTIN did not boot a third worker"
    );
    let three = server.worker_pids();
    assert_eq!(three.len(), 3, "{three:?}");
    let added = three[2];
    assert!(!first.contains(&added));
    server.signal(libc::SIGTTOU);
    assert!(
        eventually(WAIT, || server.live_workers().len() == 2),
        "TTOU did not stop a worker"
    );
    let after = server.live_workers();
    let gone: Vec<i32> = three
        .iter()
        .copied()
        .filter(|p| !after.contains(p))
        .collect();
    assert_eq!(gone.len(), 1, "{three:?} -> {after:?}");
    assert!(
        first.contains(&gone[0]),
        "TTOU stopped {} (the youngest) rather than one of the oldest {first:?}",
        gone[0]
    );
    assert!(wait_pid_gone(gone[0], WAIT));
    // And it is not replaced.
    thread::sleep(Duration::from_millis(1500));
    let two = server.live_workers();
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two.contains(&added));
    assert_eq!(
        server.stderr().matches(BOOTED).count(),
        3,
        "{}",
        server.stderr()
    );
    for _ in 0..6 {
        let pid = answering_pid(&server.addr);
        assert!(two.contains(&pid), "answered by {pid}, workers {two:?}");
    }
}

#[test]
fn ttou_stops_the_oldest_worker() {
    let server = supervised("2");
    let first = server.worker_pids();
    assert_eq!(first.len(), 2);
    // Replace one of them, so the other is now clearly the oldest.
    kill(first[0], libc::SIGKILL);
    assert!(server.wait_for_stderr(&format!("{EXITED}{}", first[0]), 1, WAIT));
    assert!(
        server.wait_for_stderr(BOOTED, 3, WAIT),
        "no replacement booted"
    );
    let young = *server.worker_pids().last().unwrap();
    assert_ne!(young, first[1]);
    thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTTOU);
    assert!(
        wait_pid_gone(first[1], WAIT),
        "TTOU did not stop the oldest worker {}:\n{}",
        first[1],
        server.stderr()
    );
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(server.live_workers(), vec![young]);
    assert!(pid_alive(young));
    assert_eq!(answering_pid(&server.addr), young);
}

/// A signal sent to a child of the master the moment it is forked is the child's, never the
/// master's. While TTIN and TTOU keep forking and retiring workers, USR1 and HUP go to every
/// child of the master as soon as it is seen, and USR1 to the master itself: the master
/// reopens its logs no more often than it was sent USR1. (A child runs the master's handlers
/// until it sets its own; without every signal blocked across the fork, one caught there
/// reached the master's signal pipe: 65 and 71 reopenings for 60 sent, in runs by hand.)
#[test]
fn a_signal_sent_to_a_child_being_forked_never_reaches_the_master() {
    let mut server = pyrite().args(&["-w", "2"]).app("supervised").start();
    let master = server.pid();
    let rounds = 60;
    for _ in 0..rounds {
        server.signal(libc::SIGTTIN);
        server.signal(libc::SIGUSR1);
        for child in children_of(master) {
            kill(child, libc::SIGUSR1);
            kill(child, libc::SIGHUP);
        }
        server.signal(libc::SIGTTOU);
        thread::sleep(Duration::from_millis(30));
    }
    assert!(
        eventually(WAIT, || server.worker_pids().len() == 2),
        "{}",
        server.stderr()
    );
    assert_eq!(Conn::connect(&server.addr).get("/").status, 200);
    server.signal(libc::SIGTERM);
    let status = server.expect_exit(WAIT, "SIGTERM");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let reopened = server
        .stderr()
        .matches("reopening log files (USR1)")
        .count();
    assert!(
        (1..=rounds).contains(&reopened),
        "{reopened} reopenings for {rounds} USR1s sent to the master"
    );
    assert_eq!(
        server.stderr().matches("reloading: booting").count(),
        0,
        "a HUP sent to a child reached the master"
    );
}
