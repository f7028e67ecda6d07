//! The master's verdict on a slot, and what the watchdog's sweep publishes, checked without
//! processes or threads.

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

fn heartbeat() -> Heartbeat {
    Heartbeat {
        slot: Box::leak(Box::default()),
        timeout_ms: Some(1_000),
        running: Mutex::new(Vec::new()),
        pool: Mutex::new(Vec::new()),
        next_token: AtomicU64::new(1),
        inline_since: AtomicU64::new(0),
    }
}

fn pool_call(token: u64, since: u64) -> Arc<PoolCall> {
    Arc::new(PoolCall {
        token: AtomicU64::new(token),
        since: AtomicU64::new(since),
        interrupted: AtomicU64::new(0),
        python_thread: 7,
    })
}

#[test]
fn the_oldest_call_not_interrupted_is_published() {
    let hb = heartbeat();
    let published = || hb.slot.in_app_since.load(Ordering::Relaxed);
    let (a, b) = (pool_call(1, 500), pool_call(2, 300));
    hb.pool
        .lock()
        .unwrap()
        .extend([a.clone(), b.clone(), pool_call(0, 100)]);
    let no_signal = &mut || panic!("no call of the main thread is listed");
    assert!(sweep(&hb, 1_000, 1_000, true, no_signal).is_empty());
    assert_eq!(
        published(),
        300,
        "a thread between calls counts for nothing"
    );
    assert_eq!(
        sweep(&hb, 1_300, 1_000, true, no_signal),
        vec![(7, 2)],
        "the call past the limit is to be interrupted"
    );
    assert_eq!(b.interrupted.load(Ordering::Relaxed), 2);
    assert_eq!(published(), 500, "an interrupted pool call is left out");
    assert!(
        sweep(&hb, 1_400, 1_000, true, no_signal).is_empty(),
        "interrupted once"
    );
    let listed = Running {
        token: 9,
        since: 400,
        interrupted: false,
    };
    publish(&hb, &[listed], pool_oldest(&hb));
    assert_eq!(published(), 400, "the main thread's calls count too");
    // The interrupted thread moves on to its next call, which counts.
    b.since.store(200, Ordering::Release);
    b.token.store(3, Ordering::Release);
    publish(&hb, &[], pool_oldest(&hb));
    assert_eq!(published(), 200);
    a.token.store(0, Ordering::Release);
    b.token.store(0, Ordering::Release);
    publish(&hb, &[], pool_oldest(&hb));
    assert_eq!(published(), 0, "nothing running");
}

#[test]
fn without_a_pool_the_sweep_leaves_the_inline_start_alone() {
    let hb = heartbeat();
    hb.inline_since.store(500, Ordering::SeqCst);
    hb.slot.in_app_since.store(500, Ordering::Relaxed);
    assert!(sweep(&hb, 700, 1_000, false, &mut || {}).is_empty());
    assert_eq!(hb.slot.in_app_since.load(Ordering::Relaxed), 500);
    // A listed call past the limit signals the main thread, once.
    hb.running.lock().unwrap().push(Running {
        token: 4,
        since: 600,
        interrupted: false,
    });
    let mut signals = 0;
    sweep(&hb, 1_700, 1_000, false, &mut || signals += 1);
    sweep(&hb, 1_800, 1_000, false, &mut || signals += 1);
    assert_eq!(signals, 1);
    // With a pool, an inline call made before it registered still counts (the oldest).
    sweep(&hb, 1_800, 1_000, true, &mut || {});
    assert_eq!(hb.slot.in_app_since.load(Ordering::Relaxed), 500);
}
