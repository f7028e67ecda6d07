//! TLS under either connection driver, with rustls (ring; TLS 1.2 and 1.3 only). `settings` is
//! what the flags ask for (`--certfile`, `--keyfile`, `--ca-certs`, `--cert-reqs`, the ALPN
//! protocols); `load` reads the PEM files into a server configuration — in the master, before
//! anything is forked, so a bad certificate or key is a one-line error at start and never a
//! failure at the first handshake, and again on HUP for the next generation of workers;
//! `accept` runs one handshake and tells the driver what it settled (`TlsInfo`), the stream
//! then being an `http::Io` like any socket (without sendfile), over `socket`, which sends a
//! single record with `sendto` rather than `writev`; `dn` turns a client
//! certificate's names into the strings the environ carries.

mod accept;
mod dn;
mod load;
mod settings;
mod socket;

pub use accept::{handshake, Handshake, HandshakeError};
pub use load::{Acceptor, TlsError};
pub use settings::{CertReqs, Settings};
