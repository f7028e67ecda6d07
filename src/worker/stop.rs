//! How a worker stops. A SIGTERM or its own recycling starts it; the master's slot says which
//! stop the signal means. When the whole server stops, the worker drains for
//! `--drain-timeout` (still serving, every response closing its connection, the health probe
//! saying 503, so a balancer takes it out without a request lost), then closes refusing new
//! connections. When this worker alone goes (a reload, one worker less, `--max-requests`), it
//! closes at once and the other workers keep accepting. Each step goes out as an
//! [`http::Phase`](crate::http::Phase) to the accept loops, the connections and the probe.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::http::Phase;
use crate::sys::{Slot, StopKind};

/// Waits for `term` (SIGTERM), then moves `phase` through the stop the master asked for.
pub async fn on_term(
    phase: watch::Sender<Phase>,
    slot: &'static Slot,
    drain: Duration,
    term: impl Future<Output = ()>,
) {
    term.await;
    let server_stops = slot.asked_stop() == StopKind::ServerStops;
    if server_stops && !drain.is_zero() && advance(&phase, Phase::Draining) {
        tokio::time::sleep(drain).await;
    }
    advance(
        &phase,
        Phase::Closing {
            refuse: server_stops,
        },
    );
}

/// Moves `phase` to `to` if that is a later step (a stop never goes back, and a recycling
/// worker does not cut a drain short); returns whether it moved. Synchronous, so that the
/// connection that hit `--max-requests` and the accept loop see the change before another
/// request is taken.
pub fn advance(phase: &watch::Sender<Phase>, to: Phase) -> bool {
    phase.send_if_modified(|now| {
        let later = step(to) > step(*now);
        if later {
            *now = to;
        }
        later
    })
}

fn step(phase: Phase) -> u8 {
    match phase {
        Phase::Serving => 0,
        Phase::Draining => 1,
        Phase::Closing { refuse: false } => 2,
        Phase::Closing { refuse: true } => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_only_goes_forward() {
        let (tx, rx) = watch::channel(Phase::Serving);
        assert!(advance(&tx, Phase::Draining));
        assert!(!advance(&tx, Phase::Serving));
        assert!(!advance(&tx, Phase::Draining));
        assert!(advance(&tx, Phase::Closing { refuse: true }));
        assert!(!advance(&tx, Phase::Closing { refuse: false }));
        assert_eq!(*rx.borrow(), Phase::Closing { refuse: true });
    }
}
