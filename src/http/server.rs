//! The accept loops of one worker, on a current-thread runtime; each connection runs in
//! `conn`, inside a `conn` span (its number in the worker and its peer) that ties every line it
//! logs to it. The worker's [`Phase`] drives the stop: draining changes nothing here but the
//! connections' keep-alive; closing stops the accept loops — after taking what the kernel
//! queued when the whole server stops — and then every connection is waited for, up to
//! `--graceful-timeout`. With other workers on the same socket, a worker that holds more than
//! its share of the open connections (`metrics::over_share`) leaves new ones to them.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::accepted::{Connections, Http1};
use super::conn::Shared;
use super::phase::Phase;
use super::service::{ConnInfo, Service};
use super::settings::Settings;
use super::transport::Io;
use crate::listener::{self, Listener};

/// Connections taken from the listen queue in one go before the loop lets the others run:
/// enough that a worker busy with many clients still empties the queue each time it comes
/// round (one connection per turn of a loop whose turn takes a round of app calls starved new
/// clients for seconds), few enough that their first requests do not hold up the rest long.
const ACCEPT_BATCH: usize = 16;

/// How long a worker over its share of the connections leaves new ones to the other workers:
/// a new client waits at most this long when all of them are busy.
const HOLD: Duration = Duration::from_millis(10);

/// Once new connection requests are refused, handshakes already under way (SYN-ACK sent, the
/// client's ACK not yet back) still complete, within a round trip: the loop keeps accepting
/// this long before it lets go of the socket, so none of them is left behind in the queue.
const SETTLE: Duration = Duration::from_millis(250);

/// Serves every listener with `service` until `phase` reaches [`Phase::Closing`], then waits
/// for the connections (at most `settings.graceful_timeout`).
pub async fn run<S: Service + 'static>(
    listeners: Vec<Listener>,
    settings: Settings,
    service: S,
    phase: watch::Receiver<Phase>,
) -> std::io::Result<()> {
    run_with(listeners, settings, service, Http1, phase).await
}

/// [`run`], each accepted connection served by `connections` (TLS, HTTP/2 …).
pub async fn run_with<S: Service + 'static, C: Connections<S>>(
    listeners: Vec<Listener>,
    settings: Settings,
    service: S,
    connections: C,
    mut phase: watch::Receiver<Phase>,
) -> std::io::Result<()> {
    let shared = Rc::new(Shared { settings, service });
    // Each accept loop and connection holds a sender; recv() returns None once all are gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    // `--max-connections`: past it, accept() is not called and clients wait in the backlog.
    let slots = Arc::new(Semaphore::new(shared.settings.max_connections));
    for (index, listener) in listeners.into_iter().enumerate() {
        let accept = Accept {
            index,
            connections: connections.clone(),
            shared: shared.clone(),
            phase: phase.clone(),
            alive: alive_tx.clone(),
            slots: slots.clone(),
        };
        let bound = match listener {
            Listener::Tcp(l, owned) => {
                l.set_nonblocking(true)?;
                // Set once on the listener, TCP_NODELAY comes with every accepted connection.
                let nodelay = crate::sys::set_nodelay(std::os::fd::AsRawFd::as_raw_fd(&l)).is_ok();
                let listener = TcpListener::from_std(l)?;
                let local = listener.local_addr().ok();
                Bound::Tcp {
                    listener,
                    local,
                    owned,
                    nodelay,
                }
            }
            Listener::Unix(l, path) => {
                l.set_nonblocking(true)?;
                Bound::Unix(UnixListener::from_std(l)?, path.is_some())
            }
        };
        tokio::task::spawn_local(accept.run(bound));
    }
    drop(alive_tx);
    crate::metrics::accepting(true);
    let pid = std::process::id();
    loop {
        match next_phase(&mut phase).await {
            Phase::Serving => {}
            Phase::Draining => tracing::info!(pid, "worker draining"),
            Phase::Closing { .. } => break,
        }
    }
    crate::metrics::accepting(false);
    tracing::info!(pid, "worker stopping gracefully");
    let grace = shared.settings.graceful_timeout;
    if tokio::time::timeout(grace, alive_rx.recv()).await.is_err() {
        tracing::warn!(pid, "graceful timeout passed; closing the connections left");
    }
    Ok(())
}

