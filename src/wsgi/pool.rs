//! The pool executor (`--threads N`, N > 1), for apps that wait on I/O (database calls, HTTP
//! requests to other services): N Python threads take requests (`handoff`: the thread that went
//! idle last gets the next one) while the runtime thread keeps doing all the socket I/O
//! (DESIGN.md). Each thread keeps one Python thread state for its life and holds the GIL only
//! while it runs Python. At most 2N requests are handed over at a time; past that a connection
//! waits, so memory stays bounded however many clients arrive. While requests wait for a
//! thread, complete replies go back in batches (`outbox`), not one wake-up of the runtime thread
//! each, the batches further apart the longer requests wait. With `--timeout`, the runtime
//! thread answers 504 itself when a call overruns it — counted from when a thread took the
//! request, not from when it was queued — whether or not the interrupted thread ever comes
//! back (one stuck in C code does not; `heartbeat` then has the worker replaced): see `overrun`.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Response, StatusCode};
use http_body::Body as _;
use pyo3::prelude::*;
use tokio::sync::{oneshot, Semaphore};

use super::environ::RequestInfo;
use super::executor::Executor;
use super::handoff::Handoff;
use super::outbox::Outbox;
use super::overrun::{Clock, Overrun};
use crate::http::{pages, Body, Head, RequestBody};

/// A request handed to a pool thread, owning everything the environ is built from.
pub struct OwnedRequest {
    pub head: Head,
    /// The request's path, percent-decoded; `None` when it had nothing to decode (then it is
    /// the head's own, not copied).
    pub path: Option<Vec<u8>>,
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub body: RequestBody,
    pub has_body: bool,
    pub url_scheme: &'static str,
    /// The connection's TLS parameters and client certificate, on a TLS connection.
    pub tls: Option<std::sync::Arc<crate::http::TlsInfo>>,
}

impl OwnedRequest {
    pub fn info(&self, body: RequestBody) -> RequestInfo<'_> {
        RequestInfo {
            head: &self.head,
            path: self
                .path
                .as_deref()
                .unwrap_or_else(|| self.head.path().as_bytes()),
            peer: self.peer,
            local: self.local,
            body,
            has_body: self.has_body,
            url_scheme: self.url_scheme,
            tls: self.tls.as_deref(),
        }
    }
}

struct Job {
    request: Box<OwnedRequest>,
    /// The call's id for the `--timeout` backstop (0 without a limit): the thread that takes
    /// the job publishes it on its clock while it runs the call.
    call: u64,
    reply: oneshot::Sender<Response<Body>>,
    /// When the request came to the pool (before it waited for room): the pump's period
    /// follows how long requests wait.
    came: Instant,
}

type Replies = Outbox<Response<Body>>;

pub struct Pool {
    /// A job moves through the hand-off small: its request (the head and all) is boxed.
    jobs: Arc<Handoff<Job>>,
    replies: Arc<Replies>,
    /// Bounds the requests handed over and not yet answered (running or queued) to twice the
    /// threads: past that a connection waits here, so memory stays bounded. Taken and given
    /// back on the runtime thread only (no wake-up crosses threads for it).
    room: Semaphore,
    executor: Arc<Executor>,
    /// With `--timeout`: the calls out, answered 504 once a thread has run one past it.
    overrun: Option<Rc<Overrun>>,
}

impl Pool {
    /// Starts `threads` Python threads, each calling the app for one request at a time; a call
    /// past `timeout` is answered 504 by the runtime thread.
    pub fn start(
        executor: Executor,
        threads: usize,
        timeout: Option<Duration>,
    ) -> std::io::Result<Pool> {
        let jobs = Arc::new(Handoff::new());
        let replies = Arc::new(Outbox::new());
        let executor = Arc::new(executor);
        let epoch = Instant::now();
        // One clock per thread, in the order the threads take their seats.
        let clocks: Arc<[Clock]> = (0..threads).map(|_| Clock::default()).collect();
        for n in 0..threads {
            let jobs = jobs.clone();
            let replies = replies.clone();
            let executor = executor.clone();
            let clocks = clocks.clone();
            std::thread::Builder::new()
                .name(format!("pyrite-app-{n}"))
                .spawn(move || serve(&executor, &jobs, &replies, &clocks, epoch))?;
        }
        Ok(Pool {
            jobs,
            replies,
            room: Semaphore::new(threads.saturating_mul(2)),
            executor,
            overrun: timeout.map(|limit| Overrun::new(limit, epoch, clocks)),
        })
    }

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    pub async fn call(&self, request: Box<OwnedRequest>) -> Response<Body> {
        let came = Instant::now();
        // A free place is taken without building the waiting future.
        let room = match self.room.try_acquire() {
            Ok(room) => Ok(room),
            Err(_) => self.room.acquire().await,
        };
        let Ok(_room) = room else {
            crate::metrics::refused(503);
            return pages::error(StatusCode::SERVICE_UNAVAILABLE);
        };
        let (reply, mut response) = oneshot::channel();
        let watched = self.overrun.as_ref().map(|overrun| overrun.watch());
        crate::metrics::queued(true);
        // The requests' indexes are dropped on the pool threads: take them back.
        crate::http::fields::restock();
        // Up anyway: the replies held so far go out now.
        self.replies.flush();
        let queued = self.jobs.push(Job {
            request,
            call: watched.as_ref().map_or(0, |w| w.id()),
            reply,
            came,
        });
        if queued && self.replies.start_pump() {
            tokio::task::spawn_local(pump(self.replies.clone(), self.jobs.clone()));
        }
        let failed = |_| pages::error(StatusCode::INTERNAL_SERVER_ERROR);
        let Some(watched) = watched else {
            return response.await.unwrap_or_else(failed);
        };
        let answer = std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(answer) = std::pin::Pin::new(&mut response).poll(cx) {
                return std::task::Poll::Ready(Some(answer));
            }
            watched.poll_over(cx).map(|()| None)
        })
        .await;
        if let Some(answer) = answer {
            return answer.unwrap_or_else(failed);
        }
        tracing::error!(
            pid = std::process::id(),
            "the app ran past --timeout in a pool thread; answered 504"
        );
        pages::error(StatusCode::GATEWAY_TIMEOUT)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.close();
    }
}

