//! The command line: flags and their PYRITE_* twins, exit codes (2 bad usage, 4 app cannot be
//! loaded), APP spec forms, python path / chdir / venv, and the kinds of bind address.

mod common;

use common::http::{get, Conn};
use common::{apps_dir, pyrite, tmpdir, Server, BOOTED, WAIT};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Bound for a startup failure to end the process ("promptly", not a respawn loop).
const FAIL_BOUND: Duration = Duration::from_secs(20);

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn version_flag_prints_version() {
    let out = pyrite().arg("--version").run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // `pyrite 0.2.0 (CPython 3.11.7, /usr/local)`: the version and the Python it runs.
    let line = out.stdout.trim();
    let python = line
        .strip_prefix(&format!("pyrite {} (CPython 3.", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("stdout: {line}"));
    let (_, prefix) = python.split_once(", ").expect("no Python prefix");
    assert!(Path::new(prefix).is_dir(), "stdout: {line}");
}

#[test]
fn help_flag_lists_options() {
    let out = pyrite().arg("--help").run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for flag in [
        "--bind",
        "--workers",
        "--pythonpath",
        "--chdir",
        "--venv",
        "--docroot",
        "--static",
        "--app-suffix",
        "--graceful-timeout",
        "--limit-request-body",
    ] {
        assert!(out.stdout.contains(flag), "--help does not mention {flag}");
    }
}

fn assert_usage_error(args: &[&str], names: &str) {
    let out = pyrite().args(args).run_to_exit(WAIT);
    assert_eq!(
        out.code,
        Some(2),
        "{args:?} → {:?}\n{}",
        out.code,
        out.stderr
    );
    assert!(
        out.stderr.contains(names),
        "{args:?}: stderr does not name {names}:\n{}",
        out.stderr
    );
    assert!(!out.stderr.contains(BOOTED), "{args:?} booted a worker");
}

#[test]
fn unknown_flag_exits_2() {
    assert_usage_error(&["--no-such-flag"], "--no-such-flag");
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let apps = apps_dir();
    assert_usage_error(&["-w", "abc", "--pythonpath", &apps, "hello"], "--workers");
    assert_usage_error(&["-w", "0", "--pythonpath", &apps, "hello"], "--workers");
    assert_usage_error(&["-b", "not an address", "hello"], "--bind");
    assert_usage_error(&["-b", "127.0.0.1:99999", "hello"], "--bind");
    assert_usage_error(
        &["--graceful-timeout", "soon", "hello"],
        "--graceful-timeout",
    );
    assert_usage_error(
        &["--limit-request-body=lots", "hello"],
        "--limit-request-body",
    );
    assert_usage_error(&["--static", "no-equals-sign", "hello"], "--static");
}

#[test]
fn bad_env_value_exits_2() {
    let out = pyrite()
        .env("PYRITE_WORKERS", "many")
        .args(&["-b", "127.0.0.1:0", "--pythonpath", &apps_dir(), "hello"])
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("--workers") || out.stderr.contains("PYRITE_WORKERS"),
        "{}",
        out.stderr
    );
}

#[test]
fn env_vars_configure_like_flags() {
    let server = pyrite()
        .env("PYRITE_WORKERS", "2")
        .env("PYRITE_PYTHONPATH", apps_dir())
        .arg("hello")
        .start();
    assert_eq!(server.worker_pids().len(), 2);
    assert_eq!(get(&server.addr, "/").text(), "Hello, world!\n");
}

