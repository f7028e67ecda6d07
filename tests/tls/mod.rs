//! TLS and HTTP/2: HTTPS over HTTP/1.1 (handshakes, key kinds, client certificates and their
//! environ, TLS and plain listeners side by side, certificate renewal on HUP, bad files at
//! start), HTTP/2 behind the same service (static files, the app, limits, graceful stop) with
//! real clients (curl, httpx, the `h2` package), and the attacks HTTP/2 servers were patched
//! for, each while another client is being served.

mod attacks;
mod h2;
mod https;

use crate::support::tls::{cert, tls_args};
use crate::support::{pyrite, Server};

/// One worker running `tests/apps/tls_app.py` behind the test certificate, plus `args`.
fn tls_server(args: &[&str]) -> Server {
    pyrite().args(&tls_args()).args(args).app("tls_app").start()
}

/// The app over plain HTTP (HTTP/1.1 and prior-knowledge HTTP/2), plus `args`.
fn plain_server(args: &[&str]) -> Server {
    pyrite().args(args).app("tls_app").start()
}

/// [`tls_server`] asking for client certificates from the test CA (`--cert-reqs MODE`).
fn client_auth_server(mode: &str) -> Server {
    tls_server(&["--ca-certs", &cert("ca.pem"), "--cert-reqs", mode])
}