/// The phase after the next change; once the worker lets go of the channel, the last one if
/// that was a closing, or a plain closing.
async fn next_phase(phase: &mut watch::Receiver<Phase>) -> Phase {
    match phase.changed().await {
        Ok(()) => *phase.borrow_and_update(),
        Err(_) => match *phase.borrow() {
            closing @ Phase::Closing { .. } => closing,
            _ => Phase::Closing { refuse: false },
        },
    }
}

struct Accept<S, C> {
    /// The listener's place in the worker's list.
    index: usize,
    connections: C,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
    alive: mpsc::Sender<()>,
    slots: Arc<Semaphore>,
}

impl<S: Service + 'static, C: Connections<S>> Accept<S, C> {
    /// Accepts connections until the worker closes.
    async fn run(mut self, listener: Bound) {
        let mut now = *self.phase.borrow_and_update();
        loop {
            if let Phase::Closing { refuse } = now {
                return self.close(listener, refuse).await;
            }
            // Biased: once the worker closes, it accepts nothing more here (the other workers,
            // or the replacement, take the connections still queued on the shared socket).
            let slot = tokio::select! {
                biased;
                phase = next_phase(&mut self.phase) => {
                    now = phase;
                    continue;
                }
                permit = self.slots.clone().acquire_owned() => permit.ok(),
            };
            // A worker holding more than its share of the open connections (with other
            // workers) leaves new ones to the others for a moment, then takes one still queued
            // itself: the others may be busy in a long app call.
            let held = crate::metrics::over_share();
            let accepted = tokio::select! {
                biased;
                phase = next_phase(&mut self.phase) => {
                    now = phase;
                    continue;
                }
                accepted = listener.next(held) => accepted,
            };
            match accepted {
                None => continue,
                Some(Ok(conn)) => {
                    self.start(conn, slot).await;
                    if self.take_queued(&listener).await {
                        // A full batch: let the connections already here have their turn.
                        tokio::task::yield_now().await;
                    }
                }
                Some(Err(err)) => accept_failed(err).await,
            }
        }
    }

    /// Accepts what else is queued, without waiting, up to a batch or this worker's share of the
    /// connections; true if it took a whole batch (more may be waiting).
    async fn take_queued(&self, listener: &Bound) -> bool {
        for _ in 1..ACCEPT_BATCH {
            // The worker may have begun to close while the last one was answered here.
            if matches!(*self.phase.borrow(), Phase::Closing { .. }) {
                return false;
            }
            if crate::metrics::over_share() {
                return false;
            }
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                return false;
            };
            match listener.try_accept() {
                Some(Ok(conn)) => self.start(conn, Some(slot)).await,
                Some(Err(err)) => {
                    accept_failed(err).await;
                    return false;
                }
                None => return false,
            }
        }
        true
    }

    /// Lets go of the listening socket. When the whole server stops, new connection requests
    /// are refused first and what the kernel had queued is accepted and served, so nothing
    /// queued is reset when the last copy of the socket closes. A socket inherited from
    /// outside is left as it was: its owner keeps it, and what is queued, for the next server.
    async fn close(self, listener: Bound, refuse: bool) {
        if refuse && listener.owned() {
            if let Bound::Tcp {
                listener: socket, ..
            } = &listener
            {
                if let Err(err) = listener::refuse_new(socket) {
                    tracing::warn!(error = %err, "cannot refuse new connections; closing the listener");
                }
            }
            let until = tokio::time::Instant::now() + SETTLE;
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = tokio::time::sleep_until(until) => break,
                };
                match accepted {
                    Ok(conn) => {
                        let slot = self.slots.clone().try_acquire_owned().ok();
                        self.start(conn, slot).await;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed while closing");
                        break;
                    }
                }
            }
        }
        drop(listener);
    }

    /// Starts serving a connection: its first request is read and answered right here, before
    /// the connection gets a task of its own at the back of the run queue — a new client waits
    /// one round of the busy connections (for this loop to come round), not two.
    async fn start(&self, (io, info): (Box<dyn Io>, ConnInfo), slot: Option<OwnedSemaphorePermit>) {
        let span = tracing::debug_span!("conn", id = next_id(), peer = %info.label());
        let shared = self.shared.clone();
        let phase = self.phase.clone();
        let open = crate::metrics::connection();
        // Every line the connection logs carries its number and peer. Below debug the span is
        // disabled and the connection runs bare, with no wrapper to enter and leave on every
        // poll. Boxed where it is built: it moves into its task after the first poll.
        let mut conn: Pin<Box<dyn Future<Output = ()>>> = if span.is_disabled() {
            Box::pin(self.connections.serve(self.index, io, info, shared, phase))
        } else {
            Box::pin(
                self.connections
                    .serve(self.index, io, info, shared, phase)
                    .instrument(span),
            )
        };
        let first = std::future::poll_fn(|cx| Poll::Ready(conn.as_mut().poll(cx))).await;
        if first.is_ready() {
            return;
        }
        // Its wakers are registered anew on the task's first poll.
        let alive = self.alive.clone();
        tokio::task::spawn_local(async move {
            conn.await;
            drop(open);
            drop(slot);
            drop(alive);
        });
    }
}

