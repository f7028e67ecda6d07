//! The unsafe OS calls, each wrapped once: fork, waitpid, kill, signal handling through a
//! self-pipe, and the post-fork resets a worker needs. Everything else in the crate is safe code.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

pub use libc::{SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM};

/// The signals the master handles; workers put them back to their defaults after fork.
pub const MASTER_SIGNALS: [libc::c_int; 5] = [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD];

pub type Pid = libc::pid_t;

pub enum Fork {
    Parent(Pid),
    Child,
}

/// Forks the process.
///
/// Only sound while the process has a single thread (the master never starts one).
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the master is single-threaded, so the child inherits no lock held by another
    // thread; the child either runs the worker or exits.
    match unsafe { libc::fork() } {
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

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGCHLD => "SIGCHLD",
        _ => "other",
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

/// Write end of the self-pipe, read by the signal handler.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid byte; errno is saved and
        // restored so the interrupted code does not see it change.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Signals delivered to the master, queued through a non-blocking pipe.
pub struct SignalPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SignalPipe {
    /// Installs handlers for `signals` that write the signal number into the pipe.
    pub fn install(signals: &[libc::c_int]) -> io::Result<SignalPipe> {
        let (read, write) = pipe()?;
        SIGNAL_PIPE.store(write.as_raw_fd(), Ordering::Relaxed);
        for &sig in signals {
            set_handler(
                sig,
                on_signal as *const () as libc::sighandler_t,
                libc::SA_RESTART,
            )?;
        }
        Ok(SignalPipe {
            read,
            _write: write,
        })
    }

    /// Takes the signals that arrived since the last call, in order.
    pub fn drain(&self) -> Vec<libc::c_int> {
        drain_bytes(&self.read)
            .into_iter()
            .map(libc::c_int::from)
            .collect()
    }

    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
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

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid two-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn drain_bytes(fd: &OwnedFd) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let mut out = Vec::new();
    loop {
        // SAFETY: reading into a valid buffer of the given length from our own fd.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Waits up to `timeout` until one of `fds` is readable (or a signal interrupts the wait).
pub fn poll_readable(fds: &[RawFd], timeout: Duration) {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds.
    unsafe {
        libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms);
    }
}

fn set_handler(
    sig: libc::c_int,
    handler: libc::sighandler_t,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid starting value; the handler is either SIG_DFL,
    // SIG_IGN or an extern "C" fn that only does async-signal-safe work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In a freshly forked worker: the master's handlers go back to their defaults, SIGINT is
/// ignored (a terminal's Ctrl-C reaches the whole group; the master turns it into a graceful
/// stop), and the worker gets SIGTERM if the master dies.
pub fn prepare_worker_signals() -> io::Result<()> {
    SIGNAL_PIPE.store(-1, Ordering::Relaxed);
    for sig in MASTER_SIGNALS {
        set_handler(sig, libc::SIG_DFL, 0)?;
    }
    set_handler(SIGINT, libc::SIG_IGN, 0)?;
    set_handler(libc::SIGPIPE, libc::SIG_IGN, 0)?;
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and has no memory effects;
    // sigprocmask gets a valid, emptied set.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, SIGTERM as libc::c_ulong);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
    Ok(())
}

/// The parent's pid; 1 (or a subreaper) once the master is gone.
pub fn getppid() -> Pid {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

/// Leaves the process at once, without running atexit handlers or destructors (used by a
/// forked child that must not unwind into the master's code).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process immediately; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// Reads up to `len` bytes of `file` at `offset` (pread(2)) into the spare capacity of `buf`,
/// which grows to hold them; returns how many were read. Unlike `FileExt::read_at`, the
/// buffer need not be zeroed first, which matters when streaming large files.
pub fn read_at(
    file: &std::fs::File,
    buf: &mut bytes::BytesMut,
    len: usize,
    offset: u64,
) -> io::Result<usize> {
    buf.reserve(len);
    let spare = buf.spare_capacity_mut();
    let len = len.min(spare.len());
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `spare` is valid for writes of `len` bytes (len ≤ spare.len()), and pread writes
    // at most `len` bytes into it.
    let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), len, offset) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: pread initialised the first `n` bytes of the spare capacity (n ≤ len).
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
