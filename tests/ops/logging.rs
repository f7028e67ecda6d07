//! The error log: gunicorn's level words (and nothing else), one record per `wsgi.errors`
//! write, Python `logging` records at their own level, JSON lines with `--error-log-json`, and
//! the app's `print()` kept out of the access-log file.

use std::path::Path;

use crate::support::{
    apps_dir, eventually, get, pyrite, tmpdir, Conn, Value, STARTUP_TIMEOUT, WAIT,
};

fn wait_file_contains(path: &Path, needle: &str) -> bool {
    eventually(WAIT, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

/// The line of `log` holding `needle`, and the one after it.
fn line_with<'a>(log: &'a str, needle: &str) -> (&'a str, Option<&'a str>) {
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        if line.contains(needle) {
            return (line, lines.next());
        }
    }
    panic!("no line with {needle:?} in:\n{log}");
}

#[test]
fn a_multi_line_errors_write_is_one_record_and_logging_keeps_its_level() {
    let server = pyrite().app("ops_app").start();
    for target in [
        "/errors-multi",
        "/errors-partial",
        "/log-warning",
        "/log-info",
        "/handler-warning",
    ] {
        assert_eq!(get(&server.addr, target).status, 200, "{target}");
    }
    assert!(server.wait_for_stderr("a handler-written warning", 1, WAIT));
    let err = server.stderr();
    // One record: the level once, the other lines following it bare.
    let (first, next) = line_with(&err, "first line");
    assert!(first.contains("ERROR"), "{first}");
    assert_eq!(next.map(|l| l.trim_start()), Some("second line"), "{err}");
    let (third, _) = line_with(&err, "third line");
    assert!(
        !third.contains("ERROR"),
        "third line is its own record: {third}"
    );
    // A write without a line end waits for the rest.
    let (partial, _) = line_with(&err, "partial then finished");
    assert!(partial.contains("ERROR"), "{partial}");
    // A record no handler takes is written at its level (Python would print it bare).
    let (warning, _) = line_with(&err, "a warning from the app");
    assert!(
        warning.contains("WARN") && !warning.contains("ERROR"),
        "{warning}"
    );
    assert!(warning.contains("ops.app"), "the logger's name: {warning}");
    assert!(!err.contains("an info record nobody asked for"), "{err}");
    // A logging handler writing to wsgi.errors (Flask's default) keeps the record's level.
    let (handled, _) = line_with(&err, "a handler-written warning");
    assert!(
        handled.contains("WARN") && !handled.contains("ERROR"),
        "{handled}"
    );
}

#[test]
fn error_log_json_writes_one_object_per_line() {
    // Spawned, not started: the harness waits for plain-text lines.
    let server = pyrite().arg("--error-log-json").app("ops_app").spawn();
    assert!(
        server.wait_for_stderr("\"message\":\"booted worker\"", 1, STARTUP_TIMEOUT),
        "{}",
        server.stderr()
    );
    let listening = server.stderr();
    let addr = listening
        .split("\"addr\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no addr field:\n{listening}"))
        .to_owned();
    assert_eq!(get(&addr, "/errors-multi").status, 200);
    assert_eq!(get(&addr, "/log-warning").status, 200);
    assert_eq!(get(&addr, "/raise").status, 500);
    assert!(server.wait_for_stderr("boom-for-the-level-test", 1, WAIT));
    assert!(server.wait_for_stderr("a warning from the app", 1, WAIT));
    let err = server.stderr();
    let records: Vec<Value> = err
        .lines()
        .map(|l| crate::support::json::parse(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let find = |needle: &str| {
        records
            .iter()
            .find(|r| {
                r.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.contains(needle))
            })
            .unwrap_or_else(|| panic!("no record with {needle:?}:\n{err}"))
    };
    assert!(
        find("listening on").get("addr").is_some(),
        "fields at the top level"
    );
    let multi = find("first line");
    assert_eq!(multi.at("level").str(), "ERROR");
    assert!(multi
        .at("message")
        .str()
        .contains("first line\nsecond line\nthird line"));
    assert_eq!(find("a warning from the app").at("level").str(), "WARN");
    let traceback = find("boom-for-the-level-test");
    assert_eq!(traceback.at("level").str(), "ERROR");
    assert!(
        traceback.at("message").str().contains("Traceback"),
        "one record"
    );
}

#[test]
fn log_level_takes_gunicorns_words_and_refuses_others() {
    for word in ["verbose", "warnings", "notset", "pyrite=loud"] {
        let out = pyrite()
            .args(&["--log-level", word])
            .app("ops_app")
            .run_to_exit(WAIT);
        assert_eq!(out.code, Some(2), "{word}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("--log-level") && out.stderr.contains(word),
            "{}",
            out.stderr
        );
    }
    let out = pyrite()
        .args(&["--log-level", "WARNING", "--print-config"])
        .app("ops_app")
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// `warning` and `critical` used to turn every log off, tracebacks included.
#[test]
fn warning_and_critical_keep_errors_and_drop_info() {
    for word in ["warning", "warn", "critical", "error"] {
        let dir = tmpdir("log-level");
        let sock = dir.join("s.sock");
        let server = pyrite()
            .args(&[
                "-b",
                &format!("unix:{}", sock.display()),
                "--log-level",
                word,
            ])
            .args(&["--pythonpath", &apps_dir(), "ops_app"])
            .spawn();
        assert!(
            eventually(STARTUP_TIMEOUT, || std::os::unix::net::UnixStream::connect(
                &sock
            )
            .is_ok()),
            "{word}: no listener\n{}",
            server.stderr()
        );
        let mut conn = Conn::connect_unix(&sock);
        assert_eq!(conn.get("/raise").status, 500);
        assert!(
            server.wait_for_stderr("boom-for-the-level-test", 1, WAIT),
            "{word}: the traceback is missing:\n{}",
            server.stderr()
        );
        let err = server.stderr();
        assert!(!err.contains(" INFO "), "{word}: {err}");
        if word.starts_with("warn") {
            let mut conn = Conn::connect_unix(&sock);
            assert_eq!(conn.get("/log-warning").status, 200);
            assert!(server.wait_for_stderr("a warning from the app", 1, WAIT));
        }
    }
}

#[test]
fn the_apps_print_stays_out_of_the_access_log_file() {
    let dir = tmpdir("print-access");
    let access = dir.join("access.log");
    let server = pyrite()
        .args(&["--access-logfile", access.to_str().unwrap()])
        .app("ops_app")
        .start();
    assert_eq!(get(&server.addr, "/print").status, 200);
    assert_eq!(get(&server.addr, "/after-print").status, 200);
    assert!(wait_file_contains(&access, "/after-print"));
    assert!(server.wait_for_stdout("printed-by-the-app", 1, WAIT));
    assert!(server.wait_for_stderr("stderr-by-the-app", 1, WAIT));
    let log = std::fs::read_to_string(&access).unwrap();
    assert!(log.contains("/print"), "{log}");
    assert!(
        !log.contains("printed-by-the-app"),
        "print() in the access log:\n{log}"
    );
    assert!(!log.contains("stderr-by-the-app"), "{log}");
    assert!(
        !server.stdout().contains("/after-print"),
        "access lines on stdout"
    );
}
