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
//! So is a pool thread's call: each pool thread has a `PoolCall` of its own that only it
//! writes, and the watchdog, reading them every tenth of a second, publishes the oldest. (A
//! shared list behind a lock, walked when its oldest call ended, cost every pool call two lock
//! round trips and a walk over the running calls.)

use std::cell::OnceCell;
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    /// The calls on the main thread once a pool exists (a streamed body pulled by the event
    /// loop, a body closed there).
    running: Mutex<Vec<Running>>,
    /// Every pool thread's call, in the order the threads registered.
    pool: Mutex<Vec<Arc<PoolCall>>>,
    next_token: AtomicU64,
    /// When the inline call on the main thread started (0: none), while no pool thread exists.
    inline_since: AtomicU64,
}

struct Running {
    token: u64,
    since: u64,
    /// The watchdog has signalled it (once).
    interrupted: bool,
}

/// A pool thread's app call: written by that thread only, read by the watchdog and (under the
/// GIL) by an interruption.
struct PoolCall {
    /// The call's token (0: no call). Stored after `since`, both with release ordering.
    token: AtomicU64,
    since: AtomicU64,
    /// The token of the call the watchdog interrupted: left out of what the master sees, and
    /// once it has outlived its interruption by [`GRACE`] the worker replaces itself.
    interrupted: AtomicU64,
    /// The thread's Python thread ident, for the interruption.
    python_thread: u64,
}

impl PoolCall {
    /// The running call as (token, start), or `None` between calls or while one starts or ends
    /// under the reader (it is read again a tenth of a second later).
    fn read(&self) -> Option<(u64, u64)> {
        let token = self.token.load(Ordering::Acquire);
        if token == 0 {
            return None;
        }
        let since = self.since.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (self.token.load(Ordering::Relaxed) == token).then_some((token, since))
    }
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
    static POOL_CALL: OnceCell<Arc<PoolCall>> = const { OnceCell::new() };
}

/// Set once a pool thread registers: from then on the main thread's calls go to the shared list
/// (no longer to `inline_since`), so that one value in the slot covers them and the pool's.
static POOLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Called by each pool thread once, with its Python thread ident (before it takes any call).
pub fn register_pool_thread(ident: u64) {
    POOLED.store(true, Ordering::SeqCst);
    let Some(hb) = HEARTBEAT.get() else { return };
    let call = Arc::new(PoolCall {
        token: AtomicU64::new(0),
        since: AtomicU64::new(0),
        interrupted: AtomicU64::new(0),
        python_thread: ident,
    });
    if let Ok(mut pool) = hb.pool.lock() {
        pool.push(call.clone());
    }
    POOL_CALL.with(|slot| drop(slot.set(call)));
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
        pool: Mutex::new(Vec::new()),
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
        let pooled = POOLED.load(Ordering::Relaxed);
        let overdue_pool = sweep(hb, now, limit, pooled, &mut || {
            sys::signal_thread(main, sys::timeout_signal())
        });
        // Outside the locks: interrupting takes the GIL, which a thread may hold while it waits
        // for one of them (the main thread listing a call, a pool thread registering).
        for (ident, token) in overdue_pool {
            interrupt(ident, token);
        }
    }
}

/// One look at the running calls at `now`: a listed call past `limit` has the main thread
/// signalled (once), a pool call past it is marked interrupted and returned as (Python thread
/// ident, token) for the caller to interrupt, and one still running [`GRACE`] after that marks
/// the worker stuck. With a pool, the oldest call left is then published.
fn sweep(
    hb: &Heartbeat,
    now: u64,
    limit: u64,
    pooled: bool,
    signal_main: &mut dyn FnMut(),
) -> Vec<(u64, u64)> {
    let mut overdue_pool = Vec::new();
    let Ok(mut running) = hb.running.lock() else {
        return overdue_pool;
    };
    for call in running
        .iter_mut()
        .filter(|c| !c.interrupted && now.saturating_sub(c.since) >= limit)
    {
        call.interrupted = true;
        signal_main();
    }
    // The oldest pool call left counted, gathered on the same walk.
    let mut oldest = None;
    if let Ok(pool) = hb.pool.lock() {
        for call in pool.iter() {
            let Some((token, since)) = call.read() else {
                continue;
            };
            let age = now.saturating_sub(since);
            if call.interrupted.load(Ordering::Relaxed) == token {
                if age >= limit.saturating_add(crate::deadline::millis(GRACE)) {
                    STUCK.store(true, Ordering::Relaxed);
                }
            } else if age >= limit {
                call.interrupted.store(token, Ordering::Relaxed);
                overdue_pool.push((call.python_thread, token));
            } else {
                oldest = Some(oldest.map_or(since, |o: u64| o.min(since)));
            }
        }
    }
    // Without a pool, the inline call publishes its own start, as it goes.
    if pooled {
        publish(hb, &running, oldest);
    }
    overdue_pool
}

