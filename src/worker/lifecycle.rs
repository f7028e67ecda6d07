//! When a worker recycles itself: it counts the requests it answered (`--max-requests`) and
//! watches its memory (`--max-rss`); and when it must be replaced because an app thread is
//! stuck past `--timeout` (`heartbeat::stuck`). The counting wraps the worker's service ([`Counted`], told
//! of each response through `Service::responded`), so neither the service nor the connection
//! driver knows about recycling: a recycling worker closes like a retiring one (its phase).

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::watch;

use super::stop;
use crate::http::{ConnInfo, Phase, Reply, Request, Service};
use crate::sys;

/// Counts requests and decides when this worker should recycle itself.
pub struct Lifecycle {
    served: Cell<u64>,
    max_requests: Option<u64>,
    max_rss: Option<u64>,
    phase: watch::Sender<Phase>,
    /// Becomes true once an app thread is stuck: stop taking work, then exit.
    stuck: watch::Sender<bool>,
}

impl Lifecycle {
    pub fn new(
        max_requests: Option<u64>,
        max_rss: Option<u64>,
        phase: watch::Sender<Phase>,
    ) -> Lifecycle {
        Lifecycle {
            served: Cell::new(0),
            max_requests,
            max_rss,
            phase,
            stuck: watch::Sender::new(false),
        }
    }

    /// Called once a second: a pool thread stuck in an app call (interrupted at `--timeout`,
    /// still there a grace period later) means this worker should be replaced: it closes like
    /// a recycling one, and `stuck` bounds how long its other requests get.
    pub fn check_stuck(&self) {
        if crate::heartbeat::stuck() && !*self.stuck.borrow() {
            tracing::warn!(
                pid = sys::getpid(),
                "an app thread is stuck past --timeout; finishing the other requests, then replacing this worker"
            );
            self.stuck.send_replace(true);
            self.recycle();
        }
    }

    /// Resolves once an app thread is stuck (never, if none is).
    pub fn stuck(&self) -> impl std::future::Future<Output = ()> + 'static {
        let mut stuck = self.stuck.subscribe();
        async move {
            if stuck.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops taking connections (the other workers take them) and lets this worker finish.
    fn recycle(&self) {
        stop::advance(&self.phase, Phase::Closing { refuse: false });
    }

    /// Called once per request, after its response is produced.
    pub fn request_done(&self) {
        let served = self.served.get() + 1;
        self.served.set(served);
        if self.max_requests.is_some_and(|max| served == max) {
            tracing::info!(
                pid = sys::getpid(),
                served,
                "max requests reached; recycling"
            );
            crate::metrics::recycling(crate::metrics::Recycle::MaxRequests);
            self.recycle();
        }
    }

    /// Called between requests (once a second): past `--max-rss`, recycle.
    pub fn check_memory(&self) {
        let (Some(limit), Some(rss)) = (self.max_rss, sys::rss_bytes()) else {
            return;
        };
        if rss > limit {
            tracing::info!(
                pid = sys::getpid(),
                rss_mib = rss / (1024 * 1024),
                "max RSS exceeded; recycling"
            );
            crate::metrics::recycling(crate::metrics::Recycle::MaxRss);
            self.recycle();
        }
    }
}

/// A service whose every response, once produced, counts towards `--max-requests`.
pub struct Counted<S> {
    pub inner: S,
    pub lifecycle: Rc<Lifecycle>,
}

impl<S: Service> Service for Counted<S> {
    type Later = S::Later;

    #[inline]
    fn call(&self, req: Request, conn: &Rc<ConnInfo>) -> Reply<Self::Later> {
        self.inner.call(req, conn)
    }

    fn responded(&self) {
        self.inner.responded();
        self.lifecycle.request_done();
    }
}
