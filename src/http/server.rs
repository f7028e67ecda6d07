//! The accept loops and connections of one worker, on a current-thread runtime. A graceful
//! stop closes the listeners, lets every in-flight request finish, closes idle keep-alive
//! connections, and returns once no connection is left.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, watch};

use super::service::{self, ConnInfo, Service};
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
    for listener in listeners {
        let accept = Accept {
            service: service.clone(),
            stop: stop_rx.clone(),
            alive: alive_tx.clone(),
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
    service.draining.set(true);
    let _ = stop_tx.send(true);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// How long an idle keep-alive connection stays open once the worker is stopping.
const LINGER: Duration = Duration::from_millis(1000);

struct Accept {
    service: Rc<Service>,
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
}

impl Accept {
    async fn tcp(mut self, listener: TcpListener) {
        let local = listener.local_addr().ok();
        loop {
            // Biased: once the worker stops, it accepts nothing more (the other workers, or the
            // replacement, take the connections still queued on the shared socket).
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
                    self.spawn(stream, info);
                }
                Err(err) => accept_failed(err).await,
            }
        }
    }

    async fn unix(mut self, listener: UnixListener) {
        loop {
            // Biased: once the worker stops, it accepts nothing more (the other workers, or the
            // replacement, take the connections still queued on the shared socket).
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
                    self.spawn(stream, info);
                }
                Err(err) => accept_failed(err).await,
            }
        }
    }

    fn spawn<IO>(&self, io: IO, info: ConnInfo)
    where
        IO: AsyncRead + AsyncWrite + Unpin + 'static,
    {
        let service = self.service.clone();
        let stop = self.stop.clone();
        let alive = self.alive.clone();
        tokio::task::spawn_local(async move {
            serve_connection(io, info, service, stop).await;
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
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let info = Rc::new(info);
    let svc = service_fn(move |req| service::handle(req, service.clone(), info.clone()));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        // No `pipeline_flush`: with it, hyper 1.x reports room in its write buffer whatever it
        // holds, so a streamed body (a large file, a WSGI generator) would be read into memory
        // as fast as it can be produced instead of as fast as the client takes it.
        .title_case_headers(true)
        .serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    if !*stop.borrow_and_update() {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed() => {}
        }
    }
    // Draining: every response now says `Connection: close`. A client about to use this
    // connection (a keep-alive reuse, or a connection accepted just as the stop came) gets
    // LINGER to do so and be answered, instead of having it shut under a request already on
    // its way.
    let linger = tokio::time::sleep(LINGER);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            return;
        }
        _ = linger => {}
    }
    conn.as_mut().graceful_shutdown();
    if let Err(err) = conn.await {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