/// The next connection number of this worker (from 1), for the connection's span.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A listening socket of either kind, as the worker's runtime sees it, and whether pyrite made
/// it (see [`Listener::owned`]).
enum Bound {
    Tcp {
        listener: TcpListener,
        /// Its local address, looked up once.
        local: Option<std::net::SocketAddr>,
        owned: bool,
        /// Its connections come with TCP_NODELAY set (set on the listener).
        nodelay: bool,
    },
    Unix(UnixListener, bool),
}

type Accepted = (Box<dyn Io>, ConnInfo);

impl Bound {
    fn owned(&self) -> bool {
        match self {
            Bound::Tcp { owned, .. } | Bound::Unix(_, owned) => *owned,
        }
    }

    async fn accept(&self) -> std::io::Result<Accepted> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The next connection; when `held`, only one still queued after [`HOLD`] (if any).
    async fn next(&self, held: bool) -> Option<std::io::Result<Accepted>> {
        if !held {
            return Some(self.accept().await);
        }
        tokio::time::sleep(HOLD).await;
        self.try_accept()
    }

    /// A connection already queued, if there is one, without waiting.
    fn try_accept(&self) -> Option<std::io::Result<Accepted>> {
        match self.poll_accept(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(accepted) => Some(accepted),
            Poll::Pending => None,
        }
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<Accepted>> {
        match self {
            Bound::Tcp {
                listener,
                local,
                nodelay,
                ..
            } => listener.poll_accept(cx).map_ok(|(stream, peer)| {
                if !nodelay {
                    let _ = stream.set_nodelay(true);
                }
                let info = ConnInfo {
                    peer: Some(peer),
                    local: *local,
                    tls: None,
                };
                (Box::new(stream) as Box<dyn Io>, info)
            }),
            Bound::Unix(listener, _) => listener.poll_accept(cx).map_ok(|(stream, _)| {
                let info = ConnInfo {
                    peer: None,
                    local: None,
                    tls: None,
                };
                (Box::new(stream) as Box<dyn Io>, info)
            }),
        }
    }
}

/// Running out of file descriptors must not spin the loop: wait a little, then accept again.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
