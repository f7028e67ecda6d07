//! What a worker counts for `--metrics-bind` and `--statsd-host`, in its shared-memory slot
//! (`sys::Slot::counters`), which the master reads and adds up: requests by route kind and
//! status class, a duration histogram per route kind, bytes in and out, open connections,
//! requests in flight, the pool's queue, refusals by status, and why the worker recycled
//! itself. On the request path each count is one relaxed load and store (a worker's counters
//! have one writer, its I/O thread; the pool's queue is counted with atomic adds, as two
//! threads touch it). The open-connection gauges of all the workers also tell the accept loop
//! whether this worker holds more than its share ([`over_share`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Duration;

use crate::sys::{SharedSlots, Slot};

/// Route kinds: answered on the spot by the server (a file, a redirect, an error page), or by
/// the app.
pub const ROUTES: [&str; 2] = ["static", "app"];
/// Upper bounds of the duration buckets, in microseconds (Prometheus's default buckets).
pub const BUCKETS_US: [u64; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];
/// Refusals counted by status (the last one: any other).
pub const REFUSED: [u16; 6] = [400, 408, 413, 414, 431, 503];

/// Where each count lives in a slot.
pub mod at {
    use super::{BUCKETS_US, REFUSED, ROUTES};
    /// Requests: `route * 5 + class` (class 0 is 1xx … 4 is 5xx).
    pub const REQUESTS: usize = 0;
    /// Duration buckets: `route * (BUCKETS + 1) + bucket`, the last bucket being +Inf.
    pub const DURATION: usize = REQUESTS + ROUTES.len() * 5;
    /// Sum of durations in microseconds, per route.
    pub const DURATION_SUM: usize = DURATION + ROUTES.len() * (BUCKETS_US.len() + 1);
    pub const RECEIVED: usize = DURATION_SUM + ROUTES.len();
    pub const SENT: usize = RECEIVED + 1;
    /// Gauges (not carried over once the worker is gone).
    pub const OPEN_CONNECTIONS: usize = SENT + 1;
    pub const IN_FLIGHT: usize = OPEN_CONNECTIONS + 1;
    pub const QUEUED: usize = IN_FLIGHT + 1;
    /// Refusals by status, `REFUSED` order, then any other.
    pub const REFUSED_AT: usize = QUEUED + 1;
    /// Why the worker recycled itself (a `Recycle` as a number), read once it exited.
    pub const RECYCLED: usize = REFUSED_AT + REFUSED.len() + 1;
    /// 1 while the worker's accept loops run (from when it serves until it closes).
    pub const ACCEPTING: usize = RECYCLED + 1;
    pub const END: usize = ACCEPTING + 1;
}

const _: () = assert!(at::END <= crate::sys::COUNTERS);

/// Why a worker recycled itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recycle {
    MaxRequests = 1,
    MaxRss = 2,
}

static SLOT: OnceLock<&'static Slot> = OnceLock::new();
/// Every worker's slot, this one's among them.
static ALL: OnceLock<&'static SharedSlots> = OnceLock::new();

/// Open connections a worker may hold above an even share before it leaves new ones to the
/// others: enough that a burst is never held up by rounding, few enough that a burst of 64
/// connections over 2 workers splits no worse than 34/30 when both are accepting.
pub const SHARE_SLACK: u64 = 2;

/// Binds this worker's counters to its slot (zeroed by the master before the fork), and lets it
/// read the others' (for [`over_share`]).
pub fn install(slot: &'static Slot, all: &'static SharedSlots) {
    let _ = SLOT.set(slot);
    let _ = ALL.set(all);
}

/// This worker's accept loops run (true) or have stopped (false): only accepting workers share
/// the new connections (one still booting, or closing, takes none).
pub fn accepting(on: bool) {
    if let Some(c) = counter(at::ACCEPTING) {
        c.store(u64::from(on), Relaxed);
    }
}

/// Whether this worker holds more than [`SHARE_SLACK`] open connections above an even share of
/// the accepting workers' (nginx's `accept_disabled`): then the accept loop leaves new
/// connections to the others for a moment. Always false with one accepting worker.
pub fn over_share() -> bool {
    let (Some(mine), Some(all)) = (SLOT.get(), ALL.get()) else {
        return false;
    };
    let own = mine.counters[at::OPEN_CONNECTIONS].load(Relaxed);
    if own <= SHARE_SLACK {
        return false;
    }
    let (mut sharing, mut total) = (0u64, 0u64);
    for slot in (0..all.in_use()).map(|i| all.get(i)) {
        if slot.pid.load(Relaxed) != 0 && slot.counters[at::ACCEPTING].load(Relaxed) != 0 {
            sharing += 1;
            total = total.saturating_add(slot.counters[at::OPEN_CONNECTIONS].load(Relaxed));
        }
    }
    sharing > 1 && own > total / sharing + SHARE_SLACK
}

#[inline]
fn counter(index: usize) -> Option<&'static AtomicU64> {
    SLOT.get().map(|slot| &slot.counters[index])
}

/// Adds `n` to a counter only this worker's I/O thread writes: a load and a store, no locked
/// instruction.
#[inline]
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

#[inline]
fn bump(index: usize, n: u64) {
    if let Some(c) = counter(index) {
        add(c, n);
    }
}

/// One answered request (called once its last byte went out, or it was abandoned).
#[inline]
pub fn response(app: bool, status: u16, bytes: u64, elapsed: Duration) {
    let Some(slot) = SLOT.get() else { return };
    let c = &slot.counters;
    let route = usize::from(app);
    let class = usize::from(status / 100).clamp(1, 5) - 1;
    add(&c[at::REQUESTS + route * 5 + class], 1);
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let bucket = BUCKETS_US
        .iter()
        .position(|&bound| micros <= bound)
        .unwrap_or(BUCKETS_US.len());
    add(
        &c[at::DURATION + route * (BUCKETS_US.len() + 1) + bucket],
        1,
    );
    add(&c[at::DURATION_SUM + route], micros);
    add(&c[at::SENT], bytes);
}

/// Bytes read from clients.
#[inline]
pub fn received(n: usize) {
    bump(at::RECEIVED, n as u64);
}

/// A request the server refused itself (its status; 4xx and 503).
pub fn refused(status: u16) {
    let i = REFUSED
        .iter()
        .position(|&s| s == status)
        .unwrap_or(REFUSED.len());
    bump(at::REFUSED_AT + i, 1);
}

/// The worker is about to recycle itself, for this reason.
pub fn recycling(reason: Recycle) {
    if let Some(c) = counter(at::RECYCLED) {
        c.store(reason as u64, Relaxed);
    }
}

/// A gauge of the I/O thread: +1 now, -1 when the guard drops.
pub struct Gauge(usize);

impl Gauge {
    #[inline]
    fn up(index: usize) -> Gauge {
        bump(index, 1);
        Gauge(index)
    }
}

impl Drop for Gauge {
    #[inline]
    fn drop(&mut self) {
        bump(self.0, u64::MAX);
    }
}

/// An open connection, until the guard drops.
#[inline]
pub fn connection() -> Gauge {
    Gauge::up(at::OPEN_CONNECTIONS)
}

/// A request being answered, until the guard drops.
#[inline]
pub fn in_flight() -> Gauge {
    Gauge::up(at::IN_FLIGHT)
}

/// A request entering (+1) or leaving (-1) the pool's queue; two threads count it.
pub fn queued(enter: bool) {
    if let Some(c) = counter(at::QUEUED) {
        if enter {
            c.fetch_add(1, Relaxed);
        } else {
            c.fetch_sub(1, Relaxed);
        }
    }
}
