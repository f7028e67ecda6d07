//! Respawn: a killed worker is replaced; workers dying right after boot are respawned with a
//! growing delay; workers that never boot stop the master (exit 3), also when they exit cleanly
//! (`os._exit(0)` at import). (An app that raises at import stops it at once with exit 4: see
//! `cli`.)

use std::time::{Duration, Instant};

use super::{answering_pid, supervised};
use crate::support::{kill, pid_alive, pyrite, BOOTED, EXITED, LONG_WAIT, WAIT};

#[test]
fn a_killed_worker_is_replaced_and_the_next_requests_are_fine() {
    let server = supervised("2");
    let before = server.worker_pids();
    assert_eq!(before.len(), 2);
    let victim = before[1];
    kill(victim, libc::SIGKILL);
    assert!(
        server.wait_for_stderr(&format!("{EXITED}{victim}"), 1, WAIT),
        "the master did not log the dead worker"
    );
    assert!(
        server.wait_for_stderr(BOOTED, 3, WAIT),
        "no replacement booted"
    );
    let after = server.worker_pids();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(!after.contains(&victim));
    assert!(
        after.contains(&before[0]),
        "the other worker was replaced too"
    );
    for _ in 0..10 {
        let pid = answering_pid(&server.addr);
        assert!(after.contains(&pid), "answered by {pid}, workers {after:?}");
    }
}

#[test]
fn workers_dying_right_after_boot_are_respawned_with_growing_delays() {
    let mut server = pyrite().app("supervised").start();
    // Kill each worker the moment it has booted, and wait for its replacement.
    let mut killed_pids = Vec::new();
    for k in 1..=5 {
        let pid = *server.all_worker_pids().last().unwrap();
        kill(pid, libc::SIGKILL);
        assert!(
            server.wait_for_stderr(BOOTED, k + 1, LONG_WAIT),
            "no replacement after quick death #{k}"
        );
        assert!(
            server.wait_for_stderr(&format!("{EXITED}{pid}"), 1, WAIT),
            "the master did not log dead worker {pid}"
        );
        killed_pids.push(pid);
    }
    // One worker serves again, none of the killed ones.
    let fresh = server.worker_pids();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert!(
        !killed_pids.contains(&fresh[0]),
        "{fresh:?} {killed_pids:?}"
    );
    // The delays the master chose, as it logged them: 100 ms doubling with each quick death.
    // (What they are, not how long the replacements took: wall time on a busy machine says
    // little.)
    let stderr = server.stderr();
    let delays: Vec<u64> = stderr
        .lines()
        .filter(|l| l.contains("backing off"))
        .filter_map(|l| {
            let rest = &l[l.find("delay_ms=")? + "delay_ms=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(delays, [100, 200, 400, 800, 1600], "stderr:\n{stderr}");
    // Workers that booted are not "never booting": the master keeps going.
    assert!(server.wait_exit(Duration::from_millis(200)).is_none());
    let pid = answering_pid(&server.addr);
    assert!(pid_alive(pid));
    assert!(!server.stderr().contains("no worker can boot"));
}

#[test]
fn workers_that_never_boot_stop_the_master_with_exit_3() {
    let started = Instant::now();
    let exited = pyrite()
        .app("sup_exit_at_import")
        .run_to_exit(Duration::from_secs(25));
    let took = started.elapsed();
    assert_eq!(exited.code, Some(3), "stderr:\n{}", exited.stderr);
    assert!(
        exited.stderr.contains("no worker can boot"),
        "stderr:\n{}",
        exited.stderr
    );
    assert_eq!(
        exited.stderr.matches(EXITED).count(),
        5,
        "expected exactly 5 failed boots:\n{}",
        exited.stderr
    );
    assert!(!exited.stderr.contains(BOOTED), "{}", exited.stderr);
    // Between the 5 attempts: at least 100 + 200 + 400 + 800 ms of back-off.
    assert!(
        took >= Duration::from_millis(1400),
        "5 failed boots in {took:?}: no back-off"
    );
}

#[test]
fn workers_exiting_cleanly_before_they_boot_back_off_and_stop_the_master_with_exit_3() {
    // `os._exit(0)` at import: before, respawned about 11 times a second, forever.
    let exited = pyrite()
        .app("sup_exit0_at_import")
        .run_to_exit(Duration::from_secs(25));
    assert_eq!(exited.code, Some(3), "stderr:\n{}", exited.stderr);
    assert!(
        exited.stderr.contains("no worker can boot"),
        "stderr:\n{}",
        exited.stderr
    );
    assert_eq!(
        exited.stderr.matches(EXITED).count(),
        5,
        "expected exactly 5 failed boots:\n{}",
        exited.stderr
    );
    assert_eq!(
        exited.stderr.matches("backing off").count(),
        4,
        "a back-off before each new attempt:\n{}",
        exited.stderr
    );
    assert!(!exited.stderr.contains(BOOTED), "{}", exited.stderr);
}
