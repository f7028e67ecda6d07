//! The unsafe OS calls, each wrapped once: fork, waitpid, kill, signal handling through a
//! self-pipe, the post-fork resets a worker needs, and the reads and sends of static files
//! (pread, sendfile, send with MSG_MORE). Everything else in the crate is safe code.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

pub use libc::{
    SIGABRT, SIGCHLD, SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2,
};

/// The signals the master handles; workers put them back to their defaults after fork.
pub const MASTER_SIGNALS: [libc::c_int; 9] = [
    SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2,
];

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
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
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
    // Ctrl-C, job-control and master-only signals reach workers through the process group
    // too; the master decides what they mean.
    for sig in [SIGINT, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGHUP] {
        set_handler(sig, libc::SIG_IGN, 0)?;
    }
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

/// One worker's liveness record in memory shared between the master and the workers.
#[repr(C)]
#[derive(Default)]
pub struct Slot {
    /// The worker's pid (0 when the slot is free).
    pub pid: std::sync::atomic::AtomicI32,
    /// When the worker's event loop last ran (monotonic ms; 0 before boot).
    pub beat: std::sync::atomic::AtomicU64,
    /// When the app call in progress started (monotonic ms; 0 when not in the app).
    pub in_app_since: std::sync::atomic::AtomicU64,
}

/// An anonymous shared mapping of [`Slot`]s, created by the master before it forks, so every
/// worker writes its own slot and the master reads them all. No files on disk.
pub struct SharedSlots {
    ptr: std::ptr::NonNull<Slot>,
    len: usize,
}

impl SharedSlots {
    pub fn new(len: usize) -> io::Result<SharedSlots> {
        let bytes = len * std::mem::size_of::<Slot>();
        // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            std::ptr::NonNull::new(ptr.cast::<Slot>()).ok_or_else(io::Error::last_os_error)?;
        Ok(SharedSlots { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, index: usize) -> &Slot {
        assert!(index < self.len, "slot index out of range");
        // SAFETY: the mapping holds `len` zero-initialised Slots (all-zero atomics are valid),
        // lives as long as `self`, and is only accessed through atomics.
        unsafe { &*self.ptr.as_ptr().add(index) }
    }
}

// SAFETY: the mapping is only accessed through atomic fields.
unsafe impl Send for SharedSlots {}
// SAFETY: as above.
unsafe impl Sync for SharedSlots {}

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

/// The resident set size of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(0) as u64)
}

/// Replaces what `ps` shows for this process by overwriting the argv area (whose bounds the
/// kernel reports in /proc/self/stat), and sets the thread name (`comm`) too.
pub fn set_process_title(title: &str) {
    original_args();
    // Valgrind reads its own options back from this memory in forked children; profiling runs
    // keep the original command line.
    if std::env::var_os("LD_PRELOAD").is_some_and(|p| p.to_string_lossy().contains("vgpreload")) {
        return;
    }
    let Some((start, end)) = argv_area() else {
        return;
    };
    let len = end.saturating_sub(start);
    if len < 2 {
        return;
    }
    let bytes = title.as_bytes();
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, end) is this process's own argv block, mapped and writable for the
    // process's whole life; nothing in pyrite keeps references into it after start-up (clap
    // copied the arguments).
    unsafe {
        let dst = start as *mut u8;
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, n);
        std::ptr::write_bytes(dst.add(n), 0, len - n);
    }
    let comm: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|&b| b != 0)
        .take(15)
        .chain([0])
        .collect();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, comm.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
}

/// The command line as started, saved before the first title change overwrites it.
pub fn original_args() -> &'static [std::ffi::OsString] {
    static ARGS: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();
    ARGS.get_or_init(|| std::env::args_os().collect())
}

fn argv_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // arg_start and arg_end are fields 48 and 49 of stat(5); `rest` starts at field 3.
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    Some((start, end))
}

/// A user's uid and primary gid, by name or number.
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam/getpwuid return NULL or a pointer to a static passwd record, read at
    // once (the master is single-threaded, so nothing else can overwrite it meanwhile).
    unsafe {
        let mut pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            if let Ok(uid) = name.parse::<u32>() {
                pw = libc::getpwuid(uid);
                if pw.is_null() {
                    return Some((uid, uid));
                }
            }
        }
        if pw.is_null() {
            return None;
        }
        Some(((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A group's gid, by name or number.
pub fn lookup_group(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Some(gid);
    }
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in lookup_user.
    unsafe {
        let gr = libc::getgrnam(cname.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    }
}

/// Drops the worker's privileges: supplementary groups cleared, then gid, then uid.
pub fn drop_privileges(uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    // SAFETY: plain syscalls on integers; each result is checked.
    unsafe {
        if let Some(gid) = gid {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(uid) = uid {
            if libc::setuid(uid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

pub fn set_umask(mask: u32) {
    // SAFETY: umask cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// Points `target` (1 for stdout, 2 for stderr) at `path`, opened for appending; reopening the
/// same path later picks up a rotated file.
pub fn redirect_to_file(target: RawFd, path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)?;
    // SAFETY: both descriptors are open; dup2 atomically replaces `target`.
    if unsafe { libc::dup2(file.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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

/// The most Linux moves in one sendfile(2) call.
const SENDFILE_MAX: usize = 0x7fff_f000;

/// Sends up to `len` bytes of `file` from `offset` to the socket `out` (sendfile(2)) without
/// copying them through user space; `offset` advances by what was sent. The file's own position
/// is never used nor moved. 0 means the file ends at `offset`. On a non-blocking socket that
/// cannot take more, fails with `WouldBlock`.
pub fn sendfile(
    out: std::os::fd::BorrowedFd<'_>,
    file: &std::fs::File,
    offset: &mut u64,
    len: usize,
) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are open for the whole call (one is borrowed, the other owned by
    // a live `File`); `off` is a valid off_t the kernel reads and updates; sendfile writes no
    // other memory of ours.
    let n = unsafe {
        libc::sendfile(
            out.as_raw_fd(),
            file.as_raw_fd(),
            &mut off,
            len.min(SENDFILE_MAX),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset += n as u64;
    Ok(n as usize)
}

/// Writes what the socket `out` takes of `data` with MSG_MORE: TCP holds a partial packet back
/// for the bytes sent right after (a response head then shares its packet with the first bytes
/// of the file that follows). Never raises SIGPIPE.
pub fn send_more(out: std::os::fd::BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    // SAFETY: `data` is valid for reads of `data.len()` bytes; send reads nothing else of ours.
    let n = unsafe {
        libc::send(
            out.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_MORE | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    #[test]
    fn sendfile_sends_a_range_and_leaves_the_file_position_alone() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789abcdef").unwrap();
        file.rewind().unwrap();
        let (out, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut offset = 3;
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 10);
        assert_eq!(offset, 13);
        let mut got = [0u8; 10];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"3456789abc");
        // Past the end: what is left, then 0.
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 3);
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 0);
        assert_eq!(offset, 16);
        assert_eq!(file.stream_position().unwrap(), 0);
    }
}
