//! The push watchdog of a streamed body. The writer keeps the small pieces of a stream back (in
//! its buffer, or queued on the socket with MSG_MORE) instead of transmitting each (and waking
//! the client) once per piece: a generator of a few small blocks then costs one write and one
//! packet, like a list body. But a block the app yielded must not wait on a slow `next()`: while
//! the writer pulls the next piece it arms this watchdog with the socket and what it kept back,
//! and a thread of the worker's own writes that out (`sys::send_now`) and pushes what the socket
//! queued (`sys::push_pending`) once the pull has lasted a whole tick (1–2 ms).
//!
//! Arming is a few atomic operations and no system call: the thread ticks while armings come, and
//! parks after a quiet spell, to be woken by the next arming. The socket cannot be closed under
//! the thread: disarming waits for a push in progress, and only the writer, which disarms
//! before it goes on, closes the socket. One slot per process (a worker has one writing
//! thread); an arming that finds it taken answers so, and the writer pushes at once instead.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock, PoisonError};

use bytes::{Buf, BytesMut};
use std::thread::Thread;
use std::time::Duration;

/// How long a pull may take before what it holds back is pushed: between one and two ticks.
const TICK: Duration = Duration::from_millis(1);
/// Ticks without an arming before the thread parks.
const IDLE_TICKS: u32 = 200;

/// The slot: 0 when idle, else the arming's serial in the high half and the descriptor in the
/// low half, with `BUSY` set while the thread pushes and `DONE` once it has.
static SLOT: AtomicU64 = AtomicU64::new(0);
static SERIAL: AtomicU64 = AtomicU64::new(0);
static PARKED: AtomicBool = AtomicBool::new(false);
static THREAD: OnceLock<Option<Thread>> = OnceLock::new();
/// What the armed writer kept back; the thread touches it only while it holds `BUSY`.
static HELD: Mutex<Option<BytesMut>> = Mutex::new(None);

const BUSY: u64 = 1 << 31;
const DONE: u64 = 1 << 30;
const FD_MASK: u64 = DONE - 1;

/// An armed watchdog; [`Armed::disarm`] gives back what is left of the bytes kept back.
pub struct Armed(u64);

/// Arms the watchdog for `fd`, whose socket may hold bytes written with MSG_MORE and ahead of
/// which `kept` is to be written; `Err(kept)` when it cannot watch (taken, or no thread): the
/// caller then writes and pushes them itself.
pub fn arm(fd: RawFd, kept: BytesMut) -> Result<Armed, BytesMut> {
    let Some(fd) = u64::try_from(fd).ok().filter(|&fd| fd <= FD_MASK) else {
        return Err(kept);
    };
    let Some(thread) = THREAD.get_or_init(spawn).as_ref() else {
        return Err(kept);
    };
    let serial = SERIAL.fetch_add(1, SeqCst).wrapping_add(1) & 0xffff_ffff;
    let armed = (serial.max(1) << 32) | fd;
    // Taken as busy while `kept` goes in, so the thread leaves it alone until it is all there.
    if SLOT
        .compare_exchange(0, armed | BUSY, SeqCst, SeqCst)
        .is_err()
    {
        return Err(kept);
    }
    *held() = Some(kept);
    SLOT.store(armed, SeqCst);
    if PARKED.swap(false, SeqCst) {
        thread.unpark();
    }
    Ok(Armed(armed))
}

fn held() -> std::sync::MutexGuard<'static, Option<BytesMut>> {
    HELD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Pushes now what `fd` holds back (when the watchdog cannot, or the pull has to wait).
pub fn now(fd: RawFd) {
    let _ = crate::sys::push_pending(fd);
}

impl Armed {
    /// Disarms (waiting for a push in progress, if any); returns what the thread did not write.
    pub fn disarm(self) -> BytesMut {
        release(self.0);
        let left = held().take().unwrap_or_default();
        std::mem::forget(self);
        left
    }
}

