//! The accept loops of one worker, on a current-thread runtime; each connection runs in
//! `conn`, inside a `conn` span (its number in the worker and its peer) that ties every line it
//! logs to it. A graceful stop closes the listeners, lets every in-flight request finish, closes
//! idle keep-alive connections, and returns once no connection is left.

use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::accepted::{Connections, Http1};
use super::conn::Shared;
use super::service::{ConnInfo, Service};
use super::settings::Settings;
use super::transport::Io;
use crate::listener::Listener;

/// Serves every listener with `service` until `shutdown` resolves, then drains the connections.
pub async fn run<S: Service + 'static>(
    listeners: Vec<Listener>,
    settings: Settings,
    service: S,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    run_with(listeners, settings, service, Http1, shutdown).await
}

/// [`run`], each accepted connection served by `connections` (TLS, HTTP/2 …).
pub async fn run_with<S: Service + 'static, C: Connections<S>>(
    listeners: Vec<Listener>,
    settings: Settings,
    service: S,
    connections: C,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shared = Rc::new(Shared { settings, service });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; recv() returns None once the last one is gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    // `--max-connections`: past it, accept() is not called and clients wait in the backlog.
    let slots = Arc::new(Semaphore::new(shared.settings.max_connections));
    for (index, listener) in listeners.into_iter().enumerate() {
        let accept = Accept {
            index,
            connections: connections.clone(),
            shared: shared.clone(),
            stop: stop_rx.clone(),
            alive: alive_tx.clone(),
            slots: slots.clone(),
        };
        let bound = match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                let listener = TcpListener::from_std(l)?;
                let local = listener.local_addr().ok();
                Bound::Tcp(listener, local)
            }
            Listener::Unix(l, _) => {
                l.set_nonblocking(true)?;
                Bound::Unix(UnixListener::from_std(l)?)
            }
        };
        tokio::task::spawn_local(accept.run(bound));
    }
    drop(alive_tx);
    shutdown.await;
    tracing::info!(pid = std::process::id(), "worker stopping gracefully");
    let _ = stop_tx.send(true);
    let _ = alive_rx.recv().await;
    Ok(())
}

struct Accept<S, C> {
    /// The listener's place in the worker's list.
    index: usize,
    connections: C,
    shared: Rc<Shared<S>>,
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
    slots: Arc<Semaphore>,
}

impl<S: Service + 'static, C: Connections<S>> Accept<S, C> {
    /// Waits for a free connection slot; `None` once the worker is stopping.
    async fn slot(&mut self) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.ok(),
            _ = self.stop.changed() => None,
        }
    }

    /// Accepts connections until the worker stops.
    async fn run(mut self, listener: Bound) {
        loop {
            let Some(slot) = self.slot().await else {
                return;
            };
            // Biased: once the worker stops, it accepts nothing more (the other workers, or the
            // replacement, take the connections still queued on the shared socket).
            let accepted = tokio::select! {
                biased;
                _ = self.stop.changed() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((io, info)) => {
                    let span = tracing::debug_span!("conn", id = next_id(), peer = %info.label);
                    let shared = self.shared.clone();
                    let stop = self.stop.clone();
                    let alive = self.alive.clone();
                    let connections = self.connections.clone();
                    let index = self.index;
                    // Every line the connection logs carries its number and peer. Below debug
                    // the span is disabled and the connection runs bare, with no wrapper to
                    // enter and leave on every poll. One spawn with the span inside: a wrapper
                    // around the task, or a helper taking it by value, would copy the
                    // connection's whole future once more (measured with callgrind).
                    tokio::task::spawn_local(async move {
                        // Built where it is awaited (a local would be one more copy).
                        if span.is_disabled() {
                            connections.serve(index, io, info, shared, stop).await;
                        } else {
                            connections
                                .serve(index, io, info, shared, stop)
                                .instrument(span)
                                .await;
                        }
                        drop(slot);
                        drop(alive);
                    });
                    // Let the new connection start before accepting another: a worker busy in
                    // the app then leaves the next connections to the other workers, instead
                    // of one worker taking a whole burst of them.
                    tokio::task::yield_now().await;
                }
                Err(err) => accept_failed(err).await,
            }
        }
    }
}

/// The next connection number of this worker (from 1), for the connection's span.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A listening socket of either kind, as the worker's runtime sees it.
enum Bound {
    /// With its local address, looked up once.
    Tcp(TcpListener, Option<std::net::SocketAddr>),
    Unix(UnixListener),
}

impl Bound {
    async fn accept(&self) -> std::io::Result<(Box<dyn Io>, ConnInfo)> {
        match self {
            Bound::Tcp(listener, local) => {
                let (stream, peer) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let info = ConnInfo {
                    peer: Some(peer),
                    local: *local,
                    label: peer.to_string().into(),
                    tls: None,
                };
                Ok((Box::new(stream), info))
            }
            Bound::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                let info = ConnInfo {
                    peer: None,
                    local: None,
                    label: "unix".into(),
                    tls: None,
                };
                Ok((Box::new(stream), info))
            }
        }
    }
}

/// Running out of file descriptors must not spin the loop: wait a little, then accept again.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
