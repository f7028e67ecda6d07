//! Pipes between the master and its workers: the boot pipe on which a worker announces it
//! serves, the plumbing of the signal self-pipe, and the master's wait on both.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::process::{getpid, Pid};

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

pub(super) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid two-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(super) fn drain_bytes(fd: &OwnedFd) -> Vec<u8> {
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
