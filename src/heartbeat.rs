//! A worker's side of liveness: its event loop beats into its shared-memory slot once a second,
//! and every app call is registered with its start time (the oldest one is published in the
//! slot). A watchdog thread interrupts an app call that overruns `--timeout` — on the main
//! thread with a signal whose Python handler raises `RequestTimeout` (this also breaks a
//! `time.sleep`), on a pool thread with an asynchronous exception — and the master, reading the
//! same slot, kills a worker that stays stuck past the grace period. A pool thread's call is
//! the worker's own business once interrupted (the I/O thread has answered 504): it is left out
//! of what the master sees, and if it is still there a grace period later — stuck in C code,
//! where no exception reaches it — the worker is told ([`stuck`]) so that it stops taking work,
//! lets its other requests finish and exits to be replaced.
//!
//! Without a pool (the app called inline, on the event loop's thread), a call is one atomic start
//! time of its own instead of an entry in the shared list: no lock and one clock read per call.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::sys::{self, Slot};

/// How long after `--timeout` the master waits for an interrupted app before killing the worker.
pub const GRACE: Duration = Duration::from_secs(2);
/// How often the event loop beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);

/// Interrupts the Python thread with this `threading.get_ident()` if the call with this token
/// is still running when it holds the GIL (see [`running`]).
pub type Interrupt = fn(u64, u64);

struct Heartbeat {
    slot: &'static Slot,
    timeout_ms: Option<u64>,
    running: Mutex<Vec<Running>>,
    next_token: AtomicU64,
    /// When the inline call on the main thread started (0: none), while no pool thread exists.
    inline_since: AtomicU64,
}

struct Running {
    token: u64,
    since: u64,
    /// `None` for the main thread; a pool thread's Python thread ident otherwise.
    python_thread: Option<u64>,
    interrupted: bool,
    /// A pool call that outlived its interruption by [`GRACE`]: the worker replaces itself.
    stuck: bool,
}

/// Set once a pool thread is stuck in an app call (see [`stuck`]).
static STUCK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a pool thread of this worker is stuck in an app call that no interruption ends
/// (`--threads` > 1): the worker should stop taking work and be replaced.
pub fn stuck() -> bool {
    STUCK.load(Ordering::Relaxed)
}

static HEARTBEAT: OnceLock<Heartbeat> = OnceLock::new();

thread_local! {
    static POOL_THREAD: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Set once a pool thread registers: from then on every call goes to the shared list, so that
/// one value in the slot covers them all.
static POOLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called by each pool thread once, with its Python thread ident (before it takes any call).
pub fn register_pool_thread(ident: u64) {
    POOLED.store(true, Ordering::SeqCst);
    POOL_THREAD.with(|t| t.set(Some(ident)));
}

/// Binds this worker to its slot; with a timeout, starts the watchdog thread. Must be called on
/// the worker's main thread.
pub fn install(slot: &'static Slot, timeout: Option<Duration>, interrupt: Interrupt) {
    slot.pid.store(sys::getpid(), Ordering::Relaxed);
    slot.in_app_since.store(0, Ordering::Relaxed);
    let timeout_ms = timeout.map(crate::deadline::millis);
    let heartbeat = Heartbeat {
        slot,
        timeout_ms,
        running: Mutex::new(Vec::new()),
        next_token: AtomicU64::new(1),
        inline_since: AtomicU64::new(0),
    };
    if HEARTBEAT.set(heartbeat).is_err() {
        return;
    }
    beat();
    if let Some(limit) = timeout_ms {
        let main = sys::current_thread();
        let spawned = std::thread::Builder::new()
            .name("pyrite-watchdog".into())
            .spawn(move || watchdog(limit, main, interrupt));
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the request watchdog; --timeout is enforced by the master only");
        }
    }
}

