//! The HTTP/1.1 side of a worker, a codec and connection driver that knows nothing of routes,
//! files or apps. `server` accepts connections until the worker's `phase` says it closes;
//! `conn` runs one connection on a strict codec of our own (`parse` reads a request head,
//! `framing` judges what it means, `authority` checks Host, `chunked` decodes bodies,
//! `incoming` is the request body, `request_body` reads one completely) and hands each request
//! to a [`Service`] (`service`), then `write` sends the response (`render` its head, `send` its
//! body) over `transport`, the shared socket. The body kinds a service answers with are http's
//! own: `body` (bytes, a stream), `file_body` (bytes and file ranges, sent with sendfile).
//! `proxy_protocol` and `forwarded` believe what trusted proxies say about the client; `pages`
//! holds the server's own error pages; `settings` what every connection is held to. `accepted`
//! is what runs a connection once accepted: HTTP/1.1 here, or a layer above (TLS, HTTP/2) that
//! picks; `Io` is the byte stream under it.

pub mod accepted;
pub mod authority;
mod body;
pub mod chunked;
pub mod conn;
pub mod fields;
mod file_body;
pub mod forwarded;
pub mod framing;
mod held;
pub mod incoming;
pub mod pages;
pub mod parse;
mod phase;
pub mod proxy_protocol;
mod push;
pub mod reject;
mod render;
pub mod request;
pub mod request_body;
mod send;
pub mod server;
pub mod service;
mod settings;
mod transport;
mod turn;
mod write;

pub use body::{AccessLog, Body, BodyError, BodyStream, LogEnviron, Rendered};
pub use fields::{Fields, Known};
pub use file_body::FileBody;
pub use incoming::BodySource;
pub use phase::Phase;
pub use render::ReasonPhrase;
pub use request::{Head, Request};
pub use request_body::RequestBody;
pub use service::{ClientCert, ConnInfo, Reply, Service, TlsInfo};
pub use settings::Settings;
pub use transport::Io;
