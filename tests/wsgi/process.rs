//! "A Python that behaves like Python" inside a worker: `sys.executable` and `sys.argv[0]` are
//! a real interpreter, `multiprocessing` (spawn and fork) and `threading` work from a view,
//! `atexit` handlers run on a graceful stop, and `signal.signal(SIGTERM, ...)` from the app
//! does not take the worker's graceful stop away.

use std::path::Path;
use std::process::Command;

use crate::support::{bin, eventually, get, pyrite, tmpdir, Server, Value, WAIT};

#[test]
fn sys_executable_and_argv_name_a_real_interpreter() {
    let server = Server::app("pep_corners");
    let json = get(&server.addr, "/process").json();
    let exe = json.at("executable").str().to_owned();
    assert!(!exe.is_empty(), "sys.executable is empty");
    let argv: Vec<&str> = json.at("argv").arr().iter().map(|v| v.str()).collect();
    assert_eq!(argv, [exe.as_str()]);
    assert_eq!(json.at("main_has_file"), &Value::Bool(false));
    // Not pyrite itself, but an interpreter that runs, of the X.Y the app runs in.
    let exe_real = Path::new(&exe)
        .canonicalize()
        .unwrap_or_else(|e| panic!("sys.executable {exe:?} does not exist: {e}"));
    let pyrite_real = bin().canonicalize().unwrap();
    assert_ne!(exe_real, pyrite_real, "sys.executable is the pyrite binary");
    let python = |code: &str| {
        let out = Command::new(&exe)
            .args(["-c", code])
            .env_remove("PYTHONHOME")
            .output()
            .unwrap_or_else(|e| panic!("running sys.executable {exe}: {e}"));
        assert!(out.status.success(), "{exe} -c {code:?} failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(python("import sys; print(sys.version_info[0])"), "3");
    assert_eq!(python("print(1)"), "1");
    assert_eq!(
        python("import sys; print('%d.%d' % sys.version_info[:2])"),
        json.at("version").str()
    );
}

#[test]
fn multiprocessing_spawn_and_fork_work_from_a_view() {
    let server = Server::app("pep_corners");
    for method in ["spawn", "fork"] {
        let r = get(&server.addr, &format!("/mp?method={method}"));
        assert_eq!(r.status, 200, "{method}: {}\n{}", r.text(), server.stderr());
        let json = r.json();
        assert_eq!(json.at("result"), &Value::Num(42.0), "{method}");
        assert_eq!(json.at("exitcode"), &Value::Num(0.0), "{method}");
    }
    // The worker still serves after its children are gone.
    assert_eq!(get(&server.addr, "/threads").status, 200);
}

#[test]
fn a_process_the_app_starts_stops_on_terminate() {
    let server = Server::app("pep_corners");
    for method in ["fork", "spawn"] {
        let r = get(&server.addr, &format!("/mp_terminate?method={method}"));
        assert_eq!(r.status, 200, "{method}: {}\n{}", r.text(), server.stderr());
        let exitcode = r.json().at("exitcode").clone();
        let sigterm = Value::Num(-f64::from(libc::SIGTERM));
        assert_eq!(exitcode, sigterm, "{method}: the child ignored SIGTERM");
    }
}

#[test]
fn threads_run_in_a_view_and_between_requests() {
    let server = Server::app("pep_corners");
    let json = get(&server.addr, "/threads").json();
    let results: Vec<f64> = json
        .at("results")
        .arr()
        .iter()
        .map(|v| match v {
            Value::Num(n) => *n,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results, [45.0, 4950.0, 499500.0]);
    // A daemon thread started at import keeps running while the worker waits on sockets.
    let ticks = |s: &Server| match get(&s.addr, "/background").json().at("ticks") {
        Value::Num(n) => *n,
        other => panic!("{other:?}"),
    };
    let first = ticks(&server);
    assert!(eventually(WAIT, || ticks(&server) > first));
}

#[test]
fn atexit_and_the_apps_sigterm_handler_run_on_a_graceful_stop() {
    let dir = tmpdir("atexit");
    let atexit_file = dir.join("atexit.txt");
    let sigterm_file = dir.join("sigterm.txt");
    // Were the worker's SIGTERM taken over, it would only die at the graceful timeout's
    // SIGKILL, long after `terminate()` gives up waiting.
    let mut server = pyrite()
        .args(&["--graceful-timeout", "60"])
        .app("pep_corners")
        .start();
    let r = get(
        &server.addr,
        &format!("/atexit?path={}", atexit_file.display()),
    );
    let pid = r.json().at("pid").clone();
    let r = get(
        &server.addr,
        &format!("/sigterm?path={}", sigterm_file.display()),
    );
    let json = r.json();
    assert_eq!(json.at("current_is_handler"), &Value::Bool(true));
    let status = server.terminate().expect("pyrite did not stop gracefully");
    assert!(status.success(), "{status:?}");
    assert!(server.stderr().contains("worker stopping gracefully"));
    let pid = match pid {
        Value::Num(n) => n as i32,
        other => panic!("{other:?}"),
    };
    let atexit = std::fs::read_to_string(&atexit_file).expect("atexit handler did not run");
    assert_eq!(atexit.trim(), format!("atexit ran in {pid}"));
    let sigterm = std::fs::read_to_string(&sigterm_file).expect("SIGTERM handler did not run");
    assert_eq!(sigterm.trim(), "sigterm handler ran with 15");
}
