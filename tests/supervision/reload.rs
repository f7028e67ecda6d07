//! `--reload`: the master watches the `.py` files under `--chdir` and `--pythonpath`; an edit
//! brings up workers with the new code, a syntax error is logged and the last good workers
//! keep serving.

use std::time::Duration;

use super::version_at;
use crate::support::{app_dir, eventually, pyrite, write_module};

/// Polls until the last 5 answers in a row are `want` (bounded by ~12 s); every answer on
/// the way must be a 200 from the old or the new code. Returns false (after printing the
/// answers) if it never settles.
fn becomes(addr: &str, old: &str, want: &str) -> bool {
    let mut seen: Vec<Option<String>> = Vec::new();
    let settled = eventually(Duration::from_secs(12), || {
        seen.push(version_at(addr));
        seen.len() >= 5
            && seen[seen.len() - 5..]
                .iter()
                .all(|v| v.as_deref() == Some(want))
    });
    let bad: Vec<&Option<String>> = seen
        .iter()
        .filter(|v| !matches!(v.as_deref(), Some(x) if x == old || x == want))
        .collect();
    assert!(
        bad.is_empty(),
        "failed or unexpected answers during the reload: {bad:?} in {seen:?}"
    );
    if !settled {
        eprintln!("answers: {seen:?}");
    }
    settled
}

#[test]
fn reload_picks_up_an_edit_under_pythonpath() {
    let dir = app_dir("liveapp", "reload/versioned.py", Some("first"));
    let server = pyrite()
        .args(&[
            "-w",
            "2",
            "--reload",
            "--pythonpath",
            dir.to_str().unwrap(),
            "liveapp",
        ])
        .start();
    assert_eq!(version_at(&server.addr).as_deref(), Some("first"));
    write_module(&dir, "liveapp", "reload/versioned.py", Some("second-edit"));
    assert!(
        becomes(&server.addr, "first", "second-edit"),
        "the edit was not picked up within ~10 s:\n{}",
        server.stderr()
    );
}

#[test]
fn reload_watches_other_modules_under_chdir() {
    // The app imports a helper module; editing the helper (not the app file) counts too.
    let dir = app_dir("chdirapp", "reload/uses_helper.py", None);
    write_module(&dir, "helper", "reload/helper.py", Some("helper-one"));
    let server = pyrite()
        .args(&["--reload", "--chdir", dir.to_str().unwrap(), "chdirapp"])
        .start();
    assert_eq!(version_at(&server.addr).as_deref(), Some("helper-one"));
    write_module(
        &dir,
        "helper",
        "reload/helper.py",
        Some("helper-number-two"),
    );
    assert!(
        becomes(&server.addr, "helper-one", "helper-number-two"),
        "the edit under --chdir was not picked up within ~10 s:\n{}",
        server.stderr()
    );
}

#[test]
fn reload_with_a_syntax_error_logs_it_and_keeps_the_last_good_workers() {
    let dir = app_dir("fragileapp", "reload/versioned.py", Some("good-one"));
    let mut server = pyrite()
        .args(&[
            "-w",
            "2",
            "--reload",
            "--pythonpath",
            dir.to_str().unwrap(),
            "fragileapp",
        ])
        .start();
    assert_eq!(version_at(&server.addr).as_deref(), Some("good-one"));
    write_module(&dir, "fragileapp", "reload/syntax_error.py", None);
    assert!(
        server.wait_for_stderr("SyntaxError", 1, Duration::from_secs(12)),
        "no traceback for the syntax error within ~10 s:\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("fragileapp.py"),
        "the traceback does not name the file:\n{}",
        server.stderr()
    );
    // The last good code keeps answering, and the master keeps running.
    for _ in 0..20 {
        assert_eq!(version_at(&server.addr).as_deref(), Some("good-one"));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.wait_exit(Duration::from_millis(100)).is_none());
    // Fixed, the next edit is picked up.
    write_module(
        &dir,
        "fragileapp",
        "reload/versioned.py",
        Some("good-three"),
    );
    assert!(
        becomes(&server.addr, "good-one", "good-three"),
        "the fix was not picked up within ~10 s:\n{}",
        server.stderr()
    );
}
