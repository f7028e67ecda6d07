//! The accept loops of one worker, on a current-thread runtime; each connection runs in
//! `conn`. A graceful stop closes the listeners, lets every in-flight request finish, closes
//! idle keep-alive connections, and returns once no connection is left.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::conn;
use super::service::{ConnInfo, Service};
use crate::listener::Listener;

/// Serves every listener until `shutdown` resolves, then drains the connections.
pub async fn run(
    listeners: Vec<Listener>,
    service: Rc<Service>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; recv() returns None once the last one is gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    // `--max-connections`: past it, accept() is not called and clients wait in the backlog.
    let slots = Arc::new(Semaphore::new(service.http.max_connections));
    for listener in listeners {
        let accept = Accept {
            service: service.clone(),
            stop: stop_rx.clone(),
            alive: alive_tx.clone(),
            slots: slots.clone(),
        };
        match listener {
            Listener::Tcp(l) => {
                l.set_nonblocking(true)?;
                tokio::task::spawn_local(accept.tcp(TcpListener::from_std(l)?));
            }
            Listener::Unix(l, _) => {
                l.set_nonblocking(true)?;
                tokio::task::spawn_local(accept.unix(UnixListener::from_std(l)?));
            }
        }
    }
    drop(alive_tx);
    shutdown.await;
    tracing::info!(pid = std::process::id(), "worker stopping gracefully");
    let _ = stop_tx.send(true);
    let _ = alive_rx.recv().await;
    Ok(())
}

struct Accept {
    service: Rc<Service>,
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
    slots: Arc<Semaphore>,
}

impl Accept {
    /// Waits for a free connection slot; `None` once the worker is stopping.
    async fn slot(&mut self) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            permit = self.slots.clone().acquire_owned() => permit.ok(),
            _ = self.stop.changed() => None,
        }
    }

    async fn tcp(mut self, listener: TcpListener) {
        let local = listener.local_addr().ok();
        loop {
            // Biased: once the worker stops, it accepts nothing more (the other workers, or the
            // replacement, take the connections still queued on the shared socket).
            let Some(slot) = self.slot().await else {
                return;
            };
            let accepted = tokio::select! {
                biased;
                _ = self.stop.changed() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let info = ConnInfo {
                        peer: Some(peer),
                        local,
                        label: peer.to_string().into(),
                    };
                    self.spawn(stream, info, slot);
                    // Let the new connection start before accepting another: a worker busy in
                    // the app then leaves the next connections to the other workers, instead
                    // of one worker taking a whole burst of them.
                    tokio::task::yield_now().await;
                }
                Err(err) => accept_failed(err).await,
            }
        }
    }

    async fn unix(mut self, listener: UnixListener) {
        loop {
            // Biased: once the worker stops, it accepts nothing more (the other workers, or the
            // replacement, take the connections still queued on the shared socket).
            let Some(slot) = self.slot().await else {
                return;
            };
            let accepted = tokio::select! {
                biased;
                _ = self.stop.changed() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    let info = ConnInfo {
                        peer: None,
                        local: None,
                        label: "unix".into(),
                    };
                    self.spawn(stream, info, slot);
                    // Let the new connection start before accepting another: a worker busy in
                    // the app then leaves the next connections to the other workers, instead
                    // of one worker taking a whole burst of them.
                    tokio::task::yield_now().await;
                }
                Err(err) => accept_failed(err).await,
            }
        }
    }

    fn spawn<IO>(&self, io: IO, info: ConnInfo, slot: OwnedSemaphorePermit)
    where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let service = self.service.clone();
        let stop = self.stop.clone();
        let alive = self.alive.clone();
        tokio::task::spawn_local(async move {
            serve_connection(io, info, service, stop).await;
            drop(slot);
            drop(alive);
        });
    }
}

/// Running out of file descriptors must not spin the loop: wait a little, then accept again.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!(error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn serve_connection<IO>(
    io: IO,
    info: ConnInfo,
    service: Rc<Service>,
    stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    conn::serve(Box::new(io), info, service, stop).await;
}
