//! The logs: one access-log line per request on stdout (app and static files alike, with the
//! status and the bytes sent), and USR1 reopening `--access-logfile` and `--error-logfile`:
//! after a rotation (rename) and USR1, new lines go to a fresh file at the original path, from
//! the master and from the workers. A log reader that goes away (`| head -1`) costs nothing
//! but the lines.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::support::process::ppid_of;
use crate::support::{
    apps_dir, eventually, fetch, get, kill, pyrite, tmpdir, LISTENING, STARTUP_TIMEOUT, WAIT,
};

/// Polls (bounded) until the file at `path` contains `needle`.
fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> bool {
    eventually(timeout, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

#[test]
fn access_log_line_per_request_on_stdout() {
    let dir = tmpdir("access-log");
    std::fs::write(dir.join("hello.txt"), "hello, world\n").unwrap();
    let server = pyrite()
        .args(&["--static", &format!("/s={}", dir.to_string_lossy())])
        .app("hello")
        .start();
    assert_eq!(get(&server.addr, "/app.py?name=x").status, 200);
    assert_eq!(get(&server.addr, "/s/hello.txt").status, 200);
    let range = [("Range", "bytes=0-4")];
    assert_eq!(
        fetch(&server.addr, "GET", "/s/hello.txt", &range, b"").status,
        206
    );
    assert_eq!(
        fetch(&server.addr, "HEAD", "/s/hello.txt", &[], b"").status,
        200
    );
    assert_eq!(get(&server.addr, "/s/missing.txt").status, 404);
    assert!(
        server.wait_for_stdout("\n", 5, WAIT),
        "expected 5 access log lines, stdout:\n{}",
        server.stdout()
    );
    let out = server.stdout();
    // PEER "REQUEST LINE" STATUS BYTES DURATION; BYTES is what the body took.
    for (needle, status, bytes) in [
        ("\"GET /app.py?name=x HTTP/1.1\"", "200", None),
        ("\"GET /s/hello.txt HTTP/1.1\" 200 ", "200", Some("13")),
        ("\"GET /s/hello.txt HTTP/1.1\" 206 ", "206", Some("5")),
        ("\"HEAD /s/hello.txt HTTP/1.1\"", "200", Some("0")),
        ("\"GET /s/missing.txt HTTP/1.1\"", "404", None),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no access log line with {needle}:\n{out}"));
        assert!(line.starts_with("127.0.0.1:"), "peer first: {line}");
        let request = &needle[..needle.rfind('"').unwrap() + 1];
        let rest = line.split(request).nth(1).unwrap();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(
            fields.len(),
            3,
            "STATUS BYTES DURATION after request: {line}"
        );
        assert_eq!(fields[0], status, "{line}");
        assert!(fields[1].parse::<u64>().is_ok(), "bytes field: {line}");
        if let Some(bytes) = bytes {
            assert_eq!(fields[1], bytes, "{line}");
        }
        assert!(
            fields[2].chars().next().is_some_and(|c| c.is_ascii_digit()),
            "duration field: {line}"
        );
    }
}

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
    let dir = tmpdir("usr1-access");
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
    let dir = tmpdir("usr1-error");
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

/// `pyrite … 2>&1 | head -1`: the reader of both streams is gone once the server has booted.
/// Every line from then on (access lines, a worker's death and replacement, USR1, TTIN, the
/// stop) meets a closed pipe; the master must neither panic nor stop serving. The timeouts are
/// the largest a flag takes, 2^64 − 1 seconds, which must not overflow either.
#[test]
fn a_log_reader_that_goes_away_stops_nothing() {
    let forever = u64::MAX.to_string();
    let mut server = pyrite()
        .args(&[
            "-w",
            "2",
            "--timeout",
            &forever,
            "--graceful-timeout",
            &forever,
        ])
        .app("supervised")
        .hang_up_logs()
        .start();
    let pid_answering = |addr: &str| {
        let r = get(addr, "/");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json().at("pid").num() as i32
    };
    for _ in 0..20 {
        pid_answering(&server.addr);
    }
    // The master logs a dead worker and boots its replacement: lines nobody reads.
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2);
    kill(workers[0], libc::SIGKILL);
    let children = |master: i32| {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| ppid_of(pid) == Some(master))
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(WAIT, || {
            let now = children(server.pid());
            now.len() == 2 && !now.contains(&workers[0])
        }),
        "the killed worker was not replaced: {:?}",
        children(server.pid())
    );
    server.signal(libc::SIGUSR1);
    server.signal(libc::SIGTTIN);
    for _ in 0..20 {
        pid_answering(&server.addr);
    }
    let status = server.terminate().expect("the master stops on TERM");
    assert_eq!(status.code(), Some(0), "{status:?} (101 is a panic)");
}
