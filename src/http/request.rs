//! A request as a service receives it: its head (method, target, version, [`Fields`]) and its
//! body ([`Incoming`]). The head owns the bytes it arrived in; the target's parts are spans of
//! them, found once, so asking for the path or the query costs nothing (RFC 9112 §3.2).

use std::net::SocketAddr;

use http::{Method, Version};

use super::fields::{Fields, Span};
use super::incoming::Incoming;

/// One request: what the connection parsed, and its body still to be read.
pub struct Request {
    pub head: Head,
    pub body: Incoming,
    /// The client: the peer, or what a trusted proxy said (`--forwarded-allow-ips`), which may
    /// also have replaced `Host`.
    pub client: Option<SocketAddr>,
    /// `http`, or what a trusted proxy said.
    pub scheme: &'static str,
}

/// A request's head. `Send`: a pool thread builds the app's environ from it.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: Method,
    pub version: Version,
    /// The request-target as received.
    target: Span,
    /// Its path (`*` for the asterisk form) and query, without the scheme and authority of an
    /// absolute-form target.
    path: Span,
    query: Option<Span>,
    pub fields: Fields,
}

impl Head {
    /// A head whose target's path and query are found in `path_and_query`, a span of
    /// `fields`' bytes (the whole target, or the part after an absolute-form's authority).
    pub fn new(
        method: Method,
        version: Version,
        target: Span,
        path_and_query: Span,
        fields: Fields,
    ) -> Head {
        let bytes = fields.slice(path_and_query);
        let (path, query) = match bytes.iter().position(|&b| b == b'?') {
            Some(q) => (
                Span::new(path_and_query.start as usize, q),
                Some(Span::new(
                    path_and_query.start as usize + q + 1,
                    bytes.len() - q - 1,
                )),
            ),
            None => (path_and_query, None),
        };
        Head {
            method,
            version,
            target,
            path,
            query,
            fields,
        }
    }

    /// The request-target as it was sent.
    pub fn target(&self) -> &str {
        self.text(self.target)
    }

    /// The target's path, still percent-encoded.
    pub fn path(&self) -> &str {
        self.text(self.path)
    }

    /// The target's query (after `?`, which may be empty), if it has one.
    pub fn query(&self) -> Option<&str> {
        self.query.map(|q| self.text(q))
    }

    /// Path and query together, as they were sent (`RAW_URI`, the access log).
    pub fn path_and_query(&self) -> &str {
        let end = self.query.unwrap_or(self.path);
        self.text(Span::new(
            self.path.start as usize,
            (end.start + end.len - self.path.start) as usize,
        ))
    }

    /// The target's bytes are visible ASCII (the parser refuses anything else).
    fn text(&self, span: Span) -> &str {
        std::str::from_utf8(self.fields.slice(span)).unwrap_or_default()
    }
}
