//! Which protocol an accepted connection speaks, between the accept loop and the drivers. On a
//! TLS listener: the handshake first (`tls`), then HTTP/2 if ALPN chose `h2` (or `--http 2`),
//! HTTP/1.1 otherwise. On a plain listener: HTTP/1.1, or HTTP/2 with prior knowledge when the
//! client's first bytes are the HTTP/2 preface (RFC 9113 §3.3) — seen with MSG_PEEK, so the
//! driver that takes over reads them itself. `settings` says which listeners are TLS and which
//! versions are served; `proxy` reads a PROXY protocol header ahead of a TLS handshake.

mod proxy;
mod settings;

use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::ReadBuf;
use tokio::sync::watch;

use crate::http::accepted::Connections;
use crate::http::conn::{self, Shared};
use crate::http::{ConnInfo, Io, Phase, Service};

pub use settings::{Settings, Versions};

/// The protocol layer of a worker: picks each connection's driver.
#[derive(Clone)]
pub struct Front {
    settings: Rc<Settings>,
}

impl Front {
    pub fn new(settings: Settings) -> Front {
        Front {
            settings: Rc::new(settings),
        }
    }
}

impl<S: Service + 'static> Connections<S> for Front {
    fn serve(
        &self,
        listener: usize,
        io: Box<dyn Io>,
        info: ConnInfo,
        shared: Rc<Shared<S>>,
        phase: watch::Receiver<Phase>,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let front = self.settings.clone();
        async move {
            if front.is_tls(listener) {
                Box::pin(over_tls(front, io, info, shared, phase)).await;
                return;
            }
            let sniff = front.versions != Versions::Http1 && !shared.settings.proxy_protocol;
            if sniff && prior_knowledge(&*io, &shared).await {
                Box::pin(serve_h2(front, io, info, shared, phase)).await;
            } else {
                conn::serve(io, info, shared, phase).await;
            }
        }
    }
}

async fn serve_h2<S: Service + 'static>(
    front: Rc<Settings>,
    io: Box<dyn Io>,
    info: ConnInfo,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
) {
    crate::h2::serve(io, info, shared, phase, &front.h2).await;
}

/// The start of the HTTP/2 connection preface: no HTTP/1.1 request begins with it.
const PREFACE: &[u8] = b"PRI ";

/// Whether the client's first bytes are the HTTP/2 preface. A client that sends nothing within
/// the header timeout leaves it to HTTP/1.1 (which closes it as it would). A stop does not cut
/// the look short: the request may be on its way, and the driver that takes over finishes it
/// (HTTP/2 with a GOAWAY, HTTP/1.1 closing after the response).
async fn prior_knowledge<S>(io: &dyn Io, shared: &Shared<S>) -> bool {
    let look = async {
        loop {
            let mut first = [0u8; PREFACE.len()];
            let mut buf = ReadBuf::new(&mut first);
            let seen = match poll_fn(|cx| io.poll_peek(cx, &mut buf)).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            if first[..seen] != PREFACE[..seen] {
                return false;
            }
            if seen == PREFACE.len() {
                return true;
            }
            // The preface's first bytes came alone: peek again once more has arrived.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(shared.settings.header_timeout, look)
        .await
        .unwrap_or(false)
}

/// A connection on a TLS listener: PROXY header (if one is expected), handshake, driver.
async fn over_tls<S: Service + 'static>(
    front: Rc<Settings>,
    io: Box<dyn Io>,
    mut info: ConnInfo,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
) {
    let Some(acceptor) = &front.tls else {
        return;
    };
    let http = &shared.settings;
    let mut io = io;
    if http.proxy_protocol && info.trusted(&http.forwarded_allow) {
        match proxy::read(io, http.header_timeout).await {
            Some((rest, client)) => {
                io = rest;
                if let Some(client) = client {
                    info.peer = Some(client);
                }
            }
            None => {
                tracing::debug!(peer = %info.label(), "malformed or missing PROXY protocol header");
                return;
            }
        }
    }
    let handshake = match crate::tls::handshake(acceptor, io, http.header_timeout).await {
        Ok(handshake) => handshake,
        Err(err) => {
            tracing::debug!(peer = %info.label(), error = %err, "TLS handshake failed");
            return;
        }
    };
    info.tls = Some(Arc::new(handshake.info));
    let h2 = match front.versions {
        Versions::Http1 => false,
        Versions::Http2 => true,
        Versions::Auto => handshake.alpn.as_deref() == Some(b"h2"),
    };
    if h2 {
        crate::h2::serve(handshake.stream, info, shared, phase, &front.h2).await;
    } else {
        conn::serve(handshake.stream, info, shared, phase).await;
    }
}
