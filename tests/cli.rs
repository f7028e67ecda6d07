//! The command line: flags and their PYRITE_* twins, exit codes (2 bad usage, 4 app cannot be
//! loaded), APP spec forms, python path / chdir / venv, and the kinds of bind address.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    app_path, apps_dir, get, manifest_dir, pyrite, tmpdir, Conn, Server, BOOTED, WAIT,
};

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

/// Every kind of bad usage, from every feature: an unknown flag, a flag value that does not
/// parse or is out of range, the same through a `PYRITE_*` variable. Each is one line on
/// stderr naming the flag (or its variable), exit code 2, and no worker booted.
#[test]
fn bad_flags_and_env_values_exit_2_with_one_line_naming_them() {
    let apps = apps_dir();
    let docroot = s(&manifest_dir());
    let app = |app: &'static str| vec!["--pythonpath".to_string(), apps.clone(), app.into()];
    let hello = || app("hello");
    let flag = |flag: &str, value: &str| vec![flag.to_string(), value.to_string()];
    let with = |mut a: Vec<String>, b: Vec<String>| {
        a.extend(b);
        a
    };
    let files = |a: Vec<String>| with(a, flag("--docroot", &docroot));
    // (args, environment, the names stderr may use, `|`-separated)
    type Case<'a> = (Vec<String>, Option<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--no-such-flag".into()], None, "--no-such-flag"),
        (with(flag("-w", "abc"), hello()), None, "--workers"),
        (with(flag("-w", "0"), hello()), None, "--workers"),
        (with(flag("-b", "not an address"), hello()), None, "--bind"),
        (with(flag("-b", "127.0.0.1:99999"), hello()), None, "--bind"),
        (
            with(flag("--graceful-timeout", "soon"), hello()),
            None,
            "--graceful-timeout",
        ),
        (
            with(vec!["--limit-request-body=lots".into()], hello()),
            None,
            "--limit-request-body",
        ),
        (
            with(flag("--static", "no-equals-sign"), hello()),
            None,
            "--static",
        ),
        (
            with(flag("-b", "127.0.0.1:0"), hello()),
            Some(("PYRITE_WORKERS", "many")),
            "--workers|PYRITE_WORKERS",
        ),
        (
            files(flag("--limit-request-fields", "40000")),
            None,
            "--limit-request-fields",
        ),
        (
            files(flag("--limit-request-line", "lots")),
            None,
            "--limit-request-line",
        ),
        (
            files(flag("--header-timeout", "soon")),
            None,
            "--header-timeout",
        ),
        (
            files(flag("--max-connections", "0")),
            None,
            "--max-connections",
        ),
        (
            files(flag("--forwarded-allow-ips", "10.0.0.0/99")),
            None,
            "--forwarded-allow-ips",
        ),
        (
            files(flag("--static-max-age", "soon")),
            None,
            "--static-max-age",
        ),
        (
            files(flag("--static-max-age", "99999999999")),
            None,
            "--static-max-age",
        ),
        (
            files(vec![]),
            Some(("PYRITE_STATIC_MAX_AGE", "-1")),
            "--static-max-age|PYRITE_STATIC_MAX_AGE",
        ),
        (
            files(vec![]),
            Some(("PYRITE_STATIC_DOTFILES", "maybe")),
            "--static-dotfiles|PYRITE_STATIC_DOTFILES",
        ),
        (
            files(vec![]),
            Some(("PYRITE_STATIC_AUTOINDEX", "2")),
            "--static-autoindex|PYRITE_STATIC_AUTOINDEX",
        ),
        (
            files(flag("--access-logformat", "%(h)s %(s")),
            None,
            "--access-logformat",
        ),
        (
            with(flag("--threads", "0"), app("pooled")),
            None,
            "--threads",
        ),
        (
            with(flag("--script-name", "nope"), app("pep_corners")),
            None,
            "--script-name",
        ),
        (
            with(vec!["--drain-timeout=-1".into()], hello()),
            None,
            "--drain-timeout",
        ),
        (
            with(flag("--drain-timeout", "soon"), hello()),
            None,
            "--drain-timeout",
        ),
        (
            with(flag("--health-path", "healthz"), hello()),
            None,
            "--health-path",
        ),
        (
            with(flag("--health-path", "/health?x"), hello()),
            None,
            "--health-path",
        ),
    ];
    for (args, env, names) in cases {
        let mut builder = pyrite().args(&args);
        if let Some((key, value)) = env {
            builder = builder.env(key, value);
        }
        let out = builder.run_to_exit(WAIT);
        let what = format!("{args:?} {env:?}");
        assert_eq!(out.code, Some(2), "{what} → {:?}\n{}", out.code, out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{what}: {}",
            out.stderr
        );
        assert!(
            names.split('|').any(|name| out.stderr.contains(name)),
            "{what}: stderr does not name {names}:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains(BOOTED), "{what} booted a worker");
    }
}

