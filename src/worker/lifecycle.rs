//! When a worker recycles itself: it counts the requests it answered (`--max-requests`) and
//! watches its memory (`--max-rss`). The counting wraps the worker's service ([`Counted`]), so
//! neither the service nor the connection driver knows about recycling.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use tokio::sync::Notify;

use crate::http::incoming::Incoming;
use crate::http::{Body, ConnInfo, Reply, Service};
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
            self.recycle.notify_one();
        }
    }
}

/// A service whose every response, once produced, counts towards `--max-requests`.
pub struct Counted<S> {
    pub inner: S,
    pub lifecycle: Rc<Lifecycle>,
}

impl<S: Service> Service for Counted<S>
where
    S::Later: Unpin,
{
    type Later = CountedLater<S::Later>;

    fn call(&self, req: Request<Incoming>, conn: &Rc<ConnInfo>) -> Reply<Self::Later> {
        match self.inner.call(req, conn) {
            Reply::Ready(response) => {
                self.lifecycle.request_done();
                Reply::Ready(response)
            }
            Reply::Later(inner) => Reply::Later(CountedLater {
                inner,
                lifecycle: self.lifecycle.clone(),
            }),
        }
    }
}

/// A response to come, counted when it is ready.
pub struct CountedLater<F> {
    inner: F,
    lifecycle: Rc<Lifecycle>,
}

impl<F: Future<Output = Response<Body>> + Unpin> Future for CountedLater<F> {
    type Output = Response<Body>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        let response = ready!(Pin::new(&mut self.inner).poll(cx));
        self.lifecycle.request_done();
        Poll::Ready(response)
    }
}
