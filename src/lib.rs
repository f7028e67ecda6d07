//! pyrite: a web server for static files and Python WSGI applications.
//!
//! The process tree:
//!
//! ```text
//! pyrite (master)   entry → config (flags, PYRITE_*, -c FILE → Config) → master: bind
//!  │                listener, fork, then supervise — master::policy decides,
//!  │                master::supervisor does (sys calls); /metrics, statsd and sd_notify from
//!  │                the same loop; reloader (a child watching Python files under --reload);
//!  │                the hook process (wsgi::HookProcess, a gunicorn.conf.py's master hooks)
//!  ├── worker 1     worker: wsgi::interpreter (start CPython, or find it running under the
//!  │                Python entry; import the app once), then a
//!  └── worker N     current-thread tokio runtime: http::server (accept, graceful stop);
//!                   worker::stop walks it through a stop (an http::Phase: drain, close),
//!                   worker::lifecycle recycles it (--max-requests, --max-rss); heartbeat
//!                   tells the master it is alive, metrics what it served
//! ```
//!
//! The request path inside a worker:
//!
//! ```text
//! TcpStream → negotiate: tls (rustls handshake, ALPN) under either driver, then
//!             http::conn (strict HTTP/1.1: http::parse, framing, incoming) | h2 (HTTP/2)
//!           → http::Service ═ service::Dispatcher → router ─┬→ static_files (never Python)
//!                                                          └→ wsgi::Runner → app(environ, start_response)
//!           ← Response<http::Body>: bytes | http::FileBody | http::BodyStream (a WSGI iterable)
//!           → http::write (render the head, send the body: frames or sendfile; a slow call's
//!             last bytes held to the end of the loop's turn, http::turn)
//! ```
//!
//! Two entry points, one core: the standalone binary (`main.rs`, libpython linked in) and the
//! Python package's `pyrite` command (the extension crate `crates/pyrite-py`, inside the venv's
//! own interpreter) both call [`entry::run`]; an [`entry::Host`] says what differs.
//!
//! The layers point one way (`scripts/check-layers` fails on an import cycle between files):
//! entry → master → worker → config → service → router, static_files, wsgi → negotiate, h2,
//! tls → http → listener, logging, heartbeat, metrics → sys, text, exit, deadline. `http` knows
//! nothing of routes, files or apps: it calls a [`http::Service`] and writes the body kinds it
//! owns, so the HTTP/2 driver (`h2`) calls the same service, and TLS (`tls`) is a stream under
//! either. Each module owns its settings type; `config` builds them.
//!
//! Unsafe code lives only in `sys` (fork, signals, libc) and `wsgi::ffi` (CPython start-up),
//! each block with a `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks`).
#![deny(unsafe_code)]

pub mod access_log;
pub mod config;
pub mod deadline;
pub mod entry;
pub mod exit;
pub mod h2;
pub mod heartbeat;
pub mod http;
pub mod listener;
pub mod logging;
pub mod master;
pub mod metrics;
pub mod negotiate;
pub mod reloader;
pub mod router;
pub mod service;
pub mod static_files;
pub mod sys;
pub mod text;
pub mod tls;
pub mod worker;
pub mod wsgi;
