//! pyrite: a web server for static files and Python WSGI applications.
//!
//! ```text
//! pyrite (master)    master.rs — pure Rust: config.rs → listener.rs (bind) → fork → supervise
//!  ├── worker 1      worker.rs — wsgi::interpreter (CPython, import the app once), then a
//!  └── worker N      current-thread tokio runtime: http::server (accept, graceful stop)
//! ```
//!
//! The request path inside a worker:
//!
//! ```text
//! TcpStream → http::conn (strict HTTP/1.1) → http::service → router ─┬→ static_files (no Python)
//!                                                                    └→ wsgi::executor → app(environ, start_response)
//! ```
//!
//! Two entry points, one core: the standalone binary (`main.rs`, libpython linked in) and the
//! Python package's `pyrite` command (`crates/pyrite-py`, inside the venv's own interpreter) both
//! call `entry::run`.
//!
//! Unsafe code lives only in `sys` (fork, signals, libc) and `wsgi::ffi` (CPython start-up).
#![deny(unsafe_code)]

pub mod config;
pub mod entry;
pub mod heartbeat;
pub mod http;
pub mod listener;
pub mod logging;
pub mod master;
pub mod reloader;
pub mod router;
pub mod static_files;
pub mod sys;
pub mod worker;
pub mod wsgi;

/// pyrite's version, as `--version` and the Python package's `__version__` give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
