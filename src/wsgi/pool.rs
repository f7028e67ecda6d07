//! The pool executor (`--threads N`, N > 1), for apps that wait on I/O (database calls, HTTP
//! requests to other services): N Python threads take requests from a bounded queue while the
//! runtime thread keeps doing all the socket I/O (DESIGN.md). A full queue makes the connection
//! wait, so memory stays bounded however many clients arrive. With `--timeout`, the runtime
//! thread answers 504 itself when a call overruns it — counted from when a thread took the
//! request, not from when it was queued — whether or not the interrupted thread ever comes back
//! (one stuck in C code does not; `heartbeat` then has the worker replaced).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Response, StatusCode};
use pyo3::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::environ::RequestInfo;
use super::executor::Executor;
use crate::http::{pages, Body, Head, RequestBody};

/// A request handed to a pool thread, owning everything the environ is built from.
pub struct OwnedRequest {
    pub head: Head,
    pub path: Vec<u8>,
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
            path: &self.path,
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
    request: OwnedRequest,
    /// Told when a thread takes the request: the timeout runs from then.
    started: oneshot::Sender<()>,
    reply: oneshot::Sender<Response<Body>>,
}

pub struct Pool {
    queue: mpsc::Sender<Job>,
    executor: Arc<Executor>,
    /// `--timeout`.
    timeout: Option<Duration>,
}

impl Pool {
    /// Starts `threads` Python threads, each calling the app for one request at a time; a call
    /// past `timeout` is answered 504 by the runtime thread.
    pub fn start(
        executor: Executor,
        threads: usize,
        timeout: Option<Duration>,
    ) -> std::io::Result<Pool> {
        let (queue, jobs) = mpsc::channel::<Job>(threads);
        let jobs = Arc::new(Mutex::new(jobs));
        let executor = Arc::new(executor);
        for n in 0..threads {
            let jobs = jobs.clone();
            let executor = executor.clone();
            std::thread::Builder::new()
                .name(format!("pyrite-app-{n}"))
                .spawn(move || serve(&executor, &jobs))?;
        }
        Ok(Pool {
            queue,
            executor,
            timeout,
        })
    }

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    pub async fn call(&self, request: OwnedRequest) -> Response<Body> {
        let (reply, response) = oneshot::channel();
        let (started, taken) = oneshot::channel();
        let job = Job {
            request,
            started,
            reply,
        };
        crate::metrics::queued(true);
        if self.queue.send(job).await.is_err() {
            crate::metrics::queued(false);
            crate::metrics::refused(503);
            return pages::error(StatusCode::SERVICE_UNAVAILABLE);
        }
        let failed = |_| pages::error(StatusCode::INTERNAL_SERVER_ERROR);
        let Some(limit) = self.timeout else {
            return response.await.unwrap_or_else(failed);
        };
        // Waiting for a free thread is not time in the app.
        if taken.await.is_err() {
            return response.await.unwrap_or_else(failed);
        }
        match tokio::time::timeout(limit, response).await {
            Ok(response) => response.unwrap_or_else(failed),
            Err(_) => {
                tracing::error!(
                    pid = std::process::id(),
                    "the app ran past --timeout in a pool thread; answered 504"
                );
                pages::error(StatusCode::GATEWAY_TIMEOUT)
            }
        }
    }
}

fn serve(executor: &Executor, jobs: &Mutex<mpsc::Receiver<Job>>) {
    let ident = Python::attach(|py| {
        py.import("threading")
            .and_then(|t| t.call_method0("get_ident"))
            .and_then(|i| i.extract::<u64>())
            .unwrap_or(0)
    });
    crate::heartbeat::register_pool_thread(ident);
    loop {
        // One thread waits on the queue at a time; the others wait for the lock.
        let job = match jobs.lock() {
            Ok(mut jobs) => jobs.blocking_recv(),
            Err(_) => None,
        };
        let Some(Job {
            mut request,
            started,
            reply,
        }) = job
        else {
            return;
        };
        let _ = started.send(());
        crate::metrics::queued(false);
        let body = std::mem::replace(&mut request.body, RequestBody::Memory(Default::default()));
        let response = executor.call(request.info(body));
        // The client may have gone; the response (and the app's close()) is then dropped here.
        let _ = reply.send(response);
    }
}
