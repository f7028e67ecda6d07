//! The boundary between a connection driver and what answers its requests. A [`Service`] takes
//! one parsed request and gives back a response made of the body kinds `http` owns (bytes, a
//! file body, a stream). The driver knows nothing of routes, files or apps; the service nothing
//! of HTTP/1.1's framing — so another driver (HTTP/2, say) can call the same service.

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;

use http::Response;

use super::body::Body;
use super::forwarded::AllowList;
use super::request::Request;

/// Answers requests. Called through a type parameter: the driver is compiled for the one
/// service a worker runs, with no indirect call per request.
pub trait Service {
    /// A response that is not ready at once (the app's).
    type Later: Future<Output = Response<Body>>;

    /// Answers `req`, which arrived on `conn`: at once (a file, an error page), or later.
    fn call(&self, req: Request, conn: &Rc<ConnInfo>) -> Reply<Self::Later>;

    /// Told once per request, when its response is ready (before it is written): a worker
    /// counts them for `--max-requests`. Does nothing by default.
    fn responded(&self) {}
}

/// A request's response: ready at once, or to come. The ready response is not boxed: that
/// would cost an allocation on every static hit.
#[allow(clippy::large_enum_variant)]
pub enum Reply<F> {
    Ready(Response<Body>),
    Later(F),
}

/// A connection's peer as a log line shows it ([`ConnInfo::label`]).
pub struct PeerLabel(Option<SocketAddr>);

impl std::fmt::Display for PeerLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(peer) => peer.fmt(f),
            None => f.write_str("unix"),
        }
    }
}

/// The two ends of one connection.
pub struct ConnInfo {
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// What the TLS handshake settled, on a TLS connection.
    pub tls: Option<std::sync::Arc<TlsInfo>>,
}

/// What a TLS connection's handshake settled, for the service (`wsgi.url_scheme` `https`, the
/// client certificate in the environ). Filled in by the TLS layer under the connection driver.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// The cipher suite's IANA name.
    pub cipher: &'static str,
    /// The client's verified certificate, if it sent one.
    pub client: Option<ClientCert>,
}

/// A client certificate the server verified against its CA certificates.
#[derive(Debug, Clone, Default)]
pub struct ClientCert {
    /// The subject's distinguished name (RFC 4514 string form, most specific first).
    pub subject: String,
    /// The issuer's distinguished name, in the same form.
    pub issuer: String,
    /// The serial number, in upper-case hexadecimal.
    pub serial: String,
    /// The certificate in PEM.
    pub pem: String,
}

impl ConnInfo {
    /// How the peer appears in a log line: its address, or `unix` on a Unix socket. Written
    /// only when a line is (most connections never log one), not kept formatted.
    pub fn label(&self) -> PeerLabel {
        PeerLabel(self.peer)
    }

    /// Whether the peer may speak for clients behind it. A Unix-socket peer is a local
    /// process (the proxy in front) and is trusted.
    pub fn trusted(&self, allow: &AllowList) -> bool {
        self.peer.is_none_or(|peer| allow.allows(peer.ip()))
    }
}
