//! TLS from the client's side, for the TLS and HTTP/2 suites: the test certificates under
//! `tests/certs` (made by `tests/certs/make.sh`), a rustls client that trusts their CA (with a
//! client certificate, ALPN protocols and the TLS version as asked), the name on the
//! certificate the server presented, and the Python tools (`h2`, `httpx`) of the test venv.

use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::client::Conn;
use super::fixture::manifest_dir;

/// A file under `tests/certs`.
pub fn cert(name: &str) -> String {
    manifest_dir()
        .join("tests/certs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `--certfile` and `--keyfile` for the test server certificate.
pub fn tls_args() -> Vec<String> {
    vec![
        "--certfile".into(),
        cert("server.pem"),
        "--keyfile".into(),
        cert("server.key"),
    ]
}

/// How the client connects.
#[derive(Clone, Default)]
pub struct Client {
    /// `client.pem`, `stranger.pem`…: the certificate (and its `.key`) to present.
    pub identity: Option<&'static str>,
    pub alpn: Vec<&'static str>,
    /// Only TLS 1.2.
    pub tls12: bool,
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl Client {
    fn config(&self) -> ClientConfig {
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(cert("ca.pem")).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls12 {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match self.identity {
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(cert(name))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let key =
                    PrivateKeyDer::from_pem_file(cert(&name.replace(".pem", ".key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        config
    }

    /// Connects and completes the handshake.
    pub fn connect(&self, addr: &str) -> io::Result<TlsStream> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
        let name = ServerName::try_from("localhost").unwrap();
        let conn =
            ClientConnection::new(Arc::new(self.config()), name).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(stream)
    }

    /// An HTTP/1.1 connection over TLS.
    pub fn conn(&self, addr: &str) -> Conn<TlsStream> {
        Conn::wrap(
            self.connect(addr)
                .unwrap_or_else(|e| panic!("TLS to {addr}: {e}")),
        )
    }
}

/// The common name of the certificate the server presented on `stream`.
pub fn server_cn(stream: &TlsStream) -> String {
    let der = stream.conn.peer_certificates().unwrap()[0].to_vec();
    // The subject's CN is the last printable string after the CN OID (2.5.4.3) in the DER;
    // the issuer's comes first.
    let oid = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der
        .windows(oid.len())
        .enumerate()
        .filter(|(_, w)| *w == oid)
        .map(|(i, _)| i)
        .nth(1)
        .expect("a subject CN");
    let start = at + oid.len();
    let len = der[start + 1] as usize;
    String::from_utf8_lossy(&der[start + 2..start + 2 + len]).into_owned()
}

/// The test venv's Python (`scripts/pyenv`: `h2`, `httpx`).
pub fn python() -> PathBuf {
    manifest_dir().join("target/pyenv/bin/python")
}

/// A script under `tests/h2`.
pub fn h2_script(name: &str) -> String {
    manifest_dir()
        .join("tests/h2")
        .join(name)
        .to_string_lossy()
        .into_owned()
}
