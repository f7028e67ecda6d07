//! The one harness of the integration tests. Tests drive the real `pyrite` executable over
//! real sockets:
//!
//! - `server`: start it with a builder, wait for its log lines, stop and reap it on drop;
//! - `capture`: its stdout and stderr, waited on for a line;
//! - `client` and `response`: raw HTTP/1.1 bytes out, responses parsed by hand;
//! - `fixture`: the executable, `tests/apps`, temporary directories, app call logs;
//! - `process`: signals and `/proc` readings of the master and its workers;
//! - `json`: the apps' JSON answers;
//! - `netns` and `load`: private networks of namespaces for the balancer tests, and an exact
//!   load of client threads to run through them.
//! - `tls`: the test certificates, a TLS client, the Python HTTP/2 tools.

pub mod capture;
pub mod client;
pub mod fixture;
pub mod json;
pub mod load;
pub mod netns;
pub mod process;
pub mod response;
pub mod server;
pub mod tls;

pub use client::{chunked, exchange, fetch, get, post, request, try_fetch, Conn};
pub use fixture::{app_dir, app_path, apps_dir, bin, manifest_dir, tmpdir, write_module, CallLog};
pub use json::Value;
pub use process::{eventually, kill, pid_alive, wait_pid_gone};
pub use response::{Exchange, Framing, Response};
pub use server::{pyrite, Server, BOOTED, EXITED, LISTENING, LONG_WAIT, STARTUP_TIMEOUT, WAIT};
