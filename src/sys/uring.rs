//! Several sockets written from one system call (io_uring). The responses held to the end of
//! the event loop's turn go out together: written one `send` each, a client sharing the core
//! (a proxy, a load generator) is woken after each and, the kernel switching to it on the way
//! back from each call, runs once per response; written from one `io_uring_enter`, it runs
//! once after the last. One small ring per runtime thread, made on first use (in the worker,
//! never before a fork). Where io_uring is missing, forbidden (container seccomp profiles) or
//! older than Linux 6.0, no ring is made and the caller writes the sockets one by one. Whether
//! the process may make one is first asked of a child ([`uring_allowed`]): a seccomp filter
//! that kills on a system call it does not list (systemd's `SystemCallFilter=` without
//! `SystemCallErrorNumber=`) then kills that child, not a worker.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::sync::OnceLock;

use io_uring::{opcode, types, IoUring};

/// The most sends one call submits; a longer list goes in several calls.
const ENTRIES: u32 = 64;

thread_local! {
    /// `None` until first used; `Some(None)` where no ring could be made, or after one failed.
    static RING: RefCell<Option<Option<IoUring>>> = const { RefCell::new(None) };
}

/// Sends each `(fd, bytes)` with `MSG_DONTWAIT | MSG_NOSIGNAL`, all from one system call per
/// 64 sends, and returns each one's result, in order: the bytes the socket took, or `-errno`
/// (`-EAGAIN` when it was full). A send with no result, or 0, was not made: the list is empty
/// where no ring is to be had, and a failed call ends it early (the thread then makes no
/// more). The caller guarantees each descriptor stays open for the call.
pub fn send_each(sends: &[(RawFd, &[u8])]) -> Vec<i32> {
    let mut sent = Vec::new();
    RING.with(|cell| {
        let mut cell = cell.borrow_mut();
        let Some(ring) = cell.get_or_insert_with(make).as_mut() else {
            return;
        };
        for (first, chunk) in sends.chunks(ENTRIES as usize).enumerate() {
            if submit(ring, first * ENTRIES as usize, chunk, &mut sent).is_err() {
                // Each send the kernel took was done before `io_uring_enter` returned
                // (MSG_DONTWAIT: a full socket answers EAGAIN rather than waiting) and its
                // result read; dropping the ring drops the ones it did not take, so no send
                // reads the bytes after this returns.
                *cell = Some(None);
                return;
            }
        }
    });
    sent
}

/// A ring, if this kernel lets the process have one with the options used (Linux 6.0 and
/// later; with them, a send with MSG_DONTWAIT never waits inside the ring for room).
fn make() -> Option<IoUring> {
    if !uring_allowed() {
        return None;
    }
    IoUring::builder()
        .setup_single_issuer()
        .setup_submit_all()
        .setup_coop_taskrun()
        .build(ENTRIES)
        .ok()
}

/// Submits one chunk's sends (at most [`ENTRIES`]) and waits for all of them, appending their
/// results to `sent` in order.
fn submit(
    ring: &mut IoUring,
    base: usize,
    chunk: &[(RawFd, &[u8])],
    sent: &mut Vec<i32>,
) -> std::io::Result<()> {
    sent.resize(base + chunk.len(), 0);
    {
        let mut queue = ring.submission();
        for (i, (fd, bytes)) in chunk.iter().enumerate() {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            let entry = opcode::Send::new(types::Fd(*fd), bytes.as_ptr(), len)
                .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                .build()
                .user_data((base + i) as u64);
            // SAFETY: the entry points at `bytes`, which the caller lends for the whole call, and
            // the kernel reads them only while the entry runs: `send_each` does not return
            // before every entry pushed here has completed (the loop below waits for all of
            // them), or, on an error, before the ring holding the ones not taken is dropped.
            // The queue is empty here (each chunk's entries are all submitted before the next
            // chunk's are pushed), so the push finds room: a chunk is at most ENTRIES long.
            if unsafe { queue.push(&entry) }.is_err() {
                return Err(std::io::Error::from(std::io::ErrorKind::OutOfMemory));
            }
        }
    }
    let mut done = 0;
    while done < chunk.len() {
        let entered = ring.submit_and_wait(chunk.len() - done);
        // The results of the sends taken are read even when entering failed (it fails only
        // having taken none, but the ones taken before may not have been read yet).
        for entry in ring.completion() {
            if let Some(slot) = usize::try_from(entry.user_data())
                .ok()
                .and_then(|i| sent.get_mut(i))
            {
                *slot = entry.result();
                done += 1;
            }
        }
        match entered {
            Err(e) if e.raw_os_error() != Some(libc::EINTR) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Makes this thread write held responses one socket at a time, as where io_uring is not to
/// be had (for tests of that path).
pub fn forgo_uring() {
    RING.with(|cell| *cell.borrow_mut() = Some(None));
}

/// Whether the process may make an io_uring: asked once, of a forked child that makes one (the
/// master asks before it forks workers, which inherit the answer). A child killed by the
/// attempt, or that could not make one, answers no.
pub fn uring_allowed() -> bool {
    static ALLOWED: OnceLock<bool> = OnceLock::new();
    *ALLOWED.get_or_init(ask_a_child)
}

fn ask_a_child() -> bool {
    use super::process::{exit_now, fork, wait_pid, ExitStatus, Fork};
    // The child keeps every signal blocked (see `fork`): it sets no handlers of its own.
    // It only makes raw system calls (io_uring_setup, io_uring_enter, _exit), which take no
    // lock another thread of the parent may have held at the fork.
    match fork() {
        Ok(Fork::Parent(pid)) => wait_pid(pid) == ExitStatus::Code(0),
        Ok(Fork::Child) => {
            let mut params = [0u8; 120];
            // SAFETY: io_uring_setup writes at most `struct io_uring_params` (120 bytes) to
            // `params`, a live buffer of that size; io_uring_enter with nothing to submit or
            // wait for touches no memory of ours.
            let entered = unsafe {
                let fd = libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr());
                fd >= 0
                    && libc::syscall(
                        libc::SYS_io_uring_enter,
                        fd,
                        0u32,
                        0u32,
                        0u32,
                        0usize,
                        0usize,
                    ) >= 0
            };
            exit_now(if entered { 0 } else { 1 })
        }
        Err(_) => false,
    }
}
