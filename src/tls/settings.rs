//! What TLS is asked to do: the certificate chain and key, the client certificates asked for,
//! the protocols offered by ALPN. `config` builds it; `load` reads what it names.

use std::path::PathBuf;

/// Whether clients must present a certificate (gunicorn's `--cert-reqs`: Python's
/// `ssl.CERT_NONE`, `CERT_OPTIONAL`, `CERT_REQUIRED`, also accepted as 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertReqs {
    /// None is asked for.
    #[default]
    None,
    /// Asked for; a client without one is served, one with a certificate the CA certificates
    /// do not vouch for is refused.
    Optional,
    /// A client without a certificate the CA certificates vouch for is refused.
    Required,
}

impl CertReqs {
    pub fn parse(raw: &str) -> Option<CertReqs> {
        match raw.to_ascii_lowercase().as_str() {
            "none" | "0" | "cert_none" => Some(CertReqs::None),
            "optional" | "1" | "cert_optional" => Some(CertReqs::Optional),
            "required" | "2" | "cert_required" => Some(CertReqs::Required),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// PEM: the server's certificate first, then the intermediates (`--certfile`).
    pub cert_file: PathBuf,
    /// PEM: the private key, PKCS#8, PKCS#1 (RSA) or SEC1 (EC) (`--keyfile`).
    pub key_file: PathBuf,
    /// PEM: the CA certificates client certificates are verified against (`--ca-certs`).
    pub ca_certs: Option<PathBuf>,
    pub cert_reqs: CertReqs,
    /// ALPN protocol names offered, most preferred first (`h2`, `http/1.1`).
    pub alpn: Vec<Vec<u8>>,
}