fn watchdog(limit: u64, main: libc::pthread_t, interrupt: Interrupt) {
    let Some(hb) = HEARTBEAT.get() else { return };
    // The start of the inline call last interrupted, so that it is signalled once.
    let mut signalled = 0;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = sys::monotonic_ms();
        let since = hb.inline_since.load(Ordering::SeqCst);
        if since != 0 && since != signalled && now.saturating_sub(since) >= limit {
            signalled = since;
            sys::signal_thread(main, sys::timeout_signal());
        }
        let mut overdue_pool = Vec::new();
        if let Ok(mut running) = hb.running.lock() {
            for call in running
                .iter_mut()
                .filter(|c| !c.interrupted && now.saturating_sub(c.since) >= limit)
            {
                call.interrupted = true;
                match call.python_thread {
                    None => sys::signal_thread(main, sys::timeout_signal()),
                    Some(ident) => overdue_pool.push((ident, call.token)),
                }
            }
            if !overdue_pool.is_empty() {
                publish(hb, &running);
            }
            let grace = crate::deadline::millis(GRACE);
            let mut newly_stuck = false;
            for call in running.iter_mut().filter(|c| {
                c.python_thread.is_some()
                    && c.interrupted
                    && !c.stuck
                    && now.saturating_sub(c.since) >= limit.saturating_add(grace)
            }) {
                call.stuck = true;
                newly_stuck = true;
            }
            if newly_stuck {
                STUCK.store(true, Ordering::Relaxed);
            }
        }
        // Outside the lock: interrupting takes the GIL, which an app thread may hold while it
        // waits for this lock.
        for (ident, token) in overdue_pool {
            interrupt(ident, token);
        }
    }
}

/// Whether the app call registered under `token` has not ended yet. A pool thread ends its
/// call while it holds the GIL, so asked under the GIL the answer stays true until released.
pub fn running(token: u64) -> bool {
    HEARTBEAT.get().is_some_and(|hb| {
        hb.running
            .lock()
            .is_ok_and(|running| running.iter().any(|c| c.token == token))
    })
}

/// Records that the event loop is alive.
pub fn beat() {
    if let Some(hb) = HEARTBEAT.get() {
        hb.slot.beat.store(sys::monotonic_ms(), Ordering::Relaxed);
    }
}

/// Registers an app call until the guard is dropped.
pub fn enter_app() -> AppGuard {
    let Some(hb) = HEARTBEAT.get() else {
        return AppGuard::NONE;
    };
    let python_thread = POOL_THREAD.with(Cell::get);
    if python_thread.is_none() && !POOLED.load(Ordering::Relaxed) {
        return enter_inline(hb);
    }
    let token = hb.next_token.fetch_add(1, Ordering::Relaxed);
    let since = sys::monotonic_ms().max(1);
    if let Ok(mut running) = hb.running.lock() {
        running.push(Running {
            token,
            since,
            python_thread,
            interrupted: false,
            stuck: false,
        });
        // The published start is the oldest counted call's (0: none): a new call changes it
        // only when none was counted or it started earlier (the clock was read before the
        // lock). No walk over every running call for each one that starts.
        let oldest = hb.slot.in_app_since.load(Ordering::Relaxed);
        if oldest == 0 || since < oldest {
            hb.slot.in_app_since.store(since, Ordering::Relaxed);
        }
    }
    AppGuard {
        token,
        inline: false,
    }
}

/// An inline call (only the main thread writes `inline_since`): its start, published as is. A
/// call inside another one (none today) is covered by the outer one, which started earlier.
fn enter_inline(hb: &Heartbeat) -> AppGuard {
    if hb.inline_since.load(Ordering::Relaxed) != 0 {
        return AppGuard::NONE;
    }
    let since = sys::monotonic_ms().max(1);
    hb.inline_since.store(since, Ordering::SeqCst);
    hb.slot.in_app_since.store(since, Ordering::Relaxed);
    AppGuard {
        token: 0,
        inline: true,
    }
}

/// The oldest running call's start goes to the slot (0 when none), for the master to judge. An
/// interrupted pool call is left out: its client has had its 504 from the I/O thread, and a call
/// that stays stuck has the worker replace itself, letting its other requests finish (its loop
/// still beats, so the master still sees the worker if that stops).
fn publish(hb: &Heartbeat, running: &[Running]) {
    let oldest = running
        .iter()
        .filter(|c| !(c.interrupted && c.python_thread.is_some()))
        .map(|c| c.since)
        .min()
        .unwrap_or(0);
    hb.slot.in_app_since.store(oldest, Ordering::Relaxed);
}

