//! gunicorn's server hooks from a `gunicorn.conf.py` (`tests/apps/ops_hooks.conf.py`, which
//! records what each hook was given): worker hooks run in the worker with the objects gunicorn
//! passes, master hooks in the hook process (the master runs no Python) at the moments
//! gunicorn calls them. A hook that raises is logged with its traceback and the server lives —
//! except `on_starting`/`when_ready` (start-up stops, exit 1), `post_fork` (the worker cannot
//! boot) and `pre_request` (that request gets a 500), as in gunicorn.

use std::path::{Path, PathBuf};

use crate::support::process::{children_of, cmdline};
use crate::support::{
    app_path, apps_dir, eventually, fetch, get, kill, pyrite, tmpdir, BOOTED, LONG_WAIT, WAIT,
};

fn conf() -> String {
    app_path("ops_hooks.conf.py").display().to_string()
}

fn log_path(name: &str) -> PathBuf {
    tmpdir(name).join("hooks.log")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn wait_line(path: &Path, prefix: &str) -> String {
    let mut found = String::new();
    let ok = eventually(WAIT, || {
        found = read(path)
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or("")
            .to_owned();
        !found.is_empty()
    });
    assert!(ok, "no {prefix:?} line in the hook log:\n{}", read(path));
    found
}

#[test]
fn worker_hooks_get_gunicorns_objects() {
    let log = log_path("hooks-worker");
    let mut server = pyrite()
        .args(&["-c", &conf(), "--pythonpath", &apps_dir(), "ops_app"])
        .env("HOOK_LOG", log.to_str().unwrap())
        .start();
    let worker = server.worker_pids()[0];
    let master = server.pid();
    assert_eq!(
        wait_line(&log, "post_fork"),
        format!("post_fork {worker} 1 {master} 1")
    );
    assert_eq!(
        wait_line(&log, "post_worker_init"),
        format!("post_worker_init {worker} True")
    );
    let ok = fetch(
        &server.addr,
        "GET",
        "/hello?x=1",
        &[("X-Request-Id", "abc")],
        b"",
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        wait_line(&log, "pre_request"),
        format!("pre_request {worker} GET /hello x=1 abc")
    );
    assert_eq!(
        wait_line(&log, "post_request"),
        "post_request /hello 200 /hello"
    );
    // A pre_request that raises fails its request, as in gunicorn; the next one is served.
    assert_eq!(get(&server.addr, "/refused-by-hook").status, 500);
    assert!(server.wait_for_stderr("pre_request refuses this one", 1, WAIT));
    assert_eq!(get(&server.addr, "/after").status, 200);
    server.signal(libc::SIGTERM);
    assert_eq!(server.expect_exit(WAIT, "SIGTERM").code(), Some(0));
    assert_eq!(
        wait_line(&log, "worker_exit"),
        format!("worker_exit {worker}")
    );
}

#[test]
fn master_hooks_run_outside_the_master_at_gunicorns_moments() {
    let log = log_path("hooks-master");
    let mut server = pyrite()
        .args(&["-c", &conf(), "--pythonpath", &apps_dir(), "ops_app"])
        .env("HOOK_LOG", log.to_str().unwrap())
        .start();
    let master = server.pid();
    // The last word: the hook ran in another process than the master (which runs no Python).
    assert_eq!(
        wait_line(&log, "on_starting"),
        format!("on_starting {master} 1 True")
    );
    assert_eq!(
        wait_line(&log, "when_ready"),
        format!("when_ready {}", server.addr)
    );
    assert_eq!(wait_line(&log, "pre_fork"), "pre_fork 1");
    let first = read(&log);
    let order: Vec<&str> = first
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        &order[..3],
        ["on_starting", "when_ready", "pre_fork"],
        "{first}"
    );

    let worker = server.worker_pids()[0];
    kill(worker, libc::SIGKILL);
    assert_eq!(
        wait_line(&log, "child_exit"),
        format!("child_exit {worker} 1")
    );
    assert!(server.wait_for_stderr(BOOTED, 2, LONG_WAIT));
    server.signal(libc::SIGTTIN);
    assert_eq!(wait_line(&log, "nworkers_changed"), "nworkers_changed 2 1");
    server.signal(libc::SIGHUP);
    wait_line(&log, "on_reload");
    assert!(server.wait_for_stderr("reload complete", 1, LONG_WAIT));
    server.signal(libc::SIGTERM);
    assert_eq!(server.expect_exit(LONG_WAIT, "SIGTERM").code(), Some(0));
    wait_line(&log, "on_exit");
}

