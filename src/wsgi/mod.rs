//! The WSGI bridge (PEP 3333) — the only code that names PyO3. `interpreter` starts CPython and
//! imports the app, `process` keeps it behaving like a normal Python process, `environ` builds
//! the request dict, `input` is `wsgi.input`, `errors` is `wsgi.errors`, `start_response` holds
//! the status, headers and `write`, `response` the streamed body, `file_wrapper` is
//! `wsgi.file_wrapper`, and `executor` calls the app inline on the runtime thread.

mod environ;
mod errors;
pub mod executor;
mod ffi;
mod file_wrapper;
mod head;
mod input;
mod interpreter;
mod pool;
mod process;
mod response;
mod start_response;
mod timeout;

use pyo3::prelude::*;

pub use environ::RequestInfo;
pub use executor::Executor;
pub use input::RequestBody;
pub use interpreter::load;
pub use pool::OwnedRequest;
pub use response::WsgiBody;
pub use timeout::RequestTimeout;

/// The imported app callable.
pub struct App {
    callable: Py<PyAny>,
    /// `wsgi.multiprocess`: true when more than one worker serves the same app.
    multiprocess: bool,
    /// `--script-name`: the decoded path prefix the app is mounted at ("" for the root).
    script_name: Vec<u8>,
    /// The interpreter hooks of `process` (run on a graceful stop).
    hooks: Py<PyModule>,
    /// `wsgi.multithread`: true with the pool executor.
    multithread: bool,
}

/// How the app is called: on the runtime thread (default), or by a pool of Python threads.
pub enum Runner {
    Inline(Executor),
    Pool(pool::Pool),
}

impl Runner {
    /// `threads` ≤ 1 means inline.
    pub fn new(mut app: App, threads: usize) -> std::io::Result<Runner> {
        app.multithread = threads > 1;
        Python::attach(|py| process::arm(py, &app.hooks))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let executor = Executor::new(app).map_err(|e| std::io::Error::other(e.to_string()))?;
        if threads <= 1 {
            return Ok(Runner::Inline(executor));
        }
        Ok(Runner::Pool(pool::Pool::start(executor, threads)?))
    }

    /// Whether the decoded request `path` is inside the app's `--script-name` prefix.
    pub fn serves(&self, path: &[u8]) -> bool {
        match self {
            Runner::Inline(executor) => executor.serves(path),
            Runner::Pool(pool) => pool.executor().serves(path),
        }
    }

    pub async fn call(&self, mut request: OwnedRequest) -> http::Response<crate::http::Body> {
        match self {
            Runner::Inline(executor) => {
                let body =
                    std::mem::replace(&mut request.body, RequestBody::Memory(Default::default()));
                executor.call(request.info(body))
            }
            Runner::Pool(pool) => pool.call(request).await,
        }
    }
}

/// Raises `RequestTimeout` in the Python thread `ident` (a pool thread past `--timeout`).
pub fn interrupt_thread(ident: u64) {
    Python::attach(|py| ffi::async_raise(py, ident, &py.get_type::<timeout::RequestTimeout>()));
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the Python interpreter could not start: {0}")]
    Interpreter(String),
    #[error("{summary}")]
    Import { traceback: String, summary: String },
}

/// Installs the Python handler behind `--timeout` (see `timeout`); call on the main thread.
pub fn install_timeout_handler() -> Result<(), String> {
    Python::attach(|py| timeout::install(py).map_err(|e| traceback(py, &e)))
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

/// The formatted Python traceback of `err` (what `traceback.print_exception` prints).
pub(crate) fn traceback(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|tb| {
            // The traceback is passed explicitly: on Python < 3.12 it is not always attached
            // to the exception value yet.
            tb.call_method1(
                "format_exception",
                (err.get_type(py), err.value(py), err.traceback(py)),
            )
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_owned(),
        Err(_) => err.to_string(),
    }
}
