//! The HTTP/1.1 side of a worker: `server` accepts connections and drives hyper until a
//! graceful stop, `service` turns one request into a response through the router,
//! `request_body` reads a request body completely, `body` is the response body type, and
//! `pages` holds the server's own error pages.

mod body;
pub mod pages;
mod request_body;
pub mod server;
pub mod service;

pub use body::{AccessLog, Body, BodyError};
