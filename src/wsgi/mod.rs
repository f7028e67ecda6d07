//! The WSGI bridge (PEP 3333) — the only code that names PyO3. `interpreter` starts CPython and
//! imports the app, `process` keeps it behaving like a normal Python process, `environ` builds
//! the request dict, `input` is `wsgi.input`, `errors` is `wsgi.errors`, `start_response` holds
//! the status, headers and `write` (`header_names` checks each header name of the app's once),
//! `response` the streamed body, `file_wrapper` is `wsgi.file_wrapper`, `executor` calls the
//! app inline on the runtime thread, `pool` from Python threads (`handoff` gives them the
//! requests, `outbox` carries their replies back), `runner` picks one of the two, `app` holds
//! the imported callable, and `settings` what the command line says about it.

mod app;
mod config_file;
mod environ;
mod errors;
pub mod executor;
mod ffi;
mod file_wrapper;
mod handoff;
mod header_names;
mod hook_process;
pub mod hooks;
mod input;
mod interpreter;
mod outbox;
mod overrun;
mod pieces;
mod pool;
mod process;
mod pylog;
mod response;
mod response_head;
mod runner;
mod settings;
mod start_response;
mod strings;
mod timeout;
mod tls_environ;
mod traceback;

use pyo3::prelude::*;

pub use app::{App, LoadError};
pub use config_file::evaluate_config;
pub use environ::RequestInfo;
pub use executor::Executor;
pub use ffi::{fork, release_held_gil};
pub use hook_process::{HookProcess, MASTER_HOOKS};
pub use hooks::{HookContext, WorkerHooks};
pub use interpreter::{executable, hook_preloaded, load, load_hooked};
pub use pool::OwnedRequest;
pub use response::WsgiBody;
pub use runner::Runner;
pub use settings::{AppSpec, HookFile, Settings};
pub use timeout::{interrupt_thread, RequestTimeout};

/// Installs the Python handler behind `--timeout` (see `timeout`); call on the main thread.
pub fn install_timeout_handler() -> Result<(), String> {
    Python::attach(|py| timeout::install(py).map_err(|e| app::traceback(py, &e)))
}

/// The version of the linked libpython (`3.11.7`), read without starting it.
pub fn libpython_version() -> String {
    ffi::version()
}
