//! Reads the PEM files `Settings` names into a rustls server configuration: ring's provider,
//! TLS 1.2 and 1.3 only, the chain and key checked against each other, client certificates
//! verified against `--ca-certs` when asked for. Done in the master (no runtime, no threads:
//! this is plain parsing), once at start and again on HUP.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::settings::{CertReqs, Settings};

/// Why the certificates cannot be used; each message names the flag and file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} '{path}': {why}")]
    File {
        flag: &'static str,
        path: String,
        why: String,
    },
    #[error("--certfile and --keyfile do not go together: {0}")]
    Mismatch(String),
    #[error("--ca-certs: {0}")]
    ClientVerifier(String),
}

/// A loaded server configuration, shared by every TLS listener of a worker.
#[derive(Clone)]
pub struct Acceptor {
    pub(super) config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("alpn", &self.config.alpn_protocols)
            .finish()
    }
}

impl Acceptor {
    /// Reads and checks the files `settings` names.
    pub fn load(settings: &Settings) -> Result<Acceptor, TlsError> {
        let chain = certificates("--certfile", &settings.cert_file)?;
        let key = private_key(&settings.key_file)?;
        let provider = Arc::new(provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        let builder = match (&settings.ca_certs, settings.cert_reqs) {
            (_, CertReqs::None) | (None, _) => builder.with_no_client_auth(),
            (Some(ca), reqs) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates("--ca-certs", ca)? {
                    roots
                        .add(cert)
                        .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = match reqs {
                    CertReqs::Optional => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = settings.alpn.clone();
        // Our order of cipher suites, not the client's: most clients list AES-256 first, which
        // costs more per byte and per handshake (SHA-384) for no practical gain.
        config.ignore_client_order = true;
        // Resumption across the workers of a generation: the ticket keys are made here, before
        // the fork, so every worker accepts the tickets of the others.
        if let Ok(ticketer) = rustls::crypto::ring::Ticketer::new() {
            config.ticketer = ticketer;
        }
        Ok(Acceptor {
            config: Arc::new(config),
        })
    }
}

/// ring's suites, the cheaper ones first: AES-128-GCM, then ChaCha20-Poly1305 (faster where
/// there is no AES instruction), then AES-256-GCM — TLS 1.3, then TLS 1.2 with ECDHE.
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::cipher_suite as suite;
    rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        ..rustls::crypto::ring::default_provider()
    }
}

fn file_error(flag: &'static str, path: &Path, why: impl ToString) -> TlsError {
    TlsError::File {
        flag,
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

/// Every certificate in a PEM file; at least one.
fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, pem_why(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(flag, path, pem_why(e)))?;
    if certs.is_empty() {
        return Err(file_error(flag, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => file_error(
            "--keyfile",
            path,
            "no PEM private key in it (PKCS#8, RSA or EC)",
        ),
        e => file_error("--keyfile", path, pem_why(e)),
    })
}

fn pem_why(err: rustls_pki_types::pem::Error) -> String {
    match err {
        rustls_pki_types::pem::Error::Io(err) => err.to_string(),
        err => format!("not valid PEM ({err})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/certs")
            .join(name)
    }

    fn settings(cert: &str, key: &str) -> Settings {
        Settings {
            cert_file: fixture(cert),
            key_file: fixture(key),
            ca_certs: None,
            cert_reqs: CertReqs::None,
            alpn: vec![b"h2".to_vec()],
        }
    }

    #[test]
    fn every_key_kind_loads() {
        for (cert, key) in [
            ("server.pem", "server.key"),
            ("server2.pem", "server2.key"),
            ("server-rsa.pem", "server-rsa.key"),
            ("server-ed25519.pem", "server-ed25519.key"),
        ] {
            Acceptor::load(&settings(cert, key)).unwrap_or_else(|e| panic!("{cert}: {e}"));
        }
    }

    #[test]
    fn bad_files_name_the_flag() {
        let err = Acceptor::load(&settings("server.pem", "server2.key")).unwrap_err();
        assert!(
            err.to_string().starts_with("--certfile and --keyfile"),
            "{err}"
        );
        let err = Acceptor::load(&settings("nope.pem", "server.key")).unwrap_err();
        assert!(err.to_string().starts_with("--certfile"), "{err}");
        let err = Acceptor::load(&settings("server.pem", "server.pem")).unwrap_err();
        assert!(err.to_string().starts_with("--keyfile"), "{err}");
        let err = Acceptor::load(&settings("server.key", "server.key")).unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }
}
