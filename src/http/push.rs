//! The push watchdog of a streamed body. The writer sends each piece of a stream but the last
//! with MSG_MORE, so TCP queues it instead of transmitting it (and waking the client) once per
//! piece: a generator of a few small blocks then costs one packet, like a list body. But a block
//! the app yielded must not wait on a slow `next()`: while the writer pulls the next piece it
//! arms this watchdog with the socket, and a thread of the worker's own pushes the queued bytes
//! out (`sys::push_pending`) once that pull has lasted a whole tick (1–2 ms).
//!
//! Arming is two atomic stores and no system call: the thread ticks while armings come, and
//! parks after a quiet spell, to be woken by the next arming. The socket cannot be closed under
//! the thread: disarming waits for a push in progress, and only the writer, which disarms
//! before it goes on, closes the socket. One slot per process (a worker has one writing
//! thread); an arming that finds it taken answers so, and the writer pushes at once instead.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::OnceLock;
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

const BUSY: u64 = 1 << 31;
const DONE: u64 = 1 << 30;
const FD_MASK: u64 = DONE - 1;

/// An armed watchdog; dropping it disarms (waiting for a push in progress, if any).
pub struct Armed(u64);

/// Arms the watchdog for `fd`, whose socket holds bytes written with MSG_MORE; `None` when it
/// cannot watch (taken, or no thread): the caller then pushes them itself.
pub fn arm(fd: RawFd) -> Option<Armed> {
    let fd = u64::try_from(fd).ok().filter(|&fd| fd <= FD_MASK)?;
    let thread = THREAD.get_or_init(spawn).as_ref()?;
    let serial = SERIAL.fetch_add(1, SeqCst).wrapping_add(1) & 0xffff_ffff;
    let armed = (serial.max(1) << 32) | fd;
    SLOT.compare_exchange(0, armed, SeqCst, SeqCst).ok()?;
    if PARKED.swap(false, SeqCst) {
        thread.unpark();
    }
    Some(Armed(armed))
}

/// Pushes now what `fd` holds back (when the watchdog cannot, or the pull has to wait).
pub fn now(fd: RawFd) {
    let _ = crate::sys::push_pending(fd);
}

impl Drop for Armed {
    fn drop(&mut self) {
        loop {
            match SLOT.compare_exchange(self.0, 0, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(now) if now == self.0 | DONE => {
                    SLOT.store(0, SeqCst);
                    return;
                }
                // The thread is pushing on this socket: it is done in a moment.
                Err(now) if now == self.0 | BUSY => std::hint::spin_loop(),
                Err(_) => return,
            }
        }
    }
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
                now((slot & FD_MASK) as RawFd);
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
