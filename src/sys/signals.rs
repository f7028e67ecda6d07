//! Signals: the master's handlers write each signal into a self-pipe that its loop reads; a
//! freshly forked child, which starts with every signal blocked, sets its own dispositions (or
//! disarms the master's) before it lets them through; the worker's watchdog signals its own
//! main thread when a request overruns `--timeout`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

pub use libc::{
    SIGABRT, SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2,
};

use super::pipe::{drain_bytes, pipe};

/// The signals the master handles; workers put them back to their defaults after fork.
pub const MASTER_SIGNALS: [libc::c_int; 9] = [
    SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2,
];

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
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "other",
    }
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
/// stop), and the worker gets SIGTERM if the master dies. Then the signals [`fork`] left
/// blocked are let through, each now meeting the worker's own disposition.
///
/// [`fork`]: super::fork
pub fn prepare_worker_signals() -> io::Result<()> {
    worker_handlers()?;
    unblock_signals();
    Ok(())
}

fn worker_handlers() -> io::Result<()> {
    SIGNAL_PIPE.store(-1, Ordering::Relaxed);
    for sig in MASTER_SIGNALS {
        set_handler(sig, libc::SIG_DFL, 0)?;
    }
    // Ctrl-C, job-control and master-only signals reach workers through the process group
    // too; the master decides what they mean.
    for sig in [SIGINT, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGHUP] {
        set_handler(sig, libc::SIG_IGN, 0)?;
    }
    set_handler(libc::SIGPIPE, libc::SIG_IGN, 0)?;
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, SIGTERM as libc::c_ulong);
    }
    Ok(())
}

/// For a helper process of the master (the one that runs a configuration file's master hooks):
/// it lives exactly as long as the master. The stop signals a whole process group gets
/// (systemd's stop, Ctrl-C, `timeout`) are the master's to act on — the master still calls
/// `on_exit` after them — and it dies with the master (SIGKILL) or once the master closes
/// its end of their socket.
pub fn prepare_helper_signals() -> io::Result<()> {
    worker_handlers()?;
    for sig in [SIGTERM, SIGQUIT] {
        set_handler(sig, libc::SIG_IGN, 0)?;
    }
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, SIGKILL as libc::c_ulong);
    }
    unblock_signals();
    Ok(())
}

/// In a forked child that keeps the master's handlers (until it runs another program, or for
/// its short life): they report nothing to the master from here on, and the signals [`fork`]
/// left blocked are let through.
///
/// [`fork`]: super::fork
pub fn leave_master_signals() {
    SIGNAL_PIPE.store(-1, Ordering::Relaxed);
    unblock_signals();
}

/// Blocks every signal in the calling thread; returns the mask it had, for [`set_signal_mask`].
pub fn block_signals() -> libc::sigset_t {
    // SAFETY: both sets are valid `sigset_t`s on this stack (all-zero is one), filled or
    // written by libc.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut before: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
        before
    }
}

/// Sets the calling thread's signal mask to `mask`.
pub fn set_signal_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a valid set; pthread_sigmask only reads it.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut());
    }
}

/// Lets every signal through to the calling thread.
fn unblock_signals() {
    // SAFETY: a valid set on this stack (all-zero is one), emptied by libc.
    let none = unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        none
    };
    set_signal_mask(&none);
}

/// Whether `sig` is blocked in the calling thread.
pub fn signal_blocked(sig: libc::c_int) -> bool {
    // SAFETY: a valid set on this stack (all-zero is one), written by pthread_sigmask and read
    // by sigismember.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
        libc::sigismember(&set, sig) == 1
    }
}

/// The calling thread, for [`signal_thread`].
pub fn current_thread() -> libc::pthread_t {
    // SAFETY: pthread_self cannot fail.
    unsafe { libc::pthread_self() }
}

/// Sends `sig` to one thread of this process.
pub fn signal_thread(thread: libc::pthread_t, sig: libc::c_int) {
    // SAFETY: `thread` came from pthread_self in this process and the thread lives as long as
    // the process (it is the worker's main thread).
    unsafe {
        libc::pthread_kill(thread, sig);
    }
}

/// The signal the worker's watchdog sends its main thread when a request overruns
/// `--timeout` (a real-time signal, so it collides with nothing an app is likely to use).
pub fn timeout_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}
