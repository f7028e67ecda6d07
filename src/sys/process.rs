//! Processes: fork, reap, signal and leave them; the boot pipe on which a worker announces it
//! serves; execute the same entry again with the listening sockets (USR2); adopt inherited descriptors; the clocks and memory figures the master and
//! workers compare.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use super::pipe::{drain_bytes, pipe};
use super::signals::signal_name;

pub type Pid = libc::pid_t;

pub enum Fork {
    Parent(Pid),
    Child,
}

/// Forks the process.
///
/// The child starts with every signal blocked: it inherits the master's handlers, and one run
/// there (a signal sent to the child's pid) would write to the master's signal pipe as though
/// the master had been sent it. It lets them through once its own are set
/// ([`prepare_worker_signals`](super::prepare_worker_signals),
/// [`prepare_helper_signals`](super::prepare_helper_signals)) or the master's are disarmed
/// ([`leave_master_signals`](super::leave_master_signals)). The parent's mask is as it was.
///
/// Only sound while the process has a single thread (the master never starts one), or where
/// the child makes only raw system calls before it exits (the io_uring probe, tests).
pub fn fork() -> io::Result<Fork> {
    let mask = super::signals::block_signals();
    // SAFETY: the master is single-threaded, so the child inherits no lock held by another
    // thread; the child either runs the worker or exits. Elsewhere the callers' children make
    // only raw system calls, which take no lock.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        super::signals::set_signal_mask(&mask);
    }
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit code {code}"),
            ExitStatus::Signal(sig) => write!(f, "signal {sig} ({})", signal_name(*sig)),
        }
    }
}

/// Waits for the child `pid` to end (blocking) and reaps it.
pub fn wait_pid(pid: Pid) -> ExitStatus {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is a child of this process.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return ExitStatus::Code(-1);
        }
    }
    decode_status(status)
}

fn decode_status(status: libc::c_int) -> ExitStatus {
    if libc::WIFEXITED(status) {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    } else {
        ExitStatus::Signal(libc::WTERMSIG(status))
    }
}

/// Reaps one exited child without blocking.
pub fn try_wait_any() -> Option<(Pid, ExitStatus)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid out-pointer; WNOHANG never blocks.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    let status = if libc::WIFEXITED(status) {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    } else {
        ExitStatus::Signal(libc::WTERMSIG(status))
    };
    Some((pid, status))
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub fn kill(pid: Pid, sig: libc::c_int) {
    // SAFETY: kill has no memory effects; a stale pid at worst yields ESRCH.
    unsafe {
        libc::kill(pid, sig);
    }
}

