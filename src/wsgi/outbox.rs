//! How a pool thread's reply reaches the runtime thread. Sending it at once wakes the runtime
//! thread for every reply (an eventfd write, an `epoll_wait` return, and a wake-up of the
//! client's reader for each lone response). While every pool thread is busy and requests queue
//! for them, replies are instead held here and sent in batches by the runtime thread: by a pump
//! task on a schedule ([`Outbox::period`]), or sooner when the runtime thread is up anyway
//! to hand over a request. The period is [`PUMP_EVERY`], two milliseconds, unless requests wait
//! longer than 32 ms for a thread: then it is a sixteenth of that wait, up to [`PUMP_MOST`]. A
//! held reply so waits about half a period on average (a tick can land up to a millisecond
//! late, see [`PUMP_EVERY`]), never more than a sixteenth or so of what its request has already
//! waited in the queue, plus that millisecond; when the pool has an idle thread, nothing is held.
//!
//! Each tick wakes the runtime thread, which sends the replies and, a moment later, reads the
//! clients' next requests: on the 10 ms-sleep benchmark (every request waiting about 70 ms),
//! ticks every 4 ms instead of 2 cost 0.93–0.94× the CPU per request, measured against the
//! fixed 2 ms at the same time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

/// How often the pump sends the replies that gathered, unless requests wait long for a thread
/// (see [`Outbox::period`]): its ticks are this far apart on a kept schedule. Tokio's timer
/// wheel and `epoll_wait` count whole milliseconds, so a tick can land up to a millisecond
/// late, and the next one is then that much closer; on the 10 ms-sleep benchmark the ticks
/// came 2.0 ms apart on average (ninetieth percentile 2.4–2.5 ms, 99th 2.7–3.4 ms). The pump
/// this replaced re-armed a 1 ms timer after each tick, which those roundings turned into
/// 2.1–2.15 ms on average (ninetieth percentile 2.5 ms), at the cost of a wake-up of the
/// runtime per tick (see `pool::pump`).
pub const PUMP_EVERY: Duration = Duration::from_millis(2);

/// The longest period of the pump, however long requests wait for a thread.
pub const PUMP_MOST: Duration = Duration::from_millis(4);

pub struct Outbox<T> {
    state: Mutex<State<T>>,
    /// How long the last request a pool thread took had waited for it, in microseconds.
    waited_us: AtomicU64,
}

struct State<T> {
    held: Vec<(oneshot::Sender<T>, T)>,
    /// Whether a pump runs, which sends what is held: only then is anything held.
    pumping: bool,
}

impl<T> Outbox<T> {
    pub fn new() -> Outbox<T> {
        Outbox {
            state: Mutex::new(State {
                held: Vec::new(),
                pumping: false,
            }),
            waited_us: AtomicU64::new(0),
        }
    }

    /// On a pool thread, as it takes a request: how long the request waited.
    pub fn waited(&self, wait: Duration) {
        let us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.waited_us.store(us, Ordering::Relaxed);
    }

    /// The pump's period: a sixteenth of how long the last request taken had waited for a
    /// thread (counted from when it came to the pool, room included), between [`PUMP_EVERY`]
    /// and [`PUMP_MOST`].
    pub fn period(&self) -> Duration {
        let us = self.waited_us.load(Ordering::Relaxed) / 16;
        Duration::from_micros(us).clamp(PUMP_EVERY, PUMP_MOST)
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every step under the lock leaves the state whole: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// On a pool thread: holds `reply` for the pump when `busy` (requests wait for a thread)
    /// and a pump runs, sends it now otherwise. Returns it if its client has gone.
    pub fn post(&self, to: oneshot::Sender<T>, reply: T, busy: bool) -> Option<T> {
        if busy {
            let mut state = self.lock();
            if state.pumping {
                state.held.push((to, reply));
                return None;
            }
        }
        to.send(reply).err()
    }

    /// On the runtime thread: sends every held reply (those whose client has gone are dropped).
    /// They go under the lock, which keeps the list's allocation for the next ones: sending
    /// wakes only tasks of this thread, and dropping a held reply runs no Python code.
    pub fn flush(&self) {
        let mut state = self.lock();
        for (to, reply) in state.held.drain(..) {
            drop(to.send(reply));
        }
    }

    /// Marks a pump as running; `true` if none was, and the caller is to start it.
    pub fn start_pump(&self) -> bool {
        !std::mem::replace(&mut self.lock().pumping, true)
    }

    /// The pump stops: nothing is held from now on, and what was is sent.
    pub fn stop_pump(&self) {
        let held = {
            let mut state = self.lock();
            state.pumping = false;
            std::mem::take(&mut state.held)
        };
        for (to, reply) in held {
            drop(to.send(reply));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_held_only_while_busy_and_pumping() {
        let outbox = Outbox::<u32>::new();
        let (to, mut rx) = oneshot::channel();
        assert_eq!(outbox.post(to, 1, true), None);
        assert_eq!(rx.try_recv(), Ok(1), "no pump: sent at once");
        assert!(outbox.start_pump());
        assert!(!outbox.start_pump());
        let (to, mut idle) = oneshot::channel();
        assert_eq!(outbox.post(to, 2, false), None);
        assert_eq!(idle.try_recv(), Ok(2), "an idle pool: sent at once");
        let (to, mut held) = oneshot::channel();
        assert_eq!(outbox.post(to, 3, true), None);
        assert!(held.try_recv().is_err());
        outbox.flush();
        assert_eq!(held.try_recv(), Ok(3));
        let (to, mut last) = oneshot::channel();
        assert_eq!(outbox.post(to, 4, true), None);
        outbox.stop_pump();
        assert_eq!(last.try_recv(), Ok(4), "stopping sends what was held");
        let (to, gone) = oneshot::channel();
        drop(gone);
        assert_eq!(
            outbox.post(to, 5, true),
            Some(5),
            "a gone client's reply comes back"
        );
    }

    #[test]
    fn the_pump_slows_only_for_requests_that_waited_long() {
        let outbox = Outbox::<u32>::new();
        assert_eq!(outbox.period(), PUMP_EVERY, "nothing taken yet");
        outbox.waited(Duration::from_millis(20));
        assert_eq!(outbox.period(), PUMP_EVERY);
        outbox.waited(Duration::from_millis(48));
        assert_eq!(outbox.period(), Duration::from_millis(3));
        outbox.waited(Duration::from_secs(30));
        assert_eq!(outbox.period(), PUMP_MOST);
        outbox.waited(Duration::ZERO);
        assert_eq!(outbox.period(), PUMP_EVERY);
    }
}
