//! Process hygiene: `--pid`, `--user`/`--group`, `--umask`, process titles, and listening
//! sockets handed in by the parent (`--bind fd://N`, systemd socket activation).

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::{answering_pid, get_json, num, supervised};
use crate::support::process::{
    clear_cloexec, cmdline, group_id, is_root, ppid_of, read_pid_file, user_ids,
};
use crate::support::{apps_dir, pid_alive, pyrite, tmpdir, Value, LISTENING, WAIT};

#[test]
fn pid_file_holds_the_master_pid_and_is_removed_on_exit() {
    let dir = tmpdir("pidfile");
    let pid_file = dir.join("run").join("pyrite.pid");
    std::fs::create_dir_all(pid_file.parent().unwrap()).unwrap();
    let mut server = pyrite()
        .args(&[
            "--pid",
            pid_file.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    assert_eq!(read_pid_file(&pid_file), Some(server.pid()));
    let status = server.terminate().expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(!pid_file.exists(), "pid file left behind");
}

#[test]
fn pid_file_is_not_written_when_the_bind_fails() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tmpdir("pidfile-nobind");
    let pid_file = dir.join("pyrite.pid");
    let exited = pyrite()
        .args(&[
            "-b",
            &addr,
            "--pid",
            pid_file.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .run_to_exit(WAIT);
    assert!(
        exited.code.is_some_and(|c| c != 0),
        "binding a taken port did not fail: {:?}\n{}",
        exited.code,
        exited.stderr
    );
    assert!(
        !pid_file.exists(),
        "pid file written although nothing was bound"
    );
}

#[test]
fn workers_are_distinct_children_with_process_titles() {
    let server = supervised("2");
    let master = cmdline(server.pid());
    assert!(master.starts_with("pyrite: master ["), "master: {master:?}");
    let pids = server.worker_pids();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_ne!(pids[0], pids[1]);
    for &pid in &pids {
        let title = cmdline(pid);
        assert!(
            title.starts_with("pyrite: worker ["),
            "worker {pid}: {title:?}"
        );
        assert_eq!(ppid_of(pid), Some(server.pid()));
        assert!(pid_alive(pid));
        assert_ne!(pid, server.pid());
    }
    let app_pid = answering_pid(&server.addr);
    assert!(
        pids.contains(&app_pid),
        "app ran in pid {app_pid}, workers {pids:?}"
    );
}

#[test]
fn umask_applies_to_files_the_app_creates() {
    let dir = tmpdir("umask");
    let target = dir.join("created.txt");
    let server = pyrite()
        .args(&["--umask", "077", "--pythonpath", &apps_dir(), "supervised"])
        .start();
    let info = get_json(
        &server.addr,
        &format!("/touch?path={}", target.to_str().unwrap()),
    );
    assert_eq!(num(&info, "umask"), 0o077, "{info:?}");
    assert_eq!(num(&info, "mode"), 0o600, "{info:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// The Python installation must be readable by `nobody` for a worker that starts Python after
/// dropping privileges; find out from a normal server where it lives.
fn python_readable_by_others() -> bool {
    let server = pyrite()
        .args(&["--pythonpath", &apps_dir(), "sysinfo"])
        .start();
    let info = get_json(&server.addr, "/");
    readable_by_others(Path::new(info.at("base_prefix").str()))
}

fn apps_readable_by_others() -> bool {
    readable_by_others(Path::new(&apps_dir()))
}

/// Whether `path` and every directory above it can be read (and entered) by any user.
fn readable_by_others(mut path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    loop {
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o005 == 0o005 => {}
            _ => return false,
        }
        match path.parent() {
            Some(parent) => path = parent,
            None => return true,
        }
    }
}

fn check_runs_as(extra: &[&str], want_uid: u32, want_gid: u32) {
    let mut args = vec!["-w", "2"];
    args.extend_from_slice(extra);
    let apps = apps_dir();
    args.extend_from_slice(&["--pythonpath", &apps, "supervised"]);
    let server = pyrite().args(&args).start();
    for _ in 0..4 {
        let info = get_json(&server.addr, "/");
        assert_eq!(num(&info, "uid") as u32, want_uid, "{info:?}");
        assert_eq!(num(&info, "euid") as u32, want_uid, "{info:?}");
        assert_eq!(num(&info, "gid") as u32, want_gid, "{info:?}");
        assert_eq!(num(&info, "egid") as u32, want_gid, "{info:?}");
        let groups = info.at("groups").arr();
        assert!(
            !groups.contains(&Value::Num(0.0)) || want_gid == 0,
            "root's group kept as a supplementary group: {info:?}"
        );
    }
    // The master itself stays privileged (it binds, and it must signal the workers).
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")),
        "{status}"
    );
}

#[test]
fn user_nobody_runs_preloaded_workers_as_nobody() {
    if !is_root() {
        eprintln!("skipped: --user needs root");
        return;
    }
    let (uid, gid) = user_ids("nobody").expect("no user nobody");
    if !apps_readable_by_others() {
        eprintln!("skipped: tests/apps is not readable by nobody");
        return;
    }
    // With --preload Python and the app are loaded before privileges are dropped.
    check_runs_as(&["--preload", "--user", "nobody"], uid, gid);
}

#[test]
fn user_nobody_runs_workers_as_nobody() {
    if !is_root() {
        eprintln!("skipped: --user needs root");
        return;
    }
    let (uid, gid) = user_ids("nobody").expect("no user nobody");
    if !python_readable_by_others() || !apps_readable_by_others() {
        eprintln!("skipped: the Python installation or tests/apps is not readable by nobody");
        return;
    }
    check_runs_as(&["--user", "nobody"], uid, gid);
}

#[test]
fn group_flag_sets_the_workers_gid() {
    if !is_root() {
        eprintln!("skipped: --group needs root");
        return;
    }
    let (uid, primary) = user_ids("nobody").expect("no user nobody");
    // A group other than nobody's primary one, so the flag visibly takes effect.
    let Some((name, gid)) = ["daemon", "bin", "sys", "adm", "nogroup"]
        .iter()
        .find_map(|g| {
            group_id(g)
                .filter(|&id| id != primary && id != 0)
                .map(|id| (*g, id))
        })
    else {
        eprintln!("skipped: no suitable group");
        return;
    };
    if !apps_readable_by_others() {
        eprintln!("skipped: tests/apps is not readable by nobody");
        return;
    }
    check_runs_as(
        &["--preload", "--user", "nobody", "--group", name],
        uid,
        gid,
    );
}

#[test]
fn bind_fd_serves_on_an_inherited_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let fd = listener.as_raw_fd();
    clear_cloexec(fd);
    let server = pyrite()
        .args(&[
            "-b",
            &format!("fd://{fd}"),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    assert_eq!(server.addr, addr, "logged {:?}", server.addrs);
    for _ in 0..3 {
        let info = get_json(&addr, "/");
        assert!(server.worker_pids().contains(&(num(&info, "pid") as i32)));
    }
    drop(listener);
    // Still served once the test's own copy is closed.
    let info = get_json(&addr, "/");
    assert!(server.worker_pids().contains(&(num(&info, "pid") as i32)));
}

#[test]
fn systemd_socket_activation_serves_on_fd_3() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let fd = listener.as_raw_fd();
    // The shell becomes pyrite (exec), so its $$ is pyrite's pid, as LISTEN_PID must be.
    let server = pyrite()
        .launched_by(
            "sh",
            &[
                "-c",
                "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"",
            ],
        )
        .pre_exec(move || {
            // SAFETY: dup2/fcntl are async-signal-safe; `fd` is open in the child.
            unsafe {
                if fd == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, 3) != 3 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        })
        .args(&["-w", "2"])
        .app("supervised")
        .start();
    let err = server.stderr();
    let listening: Vec<&str> = err.lines().filter(|l| l.contains(LISTENING)).collect();
    assert_eq!(listening.len(), 1, "{err}");
    assert!(listening[0].contains(&addr), "{err}");
    assert_eq!(server.addr, addr, "{err}");
    drop(listener);
    for _ in 0..4 {
        let info = get_json(&addr, "/");
        assert_eq!(num(&info, "ppid") as i32, server.pid(), "{info:?}");
    }
    assert!(pid_alive(server.pid()));
}
