//! Processes seen from outside: signals, liveness, `/proc` readings (parent, title, memory),
//! pid files and user ids. The suites use these to check what the master did to its workers
//! without trusting the master's own log.

use std::path::Path;
use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

/// Sends `sig` to `pid` (never to a process group: `pid` must be positive).
pub fn kill(pid: i32, sig: i32) {
    assert!(pid > 0, "refusing to signal pid {pid}");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one the test started.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    // The state follows the parenthesised command name.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit(')').next().map(str::trim_start),
            Some(s) if s.starts_with('Z') || s.starts_with('X')
        )
    })
}

/// Polls `check` (bounded) until it returns true: for states no log line announces.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Polls (bounded) until `pid` is gone.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    eventually(timeout, || !pid_alive(pid))
}

/// Waits (bounded) for `child` to exit, remembering its status in `status` (a child is reaped
/// once); `None` if it is still running after `timeout`.
pub fn wait_exit(
    child: &mut Child,
    status: &mut Option<ExitStatus>,
    timeout: Duration,
) -> Option<ExitStatus> {
    if status.is_none() {
        eventually(timeout, || {
            *status = child.try_wait().ok().flatten();
            status.is_some()
        });
    }
    *status
}

/// SIGTERM, then SIGKILL if it lingers, for a process the test did not spawn itself (a
/// re-executed master), when dropped.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 && pid_alive(self.0) {
            kill(self.0, libc::SIGTERM);
            if !wait_pid_gone(self.0, Duration::from_secs(5)) {
                kill(self.0, libc::SIGKILL);
            }
        }
    }
}

/// `/proc/PID/cmdline` with NULs shown as spaces (the process title).
pub fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// The parent pid, from `/proc/PID/stat`.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The pids whose parent is `pid`, from `/proc`.
pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&child| ppid_of(child) == Some(pid))
        .collect()
}

/// A `KEY:  N kB` field of a `/proc/PID/<file>` (`status`, `smaps_rollup`), in KiB.
pub fn proc_kib(pid: i32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/{file}: {e}"));
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/{file}:\n{text}"))
}

/// The pid in a pid file, if it exists and holds one.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// True when running as root (the privilege tests skip otherwise).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A user's uid and primary gid, through libc.
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to a static record, read at once.
    unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        (!pw.is_null()).then(|| ((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A group's gid, through libc.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getgrnam returns NULL or a pointer to a static record, read at once.
    unsafe {
        let gr = libc::getgrnam(cname.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    }
}

/// Clears FD_CLOEXEC so a child inherits `fd` under the same number.
pub fn clear_cloexec(fd: i32) {
    // SAFETY: fcntl on a descriptor the caller owns; the result is checked.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    assert_eq!(rc, 0, "fcntl(F_SETFD) on {fd}");
}