fn assert_load_failure(app: &str, also: &[&str]) -> String {
    let out = pyrite()
        .args(&["-w", "2", "--pythonpath", &apps_dir(), app])
        .run_to_exit(FAIL_BOUND);
    assert_eq!(
        out.code,
        Some(4),
        "{app}: exit {:?} (None = still running after {FAIL_BOUND:?})\n{}",
        out.code,
        out.stderr
    );
    assert!(
        out.stderr.contains("failed to load"),
        "{app}:\n{}",
        out.stderr
    );
    for needle in also {
        assert!(
            out.stderr.contains(needle),
            "{app}: no {needle:?} in\n{}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains(BOOTED),
        "{app}: a worker claimed to boot:\n{}",
        out.stderr
    );
    out.stderr
}

#[test]
fn missing_module_exits_4() {
    assert_load_failure("no_such_module_here:application", &["no_such_module_here"]);
}

#[test]
fn missing_attribute_exits_4() {
    assert_load_failure("no_callable:application", &["application"]);
}

#[test]
fn default_callable_missing_exits_4() {
    assert_load_failure("no_callable", &[]);
}

#[test]
fn non_callable_exits_4() {
    assert_load_failure("not_callable:application", &[]);
}

#[test]
fn exception_at_import_exits_4_with_traceback() {
    let stderr = assert_load_failure("boom_at_import", &["Traceback", "boom-at-import"]);
    // One failure, not a respawn loop: the traceback is not repeated endlessly.
    assert!(stderr.matches("boom-at-import").count() <= 8, "{stderr}");
}

#[test]
fn app_spec_defaults_to_application() {
    let server = Server::app("hello");
    assert_eq!(get(&server.addr, "/").text(), "Hello, world!\n");
    let server = Server::app("hello:application");
    assert_eq!(get(&server.addr, "/").text(), "Hello, world!\n");
}

/// A python path folder with a package `pkg.inner` and a module `uses_helper` that imports
/// `helper` from a second folder.
fn two_python_dirs() -> (PathBuf, PathBuf) {
    let base = tmpdir("pypath");
    let first = base.join("first");
    let second = base.join("second");
    fs::create_dir_all(first.join("pkg")).unwrap();
    fs::create_dir_all(&second).unwrap();
    fs::write(first.join("pkg").join("__init__.py"), "").unwrap();
    fs::write(
        first.join("pkg").join("inner.py"),
        "def app(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [b'dotted module']\n",
    )
    .unwrap();
    fs::write(
        first.join("uses_helper.py"),
        "import helper\n\n\
         def application(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [helper.VALUE.encode()]\n",
    )
    .unwrap();
    fs::write(second.join("helper.py"), "VALUE = 'from the second path'\n").unwrap();
    (first, second)
}

#[test]
fn dotted_module_path_is_importable() {
    let (first, _second) = two_python_dirs();
    let server = Server::start(&["--pythonpath", &s(&first), "pkg.inner:app"]);
    assert_eq!(get(&server.addr, "/").text(), "dotted module");
}

#[test]
fn pythonpath_is_repeatable() {
    let (first, second) = two_python_dirs();
    let server = Server::start(&[
        "--pythonpath",
        &s(&first),
        "--pythonpath",
        &s(&second),
        "uses_helper",
    ]);
    assert_eq!(get(&server.addr, "/").text(), "from the second path");
}

#[test]
fn chdir_sets_the_app_working_directory() {
    let dir = tmpdir("chdir");
    let server = Server::start(&["--chdir", &s(&dir), "--pythonpath", &apps_dir(), "sysinfo"]);
    let info = get(&server.addr, "/").json();
    assert_eq!(
        Path::new(info.at("cwd").str()).canonicalize().unwrap(),
        dir.canonicalize().unwrap()
    );
}

/// `python3 -m venv --without-pip DIR` with a package `pyrite_venv_probe` dropped into its
/// site-packages. None if python3 cannot make a venv here.
fn make_venv() -> Option<PathBuf> {
    let venv = tmpdir("venv").join("env");
    let status = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .env_remove("VIRTUAL_ENV")
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let lib = venv.join("lib");
    let pydir = fs::read_dir(&lib)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))?;
    let probe = pydir.path().join("site-packages").join("pyrite_venv_probe");
    fs::create_dir_all(&probe).unwrap();
    fs::write(
        probe.join("__init__.py"),
        "VALUE = 'imported from the venv'\n",
    )
    .unwrap();
    Some(venv)
}

fn venv_app_dir() -> PathBuf {
    let dir = tmpdir("venv-app");
    fs::write(
        dir.join("venv_app.py"),
        "import sys\nimport pyrite_venv_probe\n\n\
         def application(environ, start_response):\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [('%s|%s' % (pyrite_venv_probe.VALUE, sys.prefix)).encode()]\n",
    )
    .unwrap();
    dir
}

