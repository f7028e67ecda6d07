//! The command-line forms gunicorn users type, each with gunicorn's meaning: the short flags
//! `-t -p -u -g -m -n -e -c`, `-b HOST` (port 8000), `WEB_CONCURRENCY`, `--backlog`,
//! `--reuse-port`, `-n` in the process titles, `--reload-extra-file`, `SERVER_SOFTWARE`.

use std::process::Command;
use std::time::Duration;

use crate::support::process::cmdline;
use crate::support::{eventually, get, pyrite, tmpdir, BOOTED, LONG_WAIT, WAIT};

/// `--print-config`'s line for `name`.
fn effective(args: &[&str], envs: &[(&str, &str)], name: &str) -> String {
    let mut builder = pyrite()
        .without_defaults(1)
        .args(args)
        .arg("--print-config");
    for (k, v) in envs {
        builder = builder.env(k, v);
    }
    let out = builder.run_to_exit(WAIT);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name} =")))
        .unwrap_or_else(|| panic!("no {name} in:\n{}", out.stdout))
        .to_owned()
}

#[test]
fn short_flags_mean_what_they_mean_in_gunicorn() {
    let dir = tmpdir("short-flags");
    let pid = dir.join("p.pid");
    let args = [
        "-t",
        "7",
        "-p",
        pid.to_str().unwrap(),
        "-u",
        "0",
        "-g",
        "0",
        "-m",
        "027",
        "-n",
        "shop",
        "-e",
        "A=1",
        "-e",
        "B=x=y",
        "--docroot",
        ".",
    ];
    for (name, want) in [
        ("timeout", "timeout = 7  # command line"),
        ("user", "user = 0  # command line"),
        ("group", "group = 0  # command line"),
        ("umask", "umask = \"027\"  # command line"),
        ("name", "name = \"shop\"  # command line"),
        ("env", "env = [\"A=1\", \"B=x=y\"]  # command line"),
    ] {
        assert_eq!(effective(&args, &[], name), want);
    }
    assert!(effective(&args, &[], "pid").contains("p.pid"));
    for bad in [&["-e", "NOEQUALS"][..], &["-e", "=v"], &["--backlog", "0"]] {
        let out = pyrite()
            .args(bad)
            .args(&["--docroot", "."])
            .run_to_exit(WAIT);
        assert_eq!(out.code, Some(2), "{bad:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn env_flag_reaches_the_app_and_server_software_is_set() {
    let server = pyrite()
        .args(&["-e", "PYRITE_TEST_GREETING=hello there"])
        .app("ops_app")
        .start();
    assert_eq!(
        get(&server.addr, "/env?PYRITE_TEST_GREETING").text(),
        "hello there"
    );
    let software = get(&server.addr, "/environ?SERVER_SOFTWARE").text();
    assert_eq!(software, format!("pyrite/{}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bind_host_alone_means_port_8000() {
    // A loopback address of its own, so port 8000 is free whatever else runs here.
    let server = pyrite().args(&["-b", "127.0.0.86"]).app("ops_app").start();
    assert_eq!(server.addr, "127.0.0.86:8000");
    assert_eq!(get(&server.addr, "/").status, 200);
    assert!(effective(&["-b", ":9123", "--docroot", "."], &[], "bind").contains(":9123"));
}

#[test]
fn web_concurrency_is_the_default_worker_count() {
    let server = pyrite()
        .without_defaults(2)
        .args(&["-b", "127.0.0.1:0", "--docroot", "."])
        .env("WEB_CONCURRENCY", "2")
        .start();
    assert_eq!(server.worker_pids().len(), 2);
    let line = effective(&["--docroot", "."], &[("WEB_CONCURRENCY", "3")], "workers");
    assert_eq!(line, "workers = 3  # environment (WEB_CONCURRENCY)");
    let line = effective(
        &["-w", "2", "--docroot", "."],
        &[("WEB_CONCURRENCY", "3")],
        "workers",
    );
    assert_eq!(line, "workers = 2  # command line");
    let out = pyrite()
        .without_defaults(1)
        .args(&["--docroot", ".", "--print-config"])
        .env("WEB_CONCURRENCY", "lots")
        .run_to_exit(WAIT);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("WEB_CONCURRENCY"), "{}", out.stderr);
}

/// The listen queue length shows as Send-Q of the listening socket in `ss`.
#[test]
fn backlog_sets_the_listen_queue_and_reuse_port_shares_a_port() {
    let server = pyrite()
        .args(&["--backlog", "77", "--docroot", "."])
        .start();
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let ss = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&ss.stdout).into_owned();
    let send_q: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(send_q.get(2), Some(&"77"), "ss: {text}");

    let first = pyrite().args(&["--reuse-port", "--docroot", "."]).start();
    let addr = first.addr.clone();
    let second = pyrite()
        .args(&["-b", &addr, "--reuse-port", "--docroot", "."])
        .start();
    assert_eq!(second.addr, addr);
    let refused = pyrite()
        .args(&["-b", &addr, "--docroot", "."])
        .run_to_exit(WAIT);
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
}

#[test]
fn name_shows_in_the_process_titles() {
    let server = pyrite().args(&["-n", "shopfront"]).app("ops_app").start();
    assert!(cmdline(server.pid()).contains("pyrite: master [shopfront]"));
    let worker = server.worker_pids()[0];
    assert!(
        eventually(WAIT, || cmdline(worker)
            .contains("pyrite: worker [shopfront]")),
        "{}",
        cmdline(worker)
    );
}

#[test]
fn reload_extra_file_restarts_the_workers_when_it_changes() {
    let dir = tmpdir("reload-extra");
    let extra = dir.join("settings.ini");
    std::fs::write(&extra, "one\n").unwrap();
    let server = pyrite()
        .args(&["--reload", "--reload-extra-file", extra.to_str().unwrap()])
        .app("ops_app")
        .start();
    // Written again until the reload shows: the watcher is a process of its own, and nothing
    // says when its watches are in place.
    let mut edits = 0;
    let reloaded = eventually(LONG_WAIT, || {
        edits += 1;
        std::fs::write(&extra, format!("edit {edits}\n")).unwrap();
        server.wait_for_stderr(BOOTED, 2, Duration::from_millis(500))
    });
    assert!(
        reloaded,
        "no reload after {} changed:\n{}",
        extra.display(),
        server.stderr()
    );
    assert_eq!(get(&server.addr, "/").status, 200);
}