#[test]
fn on_exit_runs_when_the_whole_process_group_is_told_to_stop() {
    // systemd's default stop (KillMode=control-group), Ctrl-C and `timeout` signal every
    // process of the server at once, the hook process too: it must leave the stop to the
    // master, which still calls on_exit.
    let log = log_path("hooks-group-stop");
    let mut server = pyrite()
        .args(&["-c", &conf(), "--pythonpath", &apps_dir(), "ops_app"])
        .env("HOOK_LOG", log.to_str().unwrap())
        .start();
    wait_line(&log, "pre_fork");
    let master = server.pid();
    let children = children_of(master);
    let hooks: Vec<i32> = children
        .iter()
        .copied()
        .filter(|&pid| cmdline(pid).contains("hooks"))
        .collect();
    assert_eq!(hooks.len(), 1, "children {children:?}");
    for pid in children {
        kill(pid, libc::SIGTERM);
    }
    server.signal(libc::SIGTERM);
    assert_eq!(server.expect_exit(LONG_WAIT, "SIGTERM").code(), Some(0));
    wait_line(&log, "on_exit");
    assert!(
        !server.stderr().contains("the hook process exited"),
        "{}",
        server.stderr()
    );
}

#[test]
fn a_raising_hook_is_logged_and_the_server_lives() {
    for hook in ["child_exit", "post_request"] {
        let log = log_path("hooks-raise");
        let server = pyrite()
            .args(&["-c", &conf(), "--pythonpath", &apps_dir(), "ops_app"])
            .env("HOOK_LOG", log.to_str().unwrap())
            .env("HOOK_FAIL", hook)
            .start();
        assert_eq!(get(&server.addr, "/").status, 200, "{hook}");
        if hook == "child_exit" {
            kill(server.worker_pids()[0], libc::SIGKILL);
            assert!(server.wait_for_stderr(BOOTED, 2, LONG_WAIT));
        }
        let needle = format!("{hook} fails on purpose");
        assert!(
            server.wait_for_stderr(&needle, 1, WAIT),
            "{hook}: {}",
            server.stderr()
        );
        let err = server.stderr();
        assert!(
            err.contains("Traceback"),
            "{hook}: the traceback is logged:\n{err}"
        );
        assert!(err.contains(&format!("the {hook} hook raised")), "{err}");
        assert_eq!(get(&server.addr, "/").status, 200, "{hook}: still serving");
    }
}

/// As gunicorn: on_starting and when_ready that raise stop the start (exit 1), and a worker
/// whose post_fork raises cannot boot (exit 3 once no worker can).
#[test]
fn start_up_hooks_that_raise_stop_the_start() {
    for (hook, code) in [("on_starting", 1), ("when_ready", 1), ("post_fork", 3)] {
        let log = log_path("hooks-startup");
        let out = pyrite()
            .args(&["-c", &conf(), "--pythonpath", &apps_dir(), "ops_app"])
            .env("HOOK_LOG", log.to_str().unwrap())
            .env("HOOK_FAIL", hook)
            .run_to_exit(LONG_WAIT);
        assert_eq!(out.code, Some(code), "{hook}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("{hook} fails on purpose")),
            "{hook}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(BOOTED),
            "{hook}: a worker booted:\n{}",
            out.stderr
        );
    }
}

/// A worker stuck in Python past --timeout (swallowing the RequestTimeout) gets SIGABRT from
/// the master: worker_abort runs, then the worker exits and is replaced.
#[test]
fn worker_abort_runs_when_the_master_aborts_a_hung_worker() {
    let log = log_path("hooks-abort");
    let server = pyrite()
        .args(&[
            "-c",
            &conf(),
            "--timeout",
            "1",
            "--pythonpath",
            &apps_dir(),
            "ops_app",
        ])
        .env("HOOK_LOG", log.to_str().unwrap())
        .start();
    let worker = server.worker_pids()[0];
    let _ = crate::support::try_fetch(&server.addr, "GET", "/spin", &[], b"");
    let line = {
        let mut found = String::new();
        let ok = eventually(LONG_WAIT, || {
            found = read(&log)
                .lines()
                .find(|l| l.starts_with("worker_abort"))
                .unwrap_or("")
                .to_owned();
            !found.is_empty()
        });
        assert!(ok, "no worker_abort:\n{}\n{}", read(&log), server.stderr());
        found
    };
    assert_eq!(line, format!("worker_abort {worker}"));
    assert!(server.wait_for_stderr(BOOTED, 2, LONG_WAIT));
    assert_eq!(get(&server.addr, "/").status, 200);
}
