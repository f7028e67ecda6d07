//! The WSGI bridge (PEP 3333) — the only code that names PyO3. `interpreter` starts CPython and
//! imports the app, `process` keeps it behaving like a normal Python process, `environ` builds
//! the request dict, `input` is `wsgi.input`, `errors` is `wsgi.errors`, `start_response` holds
//! the status, headers and `write`, `response` the streamed body, `file_wrapper` is
//! `wsgi.file_wrapper`, `executor` calls the app inline on the runtime thread, `pool` from
//! Python threads, `runner` picks one of the two, `app` holds the imported callable, and
//! `settings` what the command line says about it.

mod app;
mod environ;
mod errors;
pub mod executor;
mod ffi;
mod file_wrapper;
mod input;
mod interpreter;
mod pool;
mod process;
mod response;
mod response_head;
mod runner;
mod settings;
mod start_response;
mod timeout;
mod tls_environ;

use pyo3::prelude::*;

pub use app::{App, LoadError};
pub use environ::RequestInfo;
pub use executor::Executor;
pub use interpreter::load;
pub use pool::OwnedRequest;
pub use response::WsgiBody;
pub use runner::Runner;
pub use settings::{AppSpec, Settings};
pub use timeout::RequestTimeout;

/// Raises `RequestTimeout` in the Python thread `ident` (a pool thread past `--timeout`).
pub fn interrupt_thread(ident: u64) {
    Python::attach(|py| ffi::async_raise(py, ident, &py.get_type::<timeout::RequestTimeout>()));
}

/// Installs the Python handler behind `--timeout` (see `timeout`); call on the main thread.
pub fn install_timeout_handler() -> Result<(), String> {
    Python::attach(|py| timeout::install(py).map_err(|e| app::traceback(py, &e)))
}

/// Forks a worker: with CPython's fork hooks around the fork when an interpreter runs in this
/// process (`--preload`, or the Python entry), a plain fork otherwise.
pub fn fork() -> std::io::Result<crate::sys::Fork> {
    if ffi::is_initialized() {
        ffi::fork_with_hooks()
    } else {
        crate::sys::fork()
    }
}

/// The version of the linked libpython (`3.11.7`), read without starting it.
pub fn libpython_version() -> String {
    ffi::version()
}