impl Armed {
    /// Between two pulls of one run: disarms, has `add` append to what is kept back, in place,
    /// and arms again over all of it — one lock, and no move of the bytes. `Err` with all that
    /// is kept back (`add`'s too) when `add` answers `false` or the watchdog cannot be armed.
    pub fn rearm(self, add: impl FnOnce(&mut BytesMut) -> bool) -> Result<Armed, BytesMut> {
        let fd = self.0 & FD_MASK;
        release(self.0);
        std::mem::forget(self);
        let mut guard = held();
        let kept = guard.get_or_insert_with(BytesMut::new);
        if !add(kept) {
            return Err(guard.take().unwrap_or_default());
        }
        let serial = SERIAL.fetch_add(1, SeqCst).wrapping_add(1) & 0xffff_ffff;
        let armed = (serial.max(1) << 32) | fd;
        // What is kept back is in place and its lock held: the thread, which takes the lock
        // to push, cannot see it half-written.
        if SLOT.compare_exchange(0, armed, SeqCst, SeqCst).is_err() {
            return Err(guard.take().unwrap_or_default());
        }
        drop(guard);
        if PARKED.swap(false, SeqCst) {
            if let Some(Some(thread)) = THREAD.get() {
                thread.unpark();
            }
        }
        Ok(Armed(armed))
    }
}

/// Dropped without `disarm` (a panic in the pull): the slot is freed and what was kept back
/// dropped, so that no later push writes it to whatever the descriptor becomes.
impl Drop for Armed {
    fn drop(&mut self) {
        release(self.0);
        *held() = None;
    }
}

fn release(armed: u64) {
    loop {
        match SLOT.compare_exchange(armed, 0, SeqCst, SeqCst) {
            Ok(_) => return,
            Err(now) if now == armed | DONE => {
                SLOT.store(0, SeqCst);
                return;
            }
            // The thread is writing to this socket: it is done in a moment.
            Err(now) if now == armed | BUSY => std::hint::spin_loop(),
            Err(_) => return,
        }
    }
}

/// The thread's push: what was kept back, written as far as the socket takes it now, and what
/// the socket queued, sent.
fn push(fd: RawFd) {
    let mut guard = held();
    let Some(kept) = guard.as_mut() else {
        drop(guard);
        return now(fd);
    };
    while !kept.is_empty() {
        match crate::sys::send_now(fd, kept) {
            Ok(n) if n > 0 => kept.advance(n),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            // Full, or failed: the writer meets it on its next write.
            _ => break,
        }
    }
    drop(guard);
    now(fd);
}

fn spawn() -> Option<Thread> {
    std::thread::Builder::new()
        .name("pyrite-push".into())
        .spawn(watch)
        .map(|handle| handle.thread().clone())
        .map_err(|err| tracing::warn!(error = %err, "no push watchdog; streamed pieces go out one by one"))
        .ok()
}

fn watch() {
    let mut seen = 0u64;
    let mut serial = SERIAL.load(SeqCst);
    let mut idle = 0u32;
    loop {
        std::thread::sleep(TICK);
        let slot = SLOT.load(SeqCst);
        if slot != 0 && slot == seen && slot & (BUSY | DONE) == 0 {
            // The same pull has lasted a whole tick: push what it holds back.
            if SLOT
                .compare_exchange(slot, slot | BUSY, SeqCst, SeqCst)
                .is_ok()
            {
                push((slot & FD_MASK) as RawFd);
                SLOT.store(slot | DONE, SeqCst);
            }
        }
        seen = slot;
        let now_serial = SERIAL.load(SeqCst);
        if now_serial != serial || slot != 0 {
            serial = now_serial;
            idle = 0;
            continue;
        }
        idle += 1;
        if idle < IDLE_TICKS {
            continue;
        }
        // Quiet: park until an arming wakes us. An arming between the check above and this
        // store is seen below (or has already unparked us, which makes park return at once).
        PARKED.store(true, SeqCst);
        if SERIAL.load(SeqCst) == serial {
            std::thread::park();
        }
        PARKED.store(false, SeqCst);
        idle = 0;
    }
}
