//! How a request reaches a pool thread: idle threads wait on a LIFO stack, each parked on its
//! own futex, and a new job goes straight into the seat of the thread that went idle last — one
//! wake-up of exactly one thread, whose caches are the warmest. Only when every thread is busy
//! does a job wait in the FIFO queue, which a thread empties before it parks again. (A shared
//! queue behind one lock and a condition variable wakes an arbitrary thread and hands the lock
//! from waiter to waiter: several futex calls per request.) Nothing here blocks the runtime
//! thread: [`Handoff::push`] takes a short lock and at most unparks a thread.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::thread::Thread;

pub struct Handoff<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Jobs no idle thread could take yet, oldest first.
    queue: VecDeque<T>,
    /// The seats of parked threads, the most recently parked last.
    idle: Vec<usize>,
    seats: Vec<Seat<T>>,
    closed: bool,
}

struct Seat<T> {
    thread: Thread,
    /// A job given to this thread while it was parked.
    job: Option<T>,
    /// Whether the seat is on the `idle` stack.
    parked: bool,
}

impl<T> Handoff<T> {
    pub fn new() -> Handoff<T> {
        Handoff {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: Vec::new(),
                seats: Vec::new(),
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the state consistent (no step spans two
        // fields' updates that a panic could split), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called once by each pool thread before its first [`take`](Self::take): its seat number.
    pub fn join(&self) -> usize {
        let mut state = self.lock();
        state.seats.push(Seat {
            thread: std::thread::current(),
            job: None,
            parked: false,
        });
        state.seats.len() - 1
    }

    /// Gives `job` to the thread that went idle last, or queues it when all are busy (then
    /// returns `true`).
    pub fn push(&self, job: T) -> bool {
        let mut state = self.lock();
        let Some(seat) = state.idle.pop() else {
            state.queue.push_back(job);
            return true;
        };
        let seat = &mut state.seats[seat];
        seat.parked = false;
        seat.job = Some(job);
        let thread = seat.thread.clone();
        drop(state);
        thread.unpark();
        false
    }

    /// Whether jobs are waiting for a thread (every thread is busy).
    pub fn backlog(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// The next job for the thread in `seat`, parking it while there is none; `None` once the
    /// hand-off is closed and nothing is left for it.
    pub fn take(&self, seat: usize) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.seats.get_mut(seat)?.job.take() {
                return Some(job);
            }
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            if !state.seats[seat].parked {
                state.seats[seat].parked = true;
                state.idle.push(seat);
            }
            drop(state);
            // A job may have been given between the unlock and here: unpark before park makes
            // this park return at once. Spurious returns go round the loop.
            std::thread::park();
            state = self.lock();
        }
    }

    /// No more jobs: every thread returns `None` from `take` once the queue is empty.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let parked: Vec<Thread> = state.seats.iter().map(|s| s.thread.clone()).collect();
        drop(state);
        for thread in parked {
            thread.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;

    #[test]
    fn every_job_is_taken_once_and_close_ends_the_threads() {
        let handoff = Arc::new(Handoff::<u32>::new());
        let (done, results) = mpsc::channel();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let handoff = handoff.clone();
                let done = done.clone();
                std::thread::spawn(move || {
                    let seat = handoff.join();
                    while let Some(job) = handoff.take(seat) {
                        done.send(job).unwrap();
                    }
                })
            })
            .collect();
        for job in 0..1000 {
            handoff.push(job);
        }
        let mut seen: Vec<u32> = results.iter().take(1000).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        handoff.close();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn the_last_thread_to_park_gets_the_next_job() {
        let handoff = Handoff::<u32>::new();
        let a = handoff.join();
        let b = handoff.join();
        {
            let mut state = handoff.lock();
            for seat in [a, b] {
                state.seats[seat].parked = true;
                state.idle.push(seat);
            }
        }
        assert!(!handoff.push(7), "handed to a parked thread, not queued");
        assert_eq!(handoff.lock().seats[b].job, Some(7));
        assert_eq!(handoff.lock().idle, vec![a]);
        assert_eq!(handoff.take(b), Some(7));
        assert!(!handoff.backlog());
        handoff.lock().idle.clear();
        assert!(handoff.push(8), "no thread parked: queued");
        assert!(handoff.backlog());
        assert_eq!(handoff.take(b), Some(8));
    }
}
