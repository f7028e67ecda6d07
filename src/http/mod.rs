//! The HTTP/1.1 side of a worker: `server` accepts connections until a graceful stop, `conn`
//! runs one connection on a strict codec of our own (`head` and `framing` parse and judge a
//! request head, `chunked` decodes bodies, `incoming` is the request body, `write` frames the
//! response, `transport` is the shared socket; `proxy_protocol` and `forwarded` believe what
//! trusted proxies say about the client), `service` turns one request into a response
//! through the router, `request_body` reads a request body completely, `body` is the response
//! body type, and `pages` holds the server's own error pages.

mod body;
pub mod chunked;
pub mod conn;
mod file_body;
pub mod forwarded;
pub mod framing;
pub mod incoming;
pub mod pages;
pub mod parse;
pub mod proxy_protocol;
pub mod reject;
mod render;
pub mod request_body;
mod send;
pub mod server;
pub mod service;
mod settings;
mod transport;
mod write;

pub use body::{AccessLog, Body, BodyError, BodyStream};
pub use file_body::FileBody;
pub use render::ReasonPhrase;
pub use request_body::RequestBody;
pub use service::{ConnInfo, Reply, Service};
pub use settings::Settings;
