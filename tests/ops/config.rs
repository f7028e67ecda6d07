//! Configuration files: a `pyrite.toml` (long flag names) and a gunicorn `gunicorn.conf.py`
//! (gunicorn's names and meanings, executed outside the master), gunicorn's precedence
//! (command line > environment > file), warnings for settings pyrite lacks and errors where
//! ignoring one is unsafe, `--check-config` and `--print-config`.

use std::path::{Path, PathBuf};

use crate::support::process::cmdline;
use crate::support::{apps_dir, get, pyrite, tmpdir, WAIT};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{name} =")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

#[test]
fn a_gunicorn_conf_py_is_read_with_gunicorns_meaning() {
    let dir = tmpdir("gunicorn-conf");
    let conf = write(
        &dir,
        "gunicorn.conf.py",
        &format!(
            r#"
import os
bind = "127.0.0.1:0"
workers = 1 + 1
pythonpath = {apps:?}
wsgi_app = "ops_app"
raw_env = ["FROM_CONFIG=yes"]
proc_name = "from-config"
keepalive = 2
sendfile = False
daemon = False
helper_variable = "not a setting"
"#,
            apps = apps_dir()
        ),
    );
    let server = pyrite()
        .without_defaults(2)
        .args(&["-c", conf.to_str().unwrap()])
        .start();
    assert_eq!(server.worker_pids().len(), 2);
    assert_eq!(get(&server.addr, "/env?FROM_CONFIG").text(), "yes");
    assert!(cmdline(server.pid()).contains("pyrite: master [from-config]"));
    let err = server.stderr();
    let warning = err
        .lines()
        .find(|l| l.contains("'sendfile'"))
        .unwrap_or_else(|| panic!("no warning naming sendfile:\n{err}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        !err.contains("daemon"),
        "a setting at gunicorn's default is not reported"
    );
    assert!(!err.contains("helper_variable"), "{err}");
}

#[test]
fn command_line_beats_environment_beats_file() {
    let dir = tmpdir("precedence");
    let conf = write(
        &dir,
        "pyrite.toml",
        "workers = 3\nthreads = 2\nmax_requests = 9\ndocroot = '.'\nkeep-alive = 4\n",
    );
    let out = pyrite()
        .args(&["-c", conf.to_str().unwrap(), "--print-config", "-w", "5"])
        .env("PYRITE_THREADS", "4")
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = out.stdout;
    assert_eq!(line(&text, "workers"), "workers = 5  # command line");
    assert_eq!(
        line(&text, "threads"),
        "threads = 4  # environment (PYRITE_THREADS)"
    );
    let conf_name = conf.display().to_string();
    assert_eq!(
        line(&text, "max-requests"),
        format!("max-requests = 9  # {conf_name} (max_requests)")
    );
    assert_eq!(
        line(&text, "graceful-timeout"),
        "graceful-timeout = 30  # default"
    );
    // What --print-config prints is itself a pyrite.toml.
    let settings: String = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("app ="))
        .map(|l| format!("{}\n", l.split("  #").next().unwrap()))
        .collect();
    let again = write(&dir, "again.toml", &settings);
    let out = pyrite()
        .without_defaults(1)
        .args(&["-c", again.to_str().unwrap(), "--print-config"])
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}\n{settings}", out.stderr);
    assert!(line(&out.stdout, "workers").starts_with("workers = 5  #"));
}

#[test]
fn a_toml_file_serves() {
    let dir = tmpdir("toml-serves");
    let conf = write(
        &dir,
        "pyrite.toml",
        &format!(
            "bind = ['127.0.0.1:0']\nworkers = 1\npythonpath = [{:?}]\napp = 'ops_app'\n",
            apps_dir()
        ),
    );
    let server = pyrite()
        .without_defaults(1)
        .args(&["-c", conf.to_str().unwrap()])
        .start();
    assert_eq!(get(&server.addr, "/").text(), "ok");
}

/// Each bad file is one error line (a Python traceback before it) naming what is wrong, and
/// exit code 2.
#[test]
fn bad_files_and_unsafe_settings_exit_2_naming_them() {
    let dir = tmpdir("bad-config");
    let cases = [
        ("typo.toml", "wrkers = 2\n", "'wrkers'"),
        ("value.toml", "workers = 'many'\n", "--workers"),
        ("syntax.toml", "workers = [\n", "line"),
        ("list.toml", "timeout = [1, 2]\n", "'timeout'"),
        ("nested.toml", "config = 'x.toml'\n", "'config'"),
        (
            "raises.py",
            "raise ValueError('broken config')\n",
            "broken config",
        ),
        ("daemon.py", "daemon = True\n", "'daemon'"),
        ("gevent.py", "worker_class = 'gevent'\n", "'worker_class'"),
        ("paste.py", "paste = 'development.ini'\n", "'paste'"),
        (
            "tls.py",
            "certfile = '/no/such/cert.pem'\nkeyfile = '/no/such/key.pem'\n",
            "cert",
        ),
        ("workers.py", "workers = 'many'\n", "workers"),
        (
            "ssl_context.py",
            "def ssl_context(conf, default):\n    return default()\n",
            "'ssl_context'",
        ),
        (
            "unknown.txt",
            "workers = 2\n",
            "expected a .toml or a .py file",
        ),
    ];
    for (name, text, needle) in cases {
        let path = write(&dir, name, text);
        // The command line's -w does not hide a bad value in the file.
        let out = pyrite()
            .args(&["-c", path.to_str().unwrap(), "--docroot", "."])
            .run_to_exit(WAIT);
        assert_eq!(out.code, Some(2), "{name}: {}", out.stderr);
        let last = out.stderr.trim().lines().last().unwrap_or("");
        assert!(
            last.starts_with("pyrite: error: --config") || out.stderr.contains("--config"),
            "{name}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(needle),
            "{name}: no {needle:?} in {}",
            out.stderr
        );
        if name.ends_with(".toml") {
            assert_eq!(
                out.stderr.trim().lines().count(),
                1,
                "{name}: {}",
                out.stderr
            );
        }
    }
    let out = pyrite()
        .args(&["-c", "/no/such/pyrite.toml", "--docroot", "."])
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn check_config_validates_and_imports_the_app() {
    let ok = pyrite()
        .args(&["--check-config", "--pythonpath", &apps_dir(), "ops_app"])
        .run_to_exit(WAIT);
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    let broken = pyrite()
        .args(&[
            "--check-config",
            "--pythonpath",
            &apps_dir(),
            "boom_at_import",
        ])
        .run_to_exit(WAIT);
    assert_eq!(broken.code, Some(4), "{}", broken.stderr);
    assert!(broken.stderr.contains("Traceback"), "{}", broken.stderr);
    let bad = pyrite()
        .args(&[
            "--check-config",
            "-w",
            "0",
            "--pythonpath",
            &apps_dir(),
            "ops_app",
        ])
        .run_to_exit(WAIT);
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    let dir = tmpdir("check-config");
    let conf = write(&dir, "gunicorn.conf.py", "workers = 2\nspew = True\n");
    let warned = pyrite()
        .args(&["--check-config", "-c", conf.to_str().unwrap()])
        .args(&["--pythonpath", &apps_dir(), "ops_app"])
        .run_to_exit(WAIT);
    assert_eq!(warned.code, Some(0), "{}", warned.stderr);
    assert!(warned.stderr.contains("'spew'"), "{}", warned.stderr);
}
