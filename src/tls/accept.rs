//! One TLS handshake on an accepted connection, bounded by a timeout (a client that opens a
//! connection and says nothing, or trickles its hello, holds a slot no longer than one that
//! trickles a request head). What it settled — protocol, suite, ALPN, the client's verified
//! certificate — goes to the driver as `TlsInfo`; the stream is then an `http::Io` without
//! sendfile, which buffers what it writes (so the writer flushes). Under it, the socket sends
//! one record with a plain write (`socket`).

use std::time::Duration;

use rustls::ProtocolVersion;
use tokio_rustls::server::TlsStream;

use super::dn;
use super::load::Acceptor;
use super::socket::Socket;
use crate::http::{ClientCert, Io, TlsInfo};

impl Io for TlsStream<Socket> {
    fn buffers_writes(&self) -> bool {
        true
    }
}

/// Why a handshake did not complete (logged at debug: clients fail handshakes all the time).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS handshake failed: {0}")]
    Failed(#[from] std::io::Error),
    #[error("TLS handshake timed out")]
    Timeout,
}

/// A completed handshake.
pub struct Handshake {
    pub stream: Box<dyn Io>,
    pub info: TlsInfo,
    /// The protocol chosen by ALPN (`h2`, `http/1.1`), if the client offered any.
    pub alpn: Option<Vec<u8>>,
}

/// Runs the server side of a handshake on `io`, for at most `timeout`.
pub async fn handshake(
    acceptor: &Acceptor,
    io: Box<dyn Io>,
    timeout: Duration,
) -> Result<Handshake, HandshakeError> {
    let accept = tokio_rustls::TlsAcceptor::from(acceptor.config.clone()).accept(Socket(io));
    let stream = match tokio::time::timeout(timeout, accept).await {
        Ok(stream) => stream?,
        Err(_) => return Err(HandshakeError::Timeout),
    };
    let (_, conn) = stream.get_ref();
    let protocol = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .unwrap_or("");
    let client = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| client_cert(cert.as_ref()));
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    Ok(Handshake {
        stream: Box::new(stream),
        info: TlsInfo {
            protocol,
            cipher,
            client,
        },
        alpn,
    })
}

fn client_cert(der: &[u8]) -> ClientCert {
    let names = dn::names(der).unwrap_or_default();
    ClientCert {
        subject: names.subject,
        issuer: names.issuer,
        serial: names.serial,
        pem: dn::pem(der),
    }
}