/// Counts beyond what the master supervises or the machine allows, and log files that cannot
/// be written, are refused at start-up — not accepted and found out later (a fork that fails,
/// logs silently lost). One line naming the flag, exit code 2, no worker booted.
#[test]
fn absurd_counts_and_unwritable_log_files_exit_2() {
    let root = s(&manifest_dir());
    let missing = tmpdir("no-log-dir").join("missing/dir");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["-w".into(), "100000".into()], "--workers"),
        (vec!["-w".into(), "4294967296".into()], "--workers"),
        (vec!["--threads".into(), "100000".into()], "--threads"),
        (
            vec!["-w".into(), "512".into(), "--threads".into(), "1024".into()],
            "this machine allows",
        ),
        (
            vec!["--max-connections".into(), u64::MAX.to_string()],
            "--max-connections",
        ),
        (
            vec!["--access-logfile".into(), s(&missing.join("access.log"))],
            "--access-logfile",
        ),
        (
            vec!["--error-logfile".into(), s(&missing.join("error.log"))],
            "--error-logfile",
        ),
    ];
    for (args, names) in cases {
        let out = pyrite()
            .args(&["--docroot", &root])
            .args(&args)
            .run_to_exit(WAIT);
        assert_eq!(
            out.code,
            Some(2),
            "{args:?} → {:?}\n{}",
            out.code,
            out.stderr
        );
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(names), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains(BOOTED), "{args:?} booted a worker");
    }
    assert!(!missing.exists(), "no directory is created for a log file");
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
    let out = pyrite().args(&["-w", "2"]).app(app).run_to_exit(FAIL_BOUND);
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
fn exception_at_import_exits_4_promptly_with_a_traceback() {
    let started = Instant::now();
    let stderr = assert_load_failure("boom_at_import", &["Traceback", "boom-at-import"]);
    // One failure, not a respawn loop: the master stops at once and the traceback is not
    // repeated endlessly.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(stderr.matches("boom-at-import").count() <= 8, "{stderr}");
}

#[test]
fn app_spec_defaults_to_application() {
    let server = Server::app("hello");
    assert_eq!(get(&server.addr, "/").text(), "Hello, world!\n");
    let server = Server::app("hello:application");
    assert_eq!(get(&server.addr, "/").text(), "Hello, world!\n");
}

/// `tests/apps/paths/first` holds a package `pkg.inner` and a module `uses_helper` that
/// imports `helper` from `tests/apps/paths/second`.
fn python_dirs() -> (String, String) {
    (s(&app_path("paths/first")), s(&app_path("paths/second")))
}

#[test]
fn dotted_module_path_is_importable() {
    let (first, _second) = python_dirs();
    let server = Server::start(&["--pythonpath", &first, "pkg.inner:app"]);
    assert_eq!(get(&server.addr, "/").text(), "dotted module");
}

#[test]
fn pythonpath_is_repeatable() {
    let (first, second) = python_dirs();
    let server = Server::start(&[
        "--pythonpath",
        &first,
        "--pythonpath",
        &second,
        "uses_helper",
    ]);
    assert_eq!(get(&server.addr, "/").text(), "from the second path");
}

#[test]
fn chdir_sets_the_app_working_directory() {
    let dir = tmpdir("chdir");
    let server = pyrite().args(&["--chdir", &s(&dir)]).app("sysinfo").start();
    let info = get(&server.addr, "/").json();
    assert_eq!(
        Path::new(info.at("cwd").str()).canonicalize().unwrap(),
        dir.canonicalize().unwrap()
    );
}

/// `python3 -m venv --without-pip DIR` with the package in `tests/apps/venv_probe/site-packages`
/// copied into its site-packages. None if python3 cannot make a venv here.
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
    let pydir = fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))?;
    let probe = pydir.path().join("site-packages").join("pyrite_venv_probe");
    fs::create_dir_all(&probe).unwrap();
    fs::copy(
        app_path("venv_probe/site-packages/pyrite_venv_probe/__init__.py"),
        probe.join("__init__.py"),
    )
    .unwrap();
    Some(venv)
}

/// The folder of `venv_app.py`, which imports the package only the venv has.
fn venv_app_dir() -> String {
    s(&app_path("venv_probe"))
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
    let server = Server::start(&[
        "--venv",
        &s(&venv),
        "--pythonpath",
        &venv_app_dir(),
        "venv_app",
    ]);
    check_venv_response(&server.addr, &venv);
}

#[test]
fn virtual_env_variable_is_honoured() {
    let venv = make_venv().expect("python3 -m venv failed");
    let server = pyrite()
        .env("VIRTUAL_ENV", s(&venv))
        .args(&["--pythonpath", &venv_app_dir(), "venv_app"])
        .start();
    check_venv_response(&server.addr, &venv);
}

#[test]
fn app_without_venv_cannot_see_venv_package() {
    let out = pyrite()
        .args(&["--pythonpath", &venv_app_dir(), "venv_app"])
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
        .args(&["--venv", &s(&venv)])
        .app("hello")
        .run_to_exit(FAIL_BOUND);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--venv"), "{}", out.stderr);
}

#[test]
fn unix_socket_bind_serves_and_is_removed_on_stop() {
    let sock = tmpdir("unix").join("p.sock");
    let mut server = pyrite()
        .args(&["-b", &format!("unix:{}", s(&sock))])
        .app("hello")
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
    let sock = tmpdir("both").join("b.sock");
    let server = pyrite()
        .args(&["-b", "127.0.0.1:0", "-b", &format!("unix:{}", s(&sock))])
        .app("hello")
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
        .args(&["-b", "[::1]:0"])
        .app("environ_dump")
        .start();
    assert!(server.addr.starts_with("[::1]:"), "{}", server.addr);
    let r = get(&server.addr, "/v6");
    assert_eq!(r.status, 200);
    let env = r.json();
    assert_eq!(env.at("environ").at("REMOTE_ADDR").at("value").str(), "::1");
}
