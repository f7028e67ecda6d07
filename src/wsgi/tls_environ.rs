//! The TLS variables of a request's environ, named as Apache's mod_ssl (and uWSGI, and CGI
//! servers after it) name them, so apps and middleware written for those find them:
//!
//! - `HTTPS` = `on`;
//! - `SSL_PROTOCOL` (`TLSv1.2`, `TLSv1.3`) and `SSL_CIPHER` (the suite's IANA name);
//! - `SSL_CLIENT_VERIFY`: `SUCCESS` when the client sent a certificate the server verified
//!   against `--ca-certs`, `NONE` when it sent none (a certificate that fails verification
//!   never gets this far: the handshake fails);
//! - with a client certificate: `SSL_CLIENT_S_DN` and `SSL_CLIENT_I_DN` (subject and issuer,
//!   RFC 4514 form as mod_ssl prints by default, e.g. `CN=alice,O=Example,C=US`),
//!   `SSL_CLIENT_M_SERIAL` (hexadecimal) and `SSL_CLIENT_CERT` (the certificate in PEM).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::http::TlsInfo;

/// The keys `add` always sets, with placeholder values, for the template a TLS connection's
/// environ is copied from (so that setting them overwrites in place).
pub fn placeholders(py: Python<'_>, env: &Bound<'_, PyDict>) -> PyResult<()> {
    for key in [
        intern!(py, "HTTPS"),
        intern!(py, "SSL_PROTOCOL"),
        intern!(py, "SSL_CIPHER"),
        intern!(py, "SSL_CLIENT_VERIFY"),
    ] {
        env.set_item(key, intern!(py, ""))?;
    }
    Ok(())
}

pub fn add(py: Python<'_>, env: &Bound<'_, PyDict>, tls: &TlsInfo) -> PyResult<()> {
    env.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
    env.set_item(intern!(py, "SSL_PROTOCOL"), known(py, tls.protocol))?;
    env.set_item(intern!(py, "SSL_CIPHER"), known(py, tls.cipher))?;
    match &tls.client {
        Some(cert) => {
            env.set_item(intern!(py, "SSL_CLIENT_VERIFY"), intern!(py, "SUCCESS"))?;
            env.set_item(intern!(py, "SSL_CLIENT_S_DN"), &cert.subject)?;
            env.set_item(intern!(py, "SSL_CLIENT_I_DN"), &cert.issuer)?;
            env.set_item(intern!(py, "SSL_CLIENT_M_SERIAL"), &cert.serial)?;
            env.set_item(intern!(py, "SSL_CLIENT_CERT"), &cert.pem)?;
        }
        None => env.set_item(intern!(py, "SSL_CLIENT_VERIFY"), intern!(py, "NONE"))?,
    }
    Ok(())
}

/// The protocol and suite names pyrite negotiates, as strings made once (a new `str` for each
/// request cost two allocations and a UTF-8 check apiece).
fn known<'py>(py: Python<'py>, name: &'static str) -> Bound<'py, PyString> {
    let interned = match name {
        "TLSv1.3" => intern!(py, "TLSv1.3"),
        "TLSv1.2" => intern!(py, "TLSv1.2"),
        "TLS13_AES_128_GCM_SHA256" => intern!(py, "TLS13_AES_128_GCM_SHA256"),
        "TLS13_CHACHA20_POLY1305_SHA256" => intern!(py, "TLS13_CHACHA20_POLY1305_SHA256"),
        "TLS13_AES_256_GCM_SHA384" => intern!(py, "TLS13_AES_256_GCM_SHA384"),
        _ => return PyString::new(py, name),
    };
    interned.clone()
}