pub fn getpid() -> Pid {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// The parent's pid; 1 (or a subreaper) once the master is gone.
pub fn getppid() -> Pid {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

/// Blocks until `parent`, this process's parent, is gone: on a pidfd of it, which turns readable
/// when it exits (no wake-up until then), or, where pidfds cannot be had (a kernel before 5.3, a
/// sandbox that forbids them) or polled, by looking at the parent once a second. A parent already
/// gone, or whose pid now names another process, returns at once.
pub fn wait_parent_gone(parent: Pid) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, parent, 0) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return;
    }
    if fd >= 0 {
        // SAFETY: the descriptor was just opened and is owned here.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        // The pid was our parent's before the pidfd was opened: if it is not our parent now,
        // the parent died in between (and the pidfd may be another process's).
        if getppid() != parent {
            return;
        }
        let mut poll = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd, no timeout.
            match unsafe { libc::poll(&mut poll, 1, -1) } {
                n if n > 0 => return,
                0 => {}
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
    }
    while getppid() == parent {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Leaves the process at once, without running atexit handlers or destructors (used by a
/// forked child that must not unwind into the master's code).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process immediately; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// Milliseconds on CLOCK_MONOTONIC, which every process on the machine shares, so a worker's
/// timestamps can be compared by the master.
pub fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// The resident set size of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(0) as u64)
}

pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// Executes `program` with `args` (`argv[0]` first) and the given listening descriptors
/// inherited as fds 3, 4, … (`LISTEN_FDS`, as systemd passes them). Called in a freshly forked
/// child; returns only on failure.
pub fn exec_with_listeners(
    program: &std::path::Path,
    args: &[std::ffi::OsString],
    fds: &[RawFd],
    extra_env: &[(&str, String)],
) -> io::Error {
    // Move the listeners out of the way first, so placing them at 3.. never clobbers one.
    let mut high = Vec::with_capacity(fds.len());
    for &fd in fds {
        // SAFETY: `fd` is an open descriptor; F_DUPFD returns a new one at or above 100.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD, 100) };
        if dup < 0 {
            return io::Error::last_os_error();
        }
        high.push(dup);
    }
    for (i, &fd) in high.iter().enumerate() {
        let target = 3 + i as RawFd;
        // SAFETY: dup2 onto a small descriptor number; the result (without CLOEXEC) survives exec.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return io::Error::last_os_error();
        }
    }
    std::env::set_var("LISTEN_FDS", fds.len().to_string());
    std::env::set_var("LISTEN_PID", getpid().to_string());
    for (key, value) in extra_env {
        std::env::set_var(key, value);
    }
    let args: Vec<std::ffi::CString> = args
        .iter()
        .filter_map(|a| std::ffi::CString::new(a.as_bytes()).ok())
        .collect();
    let Ok(path) = std::ffi::CString::new(program.as_os_str().as_bytes()) else {
        return io::Error::new(io::ErrorKind::InvalidInput, "binary path holds NUL");
    };
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // The program starts with no signal blocked (a mask outlives exec).
    super::signals::leave_master_signals();
    // SAFETY: `path` and every argv entry are NUL-terminated strings that outlive the call;
    // argv ends with NULL.
    unsafe {
        libc::execv(path.as_ptr(), argv.as_ptr());
    }
    io::Error::last_os_error()
}

/// Takes ownership of an inherited descriptor (systemd socket activation or `fd://N`).
///
/// The caller guarantees nothing else in the process owns `fd`.
pub fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFD only checks that the descriptor is open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open and, per the caller, owned by nobody else; marking it
    // close-on-exec keeps it from leaking into programs the app runs.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// A pipe on which booted workers announce themselves: each writes its pid as 4 bytes, one
/// atomic write (below PIPE_BUF), so announcements from several workers never interleave.
pub struct BootPipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl BootPipe {
    pub fn new() -> io::Result<BootPipe> {
        let (read, write) = pipe()?;
        Ok(BootPipe { read, write })
    }

    /// Called by a worker once it is ready to serve.
    pub fn announce(&self) {
        let bytes = getpid().to_ne_bytes();
        // SAFETY: writing a valid 4-byte buffer to our own fd.
        unsafe {
            libc::write(self.write.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
        }
    }

    /// The pids announced since the last call.
    pub fn drain(&self) -> Vec<Pid> {
        drain_bytes(&self.read)
            .chunks_exact(4)
            .map(|c| Pid::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::super::signals::{leave_master_signals, signal_blocked};
    use super::*;

    /// A forked child starts with every signal blocked (so none meant for it runs a handler of
    /// the parent's), and lets them through once it leaves the parent's handlers; the parent's
    /// mask is as it was.
    #[test]
    fn a_forked_child_starts_with_signals_blocked() {
        let before: Vec<bool> = (1..32).map(signal_blocked).collect();
        // The child makes only raw system calls and `_exit`s, so forking this (multi-threaded)
        // test process is sound.
        let pid = match fork().unwrap() {
            Fork::Child => {
                let blocked = [libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGINT]
                    .iter()
                    .all(|&sig| signal_blocked(sig));
                leave_master_signals();
                let let_through = !signal_blocked(libc::SIGTERM);
                exit_now(if blocked && let_through { 0 } else { 1 })
            }
            Fork::Parent(pid) => pid,
        };
        assert_eq!(wait_pid(pid), ExitStatus::Code(0));
        let after: Vec<bool> = (1..32).map(signal_blocked).collect();
        assert_eq!(after, before);
    }
}
