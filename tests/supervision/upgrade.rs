//! USR2: the master re-executes itself with the listening sockets inherited; the new master's
//! workers boot, it stops the old master (exit 0) and keeps serving on the same address.

use std::thread;
use std::time::{Duration, Instant};

use super::{assert_all_ok, get_json, num, Stream};
use crate::support::process::{cmdline, read_pid_file, KillOnDrop};
use crate::support::{
    apps_dir, eventually, kill, pid_alive, pyrite, tmpdir, wait_pid_gone, BOOTED, LONG_WAIT, WAIT,
};

#[test]
fn usr2_hands_the_sockets_to_a_new_master_without_failing_a_request() {
    let dir = tmpdir("usr2");
    let pid_file = dir.join("pyrite.pid");
    let mut server = pyrite()
        .args(&[
            "-w",
            "2",
            "--pid",
            pid_file.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    let old_master = server.pid();
    assert_eq!(read_pid_file(&pid_file), Some(old_master));
    let old_workers = server.worker_pids();
    assert_eq!(old_workers.len(), 2);

    let stream = Stream::start(&server.addr, "/", Duration::ZERO);
    assert!(eventually(WAIT, || stream.count() >= 20));
    server.signal(libc::SIGUSR2);

    let mut new_master = 0;
    assert!(
        eventually(LONG_WAIT, || {
            new_master = read_pid_file(&pid_file).unwrap_or(0);
            new_master > 0 && new_master != old_master
        }),
        "the new master never wrote its pid to --pid:\n{}",
        server.stderr()
    );
    let _new_master_guard = KillOnDrop(new_master);

    let status = server.expect_exit(LONG_WAIT, "USR2 (the new master should stop it)");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        server.wait_for_stderr(BOOTED, 4, WAIT),
        "the new master's workers did not boot"
    );
    for pid in &old_workers {
        assert!(wait_pid_gone(*pid, WAIT), "old worker {pid} still running");
    }
    // Keep the stream going a little after the hand-over.
    let handed_over = Instant::now();
    while handed_over.elapsed() < Duration::from_millis(700) {
        thread::sleep(Duration::from_millis(50));
    }
    let outcomes = stream.finish();
    assert!(outcomes.len() >= 40, "only {} requests", outcomes.len());
    assert_all_ok(&outcomes, "USR2 during a request stream");

    // Same address, now served by the new master's workers.
    assert!(pid_alive(new_master), "the new master is not running");
    assert!(
        cmdline(new_master).starts_with("pyrite: master ["),
        "new master's cmdline: {:?}",
        cmdline(new_master)
    );
    for _ in 0..6 {
        let info = get_json(&server.addr, "/");
        assert_eq!(
            num(&info, "ppid") as i32,
            new_master,
            "answered by a worker of another master: {info:?}"
        );
        assert!(!old_workers.contains(&(num(&info, "pid") as i32)));
    }
    assert_eq!(read_pid_file(&pid_file), Some(new_master));

    // The new master stops like any other, and its workers with it; the pid file goes too.
    let new_workers: Vec<i32> = server
        .worker_pids()
        .into_iter()
        .filter(|p| !old_workers.contains(p))
        .collect();
    assert_eq!(new_workers.len(), 2, "{new_workers:?}");
    kill(new_master, libc::SIGTERM);
    assert!(
        wait_pid_gone(new_master, WAIT),
        "new master ignored SIGTERM"
    );
    for pid in new_workers {
        assert!(
            wait_pid_gone(pid, WAIT),
            "worker {pid} outlived the new master"
        );
    }
    assert!(
        eventually(WAIT, || !pid_file.exists()),
        "the new master left its pid file behind"
    );
}

/// A USR2 storm: the new master gets USR2 before its own workers serve. It upgrades only once it
/// has taken over from the old master, so every master but the newest exits (none is left
/// behind serving an old generation for good).
#[test]
fn usr2_to_a_master_still_taking_over_is_carried_out_after() {
    let dir = tmpdir("usr2-storm");
    let pid_file = dir.join("pyrite.pid");
    let server = pyrite()
        .env("SLOW_BOOT_SECONDS", "1.5")
        .args(&[
            "-w",
            "2",
            "--pid",
            pid_file.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "slow_boot",
        ])
        .start();
    let first = server.pid();
    server.signal(libc::SIGUSR2);
    let mut second = 0;
    assert!(eventually(LONG_WAIT, || {
        second = read_pid_file(&pid_file).unwrap_or(0);
        second > 0 && second != first
    }));
    let _second_guard = KillOnDrop(second);
    // Its workers are still importing the app.
    kill(second, libc::SIGUSR2);
    assert!(
        server.wait_for_stderr("upgrade (USR2) deferred", 1, LONG_WAIT),
        "{}",
        server.stderr()
    );
    let mut third = 0;
    assert!(
        eventually(LONG_WAIT, || {
            third = read_pid_file(&pid_file).unwrap_or(0);
            third > 0 && third != second && third != first
        }),
        "the deferred upgrade never happened:\n{}",
        server.stderr()
    );
    let _third_guard = KillOnDrop(third);
    assert!(wait_pid_gone(first, LONG_WAIT), "the first master is left");
    assert!(
        wait_pid_gone(second, LONG_WAIT),
        "the second master is left"
    );
    assert!(server.wait_for_stderr(BOOTED, 6, LONG_WAIT));
    let info = get_json(&server.addr, "/");
    assert_eq!(num(&info, "ppid") as i32, third, "{info:?}");
    kill(third, libc::SIGTERM);
    assert!(wait_pid_gone(third, WAIT));
}
