//! Arithmetic on durations a user sets (`--timeout`, `--graceful-timeout`, any number of
//! seconds up to 2^64 − 1): a deadline or a count of milliseconds saturates instead of
//! overflowing, so no flag value can make the master or a worker panic (`Instant + Duration`
//! and `Duration + Duration` do on overflow).

use std::time::{Duration, Instant};

/// Later than any process lives: what a deadline too far to represent becomes (30 years, as
/// tokio caps its own timers).
const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `now + wait`, or a moment too far away to matter when that is not representable.
pub fn after(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

/// `a + b`, at most `Duration::MAX`.
pub fn sum(a: Duration, b: Duration) -> Duration {
    a.saturating_add(b)
}

/// Whole milliseconds, at most `u64::MAX` (`as_millis() as u64` would wrap: 2^63 s is 0 ms).
pub fn millis(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates() {
        let now = Instant::now();
        assert_eq!(
            after(now, Duration::from_secs(2)),
            now + Duration::from_secs(2)
        );
        assert!(after(now, Duration::MAX) > now + Duration::from_secs(3600 * 24 * 365));
        assert!(after(now, Duration::from_secs(u64::MAX)) > now);
        assert_eq!(sum(Duration::MAX, Duration::from_secs(2)), Duration::MAX);
        assert_eq!(millis(Duration::from_secs(u64::MAX)), u64::MAX);
        assert_eq!(millis(Duration::from_secs(1 << 63)), u64::MAX);
        assert_eq!(millis(Duration::from_millis(1500)), 1500);
    }
}
