//! A worker's side of liveness: its event loop beats into its shared-memory slot once a second,
//! and every app call marks when it started. A watchdog thread interrupts an app call that
//! overruns `--timeout` (the signal makes Python raise `RequestTimeout` in the running code);
//! the master, reading the same slot, kills a worker that stays stuck past the grace period.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use crate::sys::{self, Slot};

/// How long after `--timeout` the master waits for an interrupted app before killing the worker.
pub const GRACE: Duration = Duration::from_secs(2);
/// How often the event loop beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);

struct Heartbeat {
    slot: &'static Slot,
    timeout_ms: Option<u64>,
}

static HEARTBEAT: OnceLock<Heartbeat> = OnceLock::new();

/// Binds this worker to its slot; with a timeout, starts the watchdog thread that signals the
/// calling (main) thread when an app call overruns.
pub fn install(slot: &'static Slot, timeout: Option<Duration>) {
    slot.pid.store(sys::getpid(), Ordering::Relaxed);
    slot.in_app_since.store(0, Ordering::Relaxed);
    let timeout_ms = timeout.map(|t| t.as_millis() as u64);
    if HEARTBEAT.set(Heartbeat { slot, timeout_ms }).is_err() {
        return;
    }
    beat();
    if let Some(limit) = timeout_ms {
        let main = sys::current_thread();
        let spawned = std::thread::Builder::new()
            .name("pyrite-watchdog".into())
            .spawn(move || {
                let mut signalled_for = 0;
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let since = slot.in_app_since.load(Ordering::Relaxed);
                    if since != 0
                        && since != signalled_for
                        && sys::monotonic_ms().saturating_sub(since) >= limit
                    {
                        signalled_for = since;
                        sys::signal_thread(main, sys::timeout_signal());
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the request watchdog; --timeout is enforced by the master only");
        }
    }
}

/// Records that the event loop is alive.
pub fn beat() {
    if let Some(hb) = HEARTBEAT.get() {
        hb.slot.beat.store(sys::monotonic_ms(), Ordering::Relaxed);
    }
}

/// Marks an app call in progress until the guard is dropped. Nested guards keep the outer start.
pub fn enter_app() -> AppGuard {
    let Some(hb) = HEARTBEAT.get() else {
        return AppGuard { outer: false };
    };
    let outer = hb.slot.in_app_since.load(Ordering::Relaxed) == 0;
    if outer {
        hb.slot
            .in_app_since
            .store(sys::monotonic_ms().max(1), Ordering::Relaxed);
    }
    AppGuard { outer }
}

pub struct AppGuard {
    outer: bool,
}

impl Drop for AppGuard {
    fn drop(&mut self) {
        if let (true, Some(hb)) = (self.outer, HEARTBEAT.get()) {
            hb.slot.in_app_since.store(0, Ordering::Relaxed);
            hb.slot.beat.store(sys::monotonic_ms(), Ordering::Relaxed);
        }
    }
}

/// True when the app call in progress has run past `--timeout` (the timeout signal's handler
/// only raises then, so a late signal never hits the next request).
pub fn app_overdue() -> bool {
    let Some(hb) = HEARTBEAT.get() else {
        return false;
    };
    let Some(limit) = hb.timeout_ms else {
        return false;
    };
    let since = hb.slot.in_app_since.load(Ordering::Relaxed);
    since != 0 && sys::monotonic_ms().saturating_sub(since) >= limit
}

/// What the master concludes from a booted worker's slot.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Alive,
    /// Stuck in one app call, or its event loop stopped, for longer than timeout + grace.
    Stuck {
        for_ms: u64,
    },
}

/// Judges a worker from its slot (master side).
pub fn judge(slot: &Slot, timeout: Duration, now_ms: u64) -> Verdict {
    let limit = (timeout + GRACE).as_millis() as u64;
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
        age if reference != 0 && age > limit + allowance => Verdict::Stuck { for_ms: age },
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
    }
}
