//! Flask, Django, Bottle, Falcon and Pyramid, unmodified, from the venv `scripts/test` creates
//! (`target/pyenv`, pinned versions in `scripts/pyenv`). Each app in `tests/apps/fw_*` answers
//! the same routes; `tests/apps/fw_client.py` (run with the venv's Python and `requests`) checks
//! routing, query arguments, forms, a 5 MiB multipart upload, JSON, cookies, a session, a
//! redirect, a streamed response, the framework's own 404 and 500, and non-ASCII paths — once
//! against the app and once against it wrapped in `wsgiref.validate.validator`, which must
//! stay silent. Django also migrates into SQLite, logs into its admin with the CSRF token and
//! gets the admin's static files from pyrite's `--static`.
//!
//! `PYRITE_TEST_BIN=/path/to/pyrite` runs these against another build of pyrite (e.g. the
//! console script of a pip-installed wheel), and `PYRITE_TEST_VENV` takes the frameworks from
//! another venv (the one that wheel is installed in, as `scripts/test-wheels` does):
//! `cargo nextest run -E 'test(/^frameworks::/)'`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{apps_dir, manifest_dir, pyrite, tmpdir, Server};

/// The framework venv (`PYRITE_TEST_VENV`, where `scripts/test-wheels` installed the wheel
/// beside the frameworks, or `target/pyenv`); a missing one fails the test with what to run.
fn venv() -> PathBuf {
    if let Some(venv) = std::env::var_os("PYRITE_TEST_VENV") {
        return PathBuf::from(venv);
    }
    let venv = manifest_dir().join("target").join("pyenv");
    if !venv.join("bin/python").exists() || !venv.join(".pyrite-pins").exists() {
        panic!(
            "the framework venv {} is missing or incomplete: run `scripts/test` (or just \
             `scripts/pyenv`), which creates it with the pinned Flask, Django, Bottle, Falcon, \
             Pyramid and requests",
            venv.display()
        );
    }
    venv
}

fn python(venv: &Path) -> Command {
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.env("PYTHONPATH", apps_dir()).env_remove("VIRTUAL_ENV");
    cmd
}

/// Runs the checks of `fw_client.py` against `server`; returns how many passed.
fn run_client(venv: &Path, framework: &str, server: &Server, extra: &[&str]) -> usize {
    let client = Path::new(&apps_dir()).join("fw_client.py");
    let out = python(venv)
        .arg(client)
        .arg(framework)
        .arg(format!("http://{}", server.addr))
        .args(extra)
        .output()
        .expect("running fw_client.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{framework}: checks failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", stdout.lines().next().unwrap_or_default());
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks passed: "))
        .and_then(|n| n.parse().ok())
        .expect("fw_client.py printed no count")
}

/// wsgiref.validate reports through warnings (printed to stderr) or AssertionError (an app
/// exception in pyrite's log); an iterable never closed is a warning too.
fn assert_validator_silent(server: &Server, app: &str) {
    let log = server.stderr();
    for bad in [
        "WSGIWarning",
        "AssertionError",
        "without being closed",
        "Warning:",
    ] {
        assert!(!log.contains(bad), "{app}: the log shows {bad:?}:\n{log}");
    }
}

/// The app plain and wrapped in the validator; returns the checks run in all.
fn check_framework(
    framework: &str,
    module: &str,
    extra_args: &[&str],
    env: &[(&str, &str)],
    client_extra: &[&str],
) -> usize {
    let venv = venv();
    let mut total = 0;
    for app in [
        format!("{module}:application"),
        format!("{module}:validated"),
    ] {
        let mut builder = pyrite()
            .arg("--venv")
            .arg(venv.to_string_lossy())
            .args(&["--pythonpath", &apps_dir()])
            .args(extra_args)
            .arg(&app);
        for (k, v) in env {
            builder = builder.env(k, v);
        }
        let server = builder.start();
        let n = run_client(&venv, framework, &server, client_extra);
        assert_validator_silent(&server, &app);
        eprintln!("{framework} ({app}): {n} checks passed");
        total += n;
    }
    total
}

#[test]
fn flask() {
    check_framework("flask", "fw_flask", &[], &[], &[]);
}

#[test]
fn bottle() {
    check_framework("bottle", "fw_bottle", &[], &[], &[]);
}

#[test]
fn falcon() {
    check_framework("falcon", "fw_falcon", &[], &[], &[]);
}

#[test]
fn pyramid() {
    check_framework("pyramid", "fw_pyramid", &[], &[], &[]);
}

#[test]
fn django_with_its_admin() {
    let venv = venv();
    let dir = tmpdir("django");
    let db = dir.join("db.sqlite3").to_string_lossy().into_owned();
    let static_root = dir.join("static").to_string_lossy().into_owned();
    let env = [
        ("FW_DJANGO_DB", db.as_str()),
        ("FW_DJANGO_STATIC", static_root.as_str()),
    ];
    let manage = Path::new(&apps_dir()).join("fw_django").join("manage.py");
    for command in [
        vec!["migrate", "--noinput"],
        vec![
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
        vec!["collectstatic", "--noinput"],
    ] {
        let out = python(&venv)
            .arg(&manage)
            .args(&command)
            .envs(env)
            .env("DJANGO_SUPERUSER_PASSWORD", "pyrite-admin-pw")
            .output()
            .expect("running manage.py");
        assert!(
            out.status.success(),
            "manage.py {command:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mount = format!("/static={static_root}");
    check_framework(
        "django",
        "fw_django.wsgi",
        &["--static", &mount],
        &env,
        &["--admin", &static_root],
    );
}
