//! Which protocol an accepted connection speaks, between the accept loop and the drivers. On a
//! TLS listener: the handshake first (`tls`), then HTTP/2 if ALPN chose `h2` (or `--http 2`),
//! HTTP/1.1 otherwise. On a plain listener: HTTP/1.1, or HTTP/2 with prior knowledge when the
//! client's first bytes are the HTTP/2 preface (RFC 9113 §3.3) — read as the HTTP/1.1 driver
//! reads a request (`conn::open`: no extra look at the socket), and replayed to the HTTP/2
//! driver when they are the preface. `settings` says which listeners are TLS and which versions
//! are served; `proxy` reads a PROXY protocol header ahead of a TLS handshake (and has the
//! replaying stream).

mod proxy;
mod settings;

use std::rc::Rc;
use std::sync::Arc;

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
            if !sniff {
                conn::serve(io, info, shared, phase).await;
                return;
            }
            match conn::open(io, &shared.settings, PREFACE).await {
                conn::Opening::Http1(opened) => {
                    conn::serve_opened(opened, info, shared, phase).await
                }
                conn::Opening::Other(io, read) => {
                    let io = Box::new(proxy::Rewind::new(read, io));
                    Box::pin(serve_h2(front, io, info, shared, phase)).await;
                }
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

/// The start of the HTTP/2 connection preface (RFC 9113 §3.4): no HTTP/1.1 request begins
/// with it.
const PREFACE: &[u8] = b"PRI ";

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