pub struct AppGuard {
    /// The call's entry in the shared list (0: none).
    token: u64,
    /// An inline call, registered in `inline_since`.
    inline: bool,
}

impl AppGuard {
    const NONE: AppGuard = AppGuard {
        token: 0,
        inline: false,
    };
}

impl Drop for AppGuard {
    fn drop(&mut self) {
        if self.inline {
            if let Some(hb) = HEARTBEAT.get() {
                // The loop was alive when the call started; with no clock read here, the beat
                // it records is that start. A call ends at most `--timeout` and a little after
                // it started (interrupted), well within what the master allows a beat (the
                // timeout, plus the grace period, plus a beat's interval).
                let since = hb.inline_since.swap(0, Ordering::SeqCst);
                hb.slot.in_app_since.store(0, Ordering::Relaxed);
                hb.slot.beat.fetch_max(since, Ordering::Relaxed);
            }
            return;
        }
        let Some(hb) = HEARTBEAT.get().filter(|_| self.token != 0) else {
            return;
        };
        if let Ok(mut running) = hb.running.lock() {
            // The order of the list does not matter; the published start changes only when
            // this call was a counted one as old as it.
            if let Some(at) = running.iter().position(|c| c.token == self.token) {
                let call = running.swap_remove(at);
                let counted = !(call.interrupted && call.python_thread.is_some());
                if counted && call.since <= hb.slot.in_app_since.load(Ordering::Relaxed) {
                    publish(hb, &running);
                }
            }
        }
        hb.slot.beat.store(sys::monotonic_ms(), Ordering::Relaxed);
    }
}

/// True when an app call on the main thread has run past `--timeout` (the timeout signal's
/// handler only raises then, so a late signal never hits the next request).
pub fn app_overdue() -> bool {
    let Some(hb) = HEARTBEAT.get() else {
        return false;
    };
    let Some(limit) = hb.timeout_ms else {
        return false;
    };
    let now = sys::monotonic_ms();
    let since = hb.inline_since.load(Ordering::SeqCst);
    if since != 0 && now.saturating_sub(since) >= limit {
        return true;
    }
    hb.running.lock().is_ok_and(|running| {
        running
            .iter()
            .any(|c| c.python_thread.is_none() && now.saturating_sub(c.since) >= limit)
    })
}

/// What the master concludes from a booted worker's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Alive,
    /// Stuck in one app call, or its event loop stopped, for longer than timeout + grace.
    Stuck {
        for_ms: u64,
    },
}

/// Judges a worker from its slot (master side).
pub fn judge(slot: &Slot, timeout: Duration, now_ms: u64) -> Verdict {
    let limit = crate::deadline::millis(crate::deadline::sum(timeout, GRACE));
    let since = slot.in_app_since.load(Ordering::Relaxed);
    let beat = slot.beat.load(Ordering::Relaxed);
    let reference = if since != 0 { since } else { beat };
    // The beat lags by up to BEAT_EVERY when idle.
    let allowance = if since != 0 {
        0
    } else {
        BEAT_EVERY.as_millis() as u64
    };
    match now_ms.saturating_sub(reference) {
        age if reference != 0 && age > limit.saturating_add(allowance) => {
            Verdict::Stuck { for_ms: age }
        }
        _ => Verdict::Alive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let slot = Slot::default();
        let timeout = Duration::from_secs(2);
        assert_eq!(
            judge(&slot, timeout, 100_000),
            Verdict::Alive,
            "never beat: still booting"
        );
        slot.beat.store(100_000, Ordering::Relaxed);
        assert_eq!(judge(&slot, timeout, 104_000), Verdict::Alive);
        assert!(matches!(
            judge(&slot, timeout, 105_500),
            Verdict::Stuck { .. }
        ));
        slot.in_app_since.store(104_000, Ordering::Relaxed);
        assert_eq!(judge(&slot, timeout, 107_000), Verdict::Alive);
        assert!(matches!(
            judge(&slot, timeout, 108_500),
            Verdict::Stuck { .. }
        ));
        // `--timeout 18446744073709551615`: never stuck, never an overflow.
        let forever = Duration::from_secs(u64::MAX);
        assert_eq!(judge(&slot, forever, u64::MAX), Verdict::Alive);
    }
}
