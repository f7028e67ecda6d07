//! The HTTP/2 connection driver (RFC 9113), beside `http`'s HTTP/1.1 one and calling the same
//! `http::Service`: the `h2` crate does the framing, HPACK and flow control; this module maps
//! its streams onto the service. `conn` runs one connection (handshake, accepting streams,
//! idle and keep-alive pings, GOAWAY on a graceful stop, the client-reset budget); `stream`
//! answers one stream (`head`: the request checked against the limits and the response head
//! made HTTP/2's; `recv`: the request body as an `http::BodySource`, window granted as it is
//! read; `send`: the response body pulled only once the client's window has room for it);
//! `state` is what its streams tell a connection; `settings` holds the `--http2-*` limits.

mod conn;
mod head;
mod recv;
mod send;
mod settings;
mod state;
mod stream;

pub use conn::serve;
pub use settings::Settings;