fn check_venv_response(addr: &str, venv: &Path) {
    let r = get(addr, "/");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let (value, prefix) = text.split_once('|').unwrap();
    assert_eq!(value, "imported from the venv");
    assert_eq!(
        Path::new(prefix).canonicalize().unwrap(),
        venv.canonicalize().unwrap(),
        "sys.prefix should be the venv"
    );
}

#[test]
fn venv_flag_makes_site_packages_importable() {
    let venv = make_venv().expect("python3 -m venv failed");
    let app = venv_app_dir();
    let server = Server::start(&["--venv", &s(&venv), "--pythonpath", &s(&app), "venv_app"]);
    check_venv_response(&server.addr, &venv);
}

#[test]
fn virtual_env_variable_is_honoured() {
    let venv = make_venv().expect("python3 -m venv failed");
    let app = venv_app_dir();
    let server = pyrite()
        .env("VIRTUAL_ENV", s(&venv))
        .args(&["--pythonpath", &s(&app), "venv_app"])
        .start();
    check_venv_response(&server.addr, &venv);
}

#[test]
fn app_without_venv_cannot_see_venv_package() {
    let app = venv_app_dir();
    let out = pyrite()
        .args(&["--pythonpath", &s(&app), "venv_app"])
        .run_to_exit(FAIL_BOUND);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(out.stderr.contains("pyrite_venv_probe"), "{}", out.stderr);
}

#[test]
fn venv_of_another_python_version_exits_2() {
    let venv = tmpdir("fake-venv");
    fs::create_dir_all(venv.join("bin")).unwrap();
    fs::create_dir_all(venv.join("lib").join("python3.9").join("site-packages")).unwrap();
    fs::write(
        venv.join("pyvenv.cfg"),
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.9.1\n",
    )
    .unwrap();
    let out = pyrite()
        .args(&["--venv", &s(&venv), "--pythonpath", &apps_dir(), "hello"])
        .run_to_exit(FAIL_BOUND);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--venv"), "{}", out.stderr);
}

#[test]
fn unix_socket_bind_serves_and_is_removed_on_stop() {
    let dir = tmpdir("unix");
    let sock = dir.join("p.sock");
    let mut server = pyrite()
        .args(&["-b", &format!("unix:{}", s(&sock))])
        .args(&["--pythonpath", &apps_dir(), "hello"])
        .start();
    assert_eq!(server.unix_path().as_deref(), Some(sock.as_path()));
    let mut conn = Conn::connect_unix(&sock);
    for _ in 0..3 {
        let r = conn.get("/");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, world!\n");
    }
    drop(conn);
    assert_eq!(server.terminate().and_then(|st| st.code()), Some(0));
    assert!(!sock.exists(), "socket file left behind after SIGTERM");
}

#[test]
fn tcp_and_unix_binds_together() {
    let dir = tmpdir("both");
    let sock = dir.join("b.sock");
    let server = pyrite()
        .args(&["-b", "127.0.0.1:0", "-b", &format!("unix:{}", s(&sock))])
        .args(&["--pythonpath", &apps_dir(), "hello"])
        .start();
    assert_eq!(server.addrs.len(), 2, "{:?}", server.addrs);
    assert!(server.addr.starts_with("127.0.0.1:"));
    assert_eq!(get(&server.addr, "/").status, 200);
    assert_eq!(Conn::connect_unix(&sock).get("/").status, 200);
}

#[test]
fn ipv6_loopback_bind() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    }
    let server = pyrite()
        .args(&["-b", "[::1]:0", "--pythonpath", &apps_dir(), "environ_dump"])
        .start();
    assert!(server.addr.starts_with("[::1]:"), "{}", server.addr);
    let r = get(&server.addr, "/v6");
    assert_eq!(r.status, 200);
    let env = r.json();
    assert_eq!(env.at("environ").at("REMOTE_ADDR").at("value").str(), "::1");
}
