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
//!
//! All but the client certificate's are the same for every request of a protocol and suite: a
//! request's environ is copied from a template that holds them already (`Templates`, one per
//! protocol and suite seen, made on first use), with `wsgi.url_scheme` = `https`. Setting them
//! per request cost five dict insertions, and a resize of the copy (the plain template has no
//! room for four more keys).

use std::sync::Mutex;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::http::TlsInfo;

/// The environ templates of TLS requests, by protocol and suite. Both names are `'static`
/// strings of the TLS library, so there are at most a few dozen. (A mutex, as the executor is
/// shared with the `--threads` pool; it is only ever taken for a moment, holding the GIL.)
pub struct Templates {
    base: Py<PyDict>,
    made: Mutex<Vec<Made>>,
}

type Made = (&'static str, &'static str, Py<PyDict>);

impl Templates {
    /// Templates made from `base`, the plain requests' one.
    pub fn new(py: Python<'_>, base: &Bound<'_, PyDict>) -> PyResult<Templates> {
        let tls = base.copy()?;
        tls.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "https"))?;
        tls.set_item(intern!(py, "HTTPS"), intern!(py, "on"))?;
        tls.set_item(intern!(py, "SSL_CLIENT_VERIFY"), intern!(py, "NONE"))?;
        Ok(Templates {
            base: tls.unbind(),
            made: Mutex::new(Vec::new()),
        })
    }

    /// The template for a connection that negotiated `tls` (its client certificate aside:
    /// `add_client` sets those keys).
    pub fn get<'py>(&self, py: Python<'py>, tls: &TlsInfo) -> PyResult<Bound<'py, PyDict>> {
        let mut made = self
            .made
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = made
            .iter()
            .find(|(protocol, cipher, _)| *protocol == tls.protocol && *cipher == tls.cipher)
            .map(|(_, _, template)| template.bind(py).clone());
        if let Some(template) = found {
            return Ok(template);
        }
        let template = self.base.bind(py).copy()?;
        template.set_item(intern!(py, "SSL_PROTOCOL"), known(py, tls.protocol))?;
        template.set_item(intern!(py, "SSL_CIPHER"), known(py, tls.cipher))?;
        made.push((tls.protocol, tls.cipher, template.clone().unbind()));
        Ok(template)
    }
}

/// The keys of a verified client certificate, on an environ copied from a template.
pub fn add_client(py: Python<'_>, env: &Bound<'_, PyDict>, tls: &TlsInfo) -> PyResult<()> {
    let Some(cert) = &tls.client else {
        return Ok(());
    };
    env.set_item(intern!(py, "SSL_CLIENT_VERIFY"), intern!(py, "SUCCESS"))?;
    env.set_item(intern!(py, "SSL_CLIENT_S_DN"), &cert.subject)?;
    env.set_item(intern!(py, "SSL_CLIENT_I_DN"), &cert.issuer)?;
    env.set_item(intern!(py, "SSL_CLIENT_M_SERIAL"), &cert.serial)?;
    env.set_item(intern!(py, "SSL_CLIENT_CERT"), &cert.pem)?;
    Ok(())
}

/// The protocol and suite names pyrite negotiates, as strings made once.
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