/// Sends the held replies every [`Outbox::period`] while requests wait for a thread; stops (and
/// sends what is left) once none does, or when the runtime ends.
///
/// The ticks keep a schedule (each one a period after the one before, not after the runtime
/// got round to it), and each one's timer is set while the one before is still pending. A
/// timer set after the one before has fired is the runtime's earliest: setting it writes the
/// runtime's eventfd, and the runtime's next `epoll_wait` returns at once for it
/// (about 0.15 of each per request on the 10 ms-sleep benchmark). One set behind a pending
/// earlier timer needs no such wake.
async fn pump(replies: Arc<Replies>, jobs: Arc<Handoff<Job>>) {
    struct Stop(Arc<Replies>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.stop_pump();
        }
    }
    let replies = Stop(replies);
    let mut tick = Box::pin(tokio::time::sleep(replies.0.period()));
    loop {
        // The next tick, one period after this one's; from now if the runtime fell behind.
        // (The period is read at each tick: it lengthens as requests wait longer for a thread.)
        let due = (tick.deadline() + replies.0.period()).max(tokio::time::Instant::now());
        let mut next = Box::pin(tokio::time::sleep_until(due));
        std::future::poll_fn(|cx| {
            // Polled first, so it is set while `tick` is still pending.
            let _ = next.as_mut().poll(cx);
            tick.as_mut().poll(cx)
        })
        .await;
        if !jobs.backlog() {
            return;
        }
        replies.0.flush();
        tick = next;
    }
}

/// A pool thread: attached to the interpreter for its whole life (its Python thread state is
/// made once, not per request), it lets go of the GIL only while it waits for work and while
/// the app itself does (`time.sleep`, I/O).
///
/// It keeps the usual scheduling policy. Under SCHED_BATCH a thread woken while another runs
/// Python no longer preempts it only to find the GIL held (on the 10 ms-sleep benchmark, 1.7
/// context switches per request became 1.2 and the pool's CPU per request fell by about 6%),
/// but neither does a thread whose GIL wait timed out, nor one handed a request: with views
/// that run Python for tens of milliseconds on a busy core, a short request then waits for the
/// scheduler's tick (4 ms at HZ=250) each time, and its 90th percentile went from 19–20 ms to
/// 24–26 ms.
///
/// Between two calls it lets go of the GIL even when the next request is already queued. Going
/// straight from one call into the next with the GIL held saves a release and a take per
/// request (about 650 of 20,500 instructions on the 10 ms-sleep benchmark), but a thread
/// returning from the app's own wait then queues behind a holder that no longer pauses between
/// requests: under `bench/poolmix` (a saturated pool of CPU-bound views beside waiting ones)
/// the waiting views' 99th percentile went from 134 ms to 209 ms.
fn serve(
    executor: &Executor,
    jobs: &Handoff<Job>,
    replies: &Replies,
    clocks: &[Clock],
    epoch: Instant,
) {
    let seat = jobs.join();
    let clock = &clocks[seat];
    Python::attach(|py| {
        let ident = py
            .import("threading")
            .and_then(|t| t.call_method0("get_ident"))
            .and_then(|i| i.extract::<u64>())
            .unwrap_or(0);
        crate::heartbeat::register_pool_thread(ident);
        let mut next = py.detach(|| jobs.take(seat));
        while let Some(job) = next {
            let Job {
                mut request,
                call,
                reply,
                came,
            } = job;
            // One clock read: how long the request waited, and when its call starts.
            let now = Instant::now();
            replies.waited(now.saturating_duration_since(came));
            clock.start(call, epoch, now);
            crate::metrics::queued(false);
            let body =
                std::mem::replace(&mut request.body, RequestBody::Memory(Default::default()));
            let interrupts = super::timeout::interrupts();
            let response = executor.call(request.info(body));
            clock.stop(call);
            // The call is over (no longer listed for the watchdog, which interrupts only
            // listed calls, under the GIL): an interruption that came too late to land in it
            // must not land in the next one. (Clearing walks every thread state: only when
            // some thread was interrupted meanwhile.)
            if super::timeout::interrupts() != interrupts {
                super::ffi::clear_async_exc(py, ident);
            }
            // Its index goes where the runtime thread, which parses the requests, finds it.
            request.head.fields.share_index();
            drop(request);
            // The client may have gone: its response (and the app's close()) is then dropped
            // here, attached.
            let unsent;
            // Only a body that is all here may wait in the outbox: should its client be gone,
            // the runtime thread drops it without running Python (a large piece that is the
            // app's bytes object is given back the next time a thread takes the GIL), where a
            // stream would have the app's close() to call.
            let whole = response.body().size_hint().exact().is_some();
            (unsent, next) = py.detach(|| {
                let busy = whole && jobs.backlog();
                (replies.post(reply, response, busy), jobs.take(seat))
            });
            drop(unsent);
        }
    });
}
