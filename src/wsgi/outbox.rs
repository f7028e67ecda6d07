//! How a pool thread's reply reaches the runtime thread. Sending it at once wakes the runtime
//! thread for every reply (an eventfd write, an `epoll_wait` return, and a wake-up of the
//! client's reader for each lone response). While every pool thread is busy and requests queue
//! for them, replies are instead held here and sent in batches by the runtime thread: by a pump
//! task every [`PUMP_EVERY`], or sooner when the runtime thread is up anyway to hand
//! over a request. A held reply waits about a millisecond on average, two at most on the
//! schedule, three or so when a tick lands late (see [`PUMP_EVERY`]), while its request has
//! already waited in the queue for a thread; when the pool has an idle thread, nothing is held.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

/// How often the pump sends the replies that gathered: its ticks are this far apart on a fixed
/// schedule. Tokio's timer wheel and `epoll_wait` count whole milliseconds, so a tick
/// can land up to a millisecond late, and the next one is then that much closer; on the 10
/// ms-sleep benchmark the ticks came 2.0 ms apart on average (ninetieth percentile 2.4–2.5 ms,
/// 99th 2.7–3.4 ms). The pump this replaced re-armed a 1 ms timer after each tick, which those
/// roundings turned into 2.1–2.15 ms on average (ninetieth percentile 2.5 ms), at the cost of a
/// wake-up of the runtime per tick (see `pool::pump`).
pub const PUMP_EVERY: Duration = Duration::from_millis(2);

pub struct Outbox<T> {
    state: Mutex<State<T>>,
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
        }
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
    /// wakes only tasks of this thread, and a held reply owns no Python object to drop.
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
}