/// Whether the app call registered under `token` has not ended yet. A pool thread ends its
/// call while it holds the GIL, so asked under the GIL the answer stays true until released.
pub fn running(token: u64) -> bool {
    HEARTBEAT.get().is_some_and(|hb| {
        let listed = hb
            .running
            .lock()
            .is_ok_and(|running| running.iter().any(|c| c.token == token));
        listed
            || hb.pool.lock().is_ok_and(|pool| {
                pool.iter()
                    .any(|c| c.token.load(Ordering::Acquire) == token)
            })
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
    if !POOLED.load(Ordering::Relaxed) {
        return enter_inline(hb);
    }
    if let Some(guard) = POOL_CALL.with(|call| call.get().map(|call| enter_pool(hb, call))) {
        return guard;
    }
    let token = hb.next_token.fetch_add(1, Ordering::Relaxed);
    let since = sys::monotonic_ms().max(1);
    if let Ok(mut running) = hb.running.lock() {
        running.push(Running {
            token,
            since,
            interrupted: false,
        });
        // The published start is the oldest counted call's (0: none): a new call changes it
        // only when none was counted or it started earlier (the clock was read before the
        // lock).
        let oldest = hb.slot.in_app_since.load(Ordering::Relaxed);
        if oldest == 0 || since < oldest {
            hb.slot.in_app_since.store(since, Ordering::Relaxed);
        }
    }
    AppGuard {
        token,
        kind: Kind::Listed,
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
        kind: Kind::Inline,
    }
}

/// A pool thread's call, in its own [`PoolCall`]; the watchdog publishes it (a tenth of a
/// second at most later, against the master's two seconds of grace past `--timeout`). A call
/// inside another one (a body closed within the call) is covered by the outer one.
fn enter_pool(hb: &Heartbeat, call: &PoolCall) -> AppGuard {
    if call.token.load(Ordering::Relaxed) != 0 {
        return AppGuard::NONE;
    }
    let token = hb.next_token.fetch_add(1, Ordering::Relaxed);
    // Release: a reader that sees this start also sees the previous call's end (`read`).
    call.since
        .store(sys::monotonic_ms().max(1), Ordering::Release);
    call.token.store(token, Ordering::Release);
    AppGuard {
        token,
        kind: Kind::Pool,
    }
}

/// Once a pool exists, the oldest counted call's start goes to the slot (0 when none), for the
/// master to judge: the main thread's calls, and the pool threads' calls but those interrupted
/// (their clients have had their 504 from the I/O thread, and a call that stays stuck has the
/// worker replace itself, letting its other requests finish; its loop still beats, so the
/// master still sees the worker if that stops).
///
/// `pooled` is the oldest counted pool call's start: the watchdog's sweep gathers it as it
/// walks the pool, anyone else asks [`pool_oldest`].
fn publish(hb: &Heartbeat, running: &[Running], pooled: Option<u64>) {
    let listed = running.iter().map(|c| c.since).min();
    // An inline call, made before the first pool thread registered.
    let inline = Some(hb.inline_since.load(Ordering::SeqCst)).filter(|&since| since != 0);
    let oldest = listed
        .into_iter()
        .chain(pooled)
        .chain(inline)
        .min()
        .unwrap_or(0);
    hb.slot.in_app_since.store(oldest, Ordering::Relaxed);
}

/// The oldest start among the pool calls not interrupted.
fn pool_oldest(hb: &Heartbeat) -> Option<u64> {
    hb.pool.lock().ok().and_then(|pool| {
        pool.iter()
            .filter_map(|c| {
                c.read()
                    .filter(|&(token, _)| c.interrupted.load(Ordering::Relaxed) != token)
            })
            .map(|(_, since)| since)
            .min()
    })
}

pub struct AppGuard {
    /// The call's token (0: none).
    token: u64,
    kind: Kind,
}

enum Kind {
    /// Nothing registered: no heartbeat, or a call inside another one.
    None,
    /// An inline call, registered in `inline_since`.
    Inline,
    /// A call of the main thread in the shared list.
    Listed,
    /// A pool thread's call, in its [`PoolCall`].
    Pool,
}

impl AppGuard {
    const NONE: AppGuard = AppGuard {
        token: 0,
        kind: Kind::None,
    };
}

impl Drop for AppGuard {
    fn drop(&mut self) {
        let Some(hb) = HEARTBEAT.get() else {
            return;
        };
        match self.kind {
            Kind::None => {}
            Kind::Inline => {
                // The loop was alive when the call started; with no clock read here, the beat
                // it records is that start. A call ends at most `--timeout` and a little after
                // it started (interrupted), well within what the master allows a beat (the
                // timeout, plus the grace period, plus a beat's interval).
                let since = hb.inline_since.swap(0, Ordering::SeqCst);
                hb.slot.in_app_since.store(0, Ordering::Relaxed);
                hb.slot.beat.fetch_max(since, Ordering::Relaxed);
            }
            Kind::Pool => POOL_CALL.with(|call| {
                if let Some(call) = call.get() {
                    call.token.store(0, Ordering::Release);
                }
            }),
            Kind::Listed => {
                if let Ok(mut running) = hb.running.lock() {
                    // The order of the list does not matter; the published start changes only
                    // when this call was as old as it.
                    if let Some(at) = running.iter().position(|c| c.token == self.token) {
                        let call = running.swap_remove(at);
                        if call.since <= hb.slot.in_app_since.load(Ordering::Relaxed) {
                            publish(hb, &running, pool_oldest(hb));
                        }
                    }
                }
                hb.slot.beat.store(sys::monotonic_ms(), Ordering::Relaxed);
            }
        }
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
    hb.running
        .lock()
        .is_ok_and(|running| running.iter().any(|c| now.saturating_sub(c.since) >= limit))
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
mod tests;
