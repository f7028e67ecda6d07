//! The pool's `--timeout` backstop on the runtime thread: a call that has run in a pool thread
//! for longer than the limit is answered 504 by the runtime thread, whether or not the thread
//! ever comes back (one stuck in C code does not). The watchdog interrupts such a call in
//! Python at the limit; this is for the thread it cannot reach.
//!
//! No timer per request: each pool thread publishes which call it runs and since when (its
//! [`Clock`]), and one sweep task on the runtime thread, running only while calls are out,
//! reads the clocks every [`tick`] of the limit and wakes the calls past it. A 504 therefore
//! comes between the limit and a tick after it (at most a second; a tenth of short limits).
//! Time spent queued for a thread does not count: a call's clock starts when a thread takes it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::deadline::millis;

/// What one pool thread runs: the call's id (0 when none) and since when (milliseconds since
/// the pool's epoch; read only while the id is set).
#[derive(Default)]
pub struct Clock {
    call: AtomicU64,
    since: AtomicU64,
}

impl Clock {
    /// On the pool thread, as it starts call `id` at `now` (nothing for id 0: no limit).
    pub fn start(&self, id: u64, epoch: Instant, now: Instant) {
        if id != 0 {
            let since = now.saturating_duration_since(epoch);
            self.since.store(millis(since), Ordering::Relaxed);
            // Release: a sweep that reads this id reads the `since` stored before it.
            self.call.store(id, Ordering::Release);
        }
    }

    /// On the pool thread, once the call is over.
    pub fn stop(&self, id: u64) {
        if id != 0 {
            self.call.store(0, Ordering::Release);
        }
    }
}

/// How often the sweep reads the clocks: a tenth of the limit, between 10 ms and 1 s.
pub fn tick(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// The calls handed to the pool and not yet answered, on the runtime thread.
pub struct Overrun {
    limit: Duration,
    epoch: Instant,
    clocks: Arc<[Clock]>,
    calls: RefCell<Calls>,
}

#[derive(Default)]
struct Calls {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    sweeping: bool,
}

#[derive(Default)]
struct Slot {
    /// The generation (high half) and index (low half) of the call in this slot; 0 when free.
    id: u64,
    waker: Option<Waker>,
    over: bool,
}

/// A call being watched; dropping it (answered, or its client gone) forgets it.
pub struct Watched {
    overrun: Rc<Overrun>,
    id: u64,
}

impl Overrun {
    pub fn new(limit: Duration, epoch: Instant, clocks: Arc<[Clock]>) -> Rc<Overrun> {
        Rc::new(Overrun {
            limit,
            epoch,
            clocks,
            calls: RefCell::new(Calls::default()),
        })
    }

    /// Starts watching a call about to be handed over; its id goes with the job to the thread.
    pub fn watch(self: &Rc<Self>) -> Watched {
        let mut calls = self.calls.borrow_mut();
        let index = match calls.free.pop() {
            Some(index) => index,
            None => {
                calls.slots.push(Slot::default());
                u32::try_from(calls.slots.len() - 1).expect("fewer than 2^32 calls out")
            }
        };
        let slot = &mut calls.slots[index as usize];
        // The generation goes up each time a slot is reused, so that a clock read late cannot
        // name the slot's next call; it never reaches 0 in the high half.
        let generation = ((slot.id >> 32) % u64::from(u32::MAX)) + 1;
        slot.id = generation << 32 | u64::from(index);
        slot.over = false;
        let id = slot.id;
        calls.live += 1;
        let start = !std::mem::replace(&mut calls.sweeping, true);
        drop(calls);
        if start {
            tokio::task::spawn_local(sweep(self.clone()));
        }
        Watched {
            overrun: self.clone(),
            id,
        }
    }
}

impl Watched {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Ready once the call has run past the limit; until then, the task is woken when it does.
    pub fn poll_over(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut calls = self.overrun.calls.borrow_mut();
        let slot = &mut calls.slots[(self.id & u64::from(u32::MAX)) as usize];
        if slot.over {
            return Poll::Ready(());
        }
        match &slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut calls = self.overrun.calls.borrow_mut();
        let index = (self.id & u64::from(u32::MAX)) as u32;
        let slot = &mut calls.slots[index as usize];
        // The generation stays in the id, for the next call in this slot.
        slot.id &= !u64::from(u32::MAX);
        slot.waker = None;
        calls.free.push(index);
        calls.live -= 1;
    }
}

/// Every tick while calls are out: the calls some thread has run past the limit are woken.
async fn sweep(overrun: Rc<Overrun>) {
    let tick = tick(overrun.limit);
    let limit = millis(overrun.limit);
    let mut over = Vec::new();
    loop {
        tokio::time::sleep(tick).await;
        let mut calls = overrun.calls.borrow_mut();
        if calls.live == 0 {
            calls.sweeping = false;
            return;
        }
        let now = millis(overrun.epoch.elapsed());
        for clock in overrun.clocks.iter() {
            let id = clock.call.load(Ordering::Acquire);
            if id == 0 || now.saturating_sub(clock.since.load(Ordering::Relaxed)) < limit {
                continue;
            }
            let Some(slot) = calls.slots.get_mut((id & u64::from(u32::MAX)) as usize) else {
                continue;
            };
            if slot.id == id && !slot.over {
                slot.over = true;
                over.extend(slot.waker.take());
            }
        }
        drop(calls);
        for waker in over.drain(..) {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_is_a_tenth_of_the_limit_within_bounds() {
        assert_eq!(tick(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_millis(200));
        assert_eq!(tick(Duration::from_millis(1)), Duration::from_millis(10));
        assert_eq!(tick(Duration::MAX), Duration::from_secs(1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn only_a_call_run_past_the_limit_is_over() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let epoch = Instant::now();
                let clocks: Arc<[Clock]> = (0..2).map(|_| Clock::default()).collect();
                let overrun = Overrun::new(Duration::from_millis(100), epoch, clocks.clone());
                let running = overrun.watch();
                let queued = overrun.watch();
                assert_ne!(running.id(), queued.id());
                clocks[0].start(running.id(), epoch, Instant::now());
                let over = std::future::poll_fn(|cx| running.poll_over(cx));
                tokio::time::timeout(Duration::from_secs(5), over)
                    .await
                    .expect("the running call is over its limit");
                let mut cx = Context::from_waker(Waker::noop());
                assert!(queued.poll_over(&mut cx).is_pending(), "never started");
                // A slot reused after its call ended gets a new id: the old clock names no one.
                let old = running.id();
                drop(running);
                let next = overrun.watch();
                assert_ne!(next.id(), old);
                assert!(next.poll_over(&mut cx).is_pending());
                clocks[0].stop(old);
            })
            .await;
    }
}
