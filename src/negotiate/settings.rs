//! What the protocol layer is configured with: which listeners are TLS (by their place in the
//! worker's list), the TLS configuration they share, which HTTP versions are served
//! (`--http 1|2|auto`, Granian's spelling) and the HTTP/2 limits. `config` builds it; the master
//! reloads its certificates on HUP.

use crate::tls;

/// `--http`: which versions are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versions {
    /// HTTP/1.1 only: TLS offers only `http/1.1`; plain listeners never look for a preface.
    Http1,
    /// HTTP/2 only: TLS offers only `h2` (and speaks it without ALPN too); plain listeners
    /// expect the preface (prior knowledge).
    Http2,
    /// Both: `h2` and `http/1.1` by ALPN, prior-knowledge HTTP/2 on plain listeners.
    #[default]
    Auto,
}

impl Versions {
    pub fn parse(raw: &str) -> Option<Versions> {
        match raw {
            "1" | "1.1" | "http1" => Some(Versions::Http1),
            "2" | "http2" => Some(Versions::Http2),
            "auto" => Some(Versions::Auto),
            _ => None,
        }
    }

    /// The ALPN protocols offered, most preferred first.
    pub fn alpn(self) -> Vec<Vec<u8>> {
        match self {
            Versions::Http1 => vec![b"http/1.1".to_vec()],
            Versions::Http2 => vec![b"h2".to_vec()],
            Versions::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Per listener, in the order they are bound: whether it is TLS.
    pub tls_listeners: Vec<bool>,
    /// For listeners past that list (inherited ones, e.g. by socket activation).
    pub tls_by_default: bool,
    /// What the TLS listeners were configured from (reloaded on HUP).
    pub tls_settings: Option<tls::Settings>,
    /// The loaded certificates.
    pub tls: Option<tls::Acceptor>,
    pub versions: Versions,
    pub h2: crate::h2::Settings,
}

impl Settings {
    pub fn is_tls(&self, listener: usize) -> bool {
        self.tls.is_some()
            && self
                .tls_listeners
                .get(listener)
                .copied()
                .unwrap_or(self.tls_by_default)
    }

    /// Whether anything but plain HTTP/1.1 is served (else the worker needs no such layer).
    pub fn needed(&self) -> bool {
        self.tls.is_some() || self.versions != Versions::Http1
    }

    /// Reads the certificate files again (HUP), for the workers forked from now on. On failure
    /// the certificates loaded before stay in use.
    pub fn reload_tls(&mut self) -> Result<bool, tls::TlsError> {
        let Some(settings) = &self.tls_settings else {
            return Ok(false);
        };
        self.tls = Some(tls::Acceptor::load(settings)?);
        Ok(true)
    }
}
