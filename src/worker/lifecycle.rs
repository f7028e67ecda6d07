//! When a worker recycles itself: it counts the requests it answered (`--max-requests`) and
//! watches its memory (`--max-rss`). The counting wraps the worker's service ([`Counted`], told
//! of each response through `Service::responded`), so neither the service nor the connection
//! driver knows about recycling.

use std::cell::Cell;
use std::rc::Rc;

use http::Request;
use tokio::sync::Notify;

use crate::http::incoming::Incoming;
use crate::http::{ConnInfo, Reply, Service};
use crate::sys;

/// Counts requests and decides when this worker should recycle itself.
pub struct Lifecycle {
    served: Cell<u64>,
    max_requests: Option<u64>,
    max_rss: Option<u64>,
    pub recycle: Notify,
}

impl Lifecycle {
    pub fn new(max_requests: Option<u64>, max_rss: Option<u64>) -> Lifecycle {
        Lifecycle {
            served: Cell::new(0),
            max_requests,
            max_rss,
            recycle: Notify::new(),
        }
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
            self.recycle.notify_one();
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
            self.recycle.notify_one();
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
    fn call(&self, req: Request<Incoming>, conn: &Rc<ConnInfo>) -> Reply<Self::Later> {
        self.inner.call(req, conn)
    }

    fn responded(&self) {
        self.inner.responded();
        self.lifecycle.request_done();
    }
}
