//! USR1 reopens `--access-logfile` and `--error-logfile`: after a rotation (rename) and USR1,
//! new lines go to a fresh file at the original path, from the master and from the workers.

mod common;
mod supervision_support;

use common::http::get;
use common::{apps_dir, kill, pyrite, LISTENING, STARTUP_TIMEOUT, WAIT};
use std::path::Path;
use std::thread;
use std::time::Duration;
use supervision_support::wait_file_contains;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Sends numbered requests (built by `target`) until one of them shows up in `log`; returns
/// the number of the one that did.
fn probe_until_logged(
    addr: &str,
    log: &Path,
    target: impl Fn(usize) -> String,
    needle: impl Fn(usize) -> String,
) -> Option<usize> {
    for n in 0..100 {
        assert_eq!(get(addr, &target(n)).status, 200);
        if wait_file_contains(log, &needle(n), Duration::from_millis(100)) {
            return Some(n);
        }
    }
    None
}

#[test]
fn usr1_reopens_the_access_log_after_rotation() {
    let dir = common::tmpdir("usr1-access");
    let log = dir.join("access.log");
    let rotated = dir.join("access.log.1");
    let server = pyrite()
        .args(&[
            "--access-logfile",
            log.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    assert_eq!(get(&server.addr, "/before-rotation").status, 200);
    assert!(
        wait_file_contains(&log, "/before-rotation", WAIT),
        "no access line in {}: {:?}",
        log.display(),
        read(&log)
    );
    assert!(
        !server.stdout().contains("/before-rotation"),
        "access line went to stdout despite --access-logfile"
    );
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    let hit = probe_until_logged(
        &server.addr,
        &log,
        |n| format!("/after-rotation-{n}"),
        |n| format!("/after-rotation-{n} "),
    );
    assert!(
        hit.is_some(),
        "no access line reached a new {} after USR1; rotated file:\n{}",
        log.display(),
        read(&rotated)
    );
    // From now on every line goes to the new file.
    for i in 0..5 {
        assert_eq!(get(&server.addr, &format!("/settled-{i}")).status, 200);
    }
    assert!(wait_file_contains(&log, "/settled-4 ", WAIT));
    let (new, old) = (read(&log), read(&rotated));
    for i in 0..5 {
        assert!(new.contains(&format!("/settled-{i} ")), "{new}");
        assert!(!old.contains(&format!("/settled-{i} ")), "{old}");
    }
    assert!(old.contains("/before-rotation"));
    assert!(!new.contains("/before-rotation"));
}

#[test]
fn usr1_reopens_the_error_log_in_master_and_workers() {
    let dir = common::tmpdir("usr1-error");
    let log = dir.join("error.log");
    let rotated = dir.join("error.log.1");
    let mut server = pyrite()
        .args(&[
            "--error-logfile",
            log.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .spawn();
    assert!(
        wait_file_contains(&log, "booted worker pid=", STARTUP_TIMEOUT),
        "no worker boot logged to {}: {:?}\nstderr: {}",
        log.display(),
        read(&log),
        server.stderr()
    );
    let text = read(&log);
    let addr = text
        .lines()
        .find_map(|l| l.split(LISTENING).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|a| a.trim_matches('"').to_string())
        .expect("no listening line in the error log");
    let worker: i32 = text
        .split("booted worker pid=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .expect("worker pid");

    // A worker line (wsgi.errors) before the rotation.
    assert_eq!(get(&addr, "/log?msg=marker-before-rotation").status, 200);
    assert!(wait_file_contains(&log, "marker-before-rotation", WAIT));

    std::fs::rename(&log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    // The existing worker's lines reach the new file...
    let hit = probe_until_logged(
        &addr,
        &log,
        |n| format!("/log?msg=marker-after-rotation-{n}-end"),
        |n| format!("marker-after-rotation-{n}-end"),
    );
    assert!(
        hit.is_some(),
        "the worker kept writing to the rotated file after USR1:\n{}",
        read(&rotated)
    );
    // ...and so do the master's: it logs the death of a worker.
    kill(worker, libc::SIGKILL);
    let exited = format!("worker exited pid={worker}");
    assert!(
        wait_file_contains(&log, &exited, WAIT),
        "the master kept writing to the rotated file after USR1:\nnew: {}\nold: {}",
        read(&log),
        read(&rotated)
    );
    assert!(
        wait_file_contains(&log, "booted worker pid=", WAIT),
        "the replacement worker's boot is not in the new file"
    );
    thread::sleep(Duration::from_millis(200));
    let old = read(&rotated);
    assert!(old.contains("marker-before-rotation"));
    assert!(old.contains(LISTENING));
    assert!(!old.contains(&exited), "{old}");
    assert_eq!(get(&addr, "/").status, 200);
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(WAIT).expect("master did not stop");
    assert_eq!(status.code(), Some(0));
}
