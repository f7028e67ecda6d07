//! gunicorn's server hooks inside a worker, from a Python configuration file (`-c
//! gunicorn.conf.py`), executed again here (never in the master): `post_fork(server, worker)`
//! before the app is imported, `post_worker_init(worker)` after, `pre_request(worker, req)`
//! and `post_request(worker, req, environ, resp)` around each app call, `worker_abort(worker)`
//! on the master's SIGABRT, `worker_exit(server, worker)` at a graceful end. The objects carry
//! what hooks use in practice (`hooks.py`). A hook that raises is logged with its traceback;
//! at start-up (`post_fork`, `post_worker_init`) that fails the worker's boot, as in gunicorn,
//! and `pre_request` fails its request with a 500, as in gunicorn. Without a hook the request
//! path checks one `Option`.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::environ::RequestInfo;
use super::pylog;
use super::settings::HookFile;

/// The Python side (objects, loading, calling), compiled once per process.
pub const HELPERS: &str = include_str!("hooks.py");

/// What the hooks' `server` and `worker` objects are made of.
#[derive(Debug, Clone, Default)]
pub struct HookContext {
    pub master_pid: i32,
    /// gunicorn's `worker.age`: the how-manieth worker the master started.
    pub age: u64,
    pub num_workers: usize,
    /// The listening addresses (`server.address`).
    pub address: Vec<String>,
    pub proc_name: String,
    /// `server.cfg` as JSON: setting name → value.
    pub cfg_json: String,
}

/// The helpers module (`hooks.py`).
pub fn helpers(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let code = CString::new(HELPERS).expect("no NUL in hooks.py");
    PyModule::from_code(py, &code, c"pyrite_hooks.py", c"pyrite_hooks")
}

/// The objects hooks receive, built in this process.
pub fn objects<'py>(
    py: Python<'py>,
    helpers: &Bound<'py, PyModule>,
    ctx: &HookContext,
    worker_pid: Option<i32>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let log = match pylog::logger(py) {
        Some(log) => log,
        None => py
            .import("logging")?
            .call_method1("getLogger", ("pyrite",))?,
    };
    let cfg_dict = py
        .import("json")?
        .call_method1("loads", (ctx.cfg_json.as_str(),))?;
    let cfg = helpers.getattr("Config")?.call1((cfg_dict,))?;
    let address = PyList::new(py, &ctx.address)?;
    let server = helpers.getattr("Server")?.call1((
        ctx.master_pid,
        &cfg,
        &log,
        address,
        ctx.num_workers,
        ctx.proc_name.as_str(),
    ))?;
    let worker =
        helpers
            .getattr("Worker")?
            .call1((worker_pid, ctx.master_pid, ctx.age, &cfg, &log))?;
    Ok((server, worker))
}

/// Calls `hook(*args)`; the traceback of what it raised, if it did.
pub fn call<'py>(
    helpers: &Bound<'py, PyModule>,
    hook: &Bound<'py, PyAny>,
    args: &[&Bound<'py, PyAny>],
) -> Result<(), String> {
    let py = helpers.py();
    let all: Vec<&Bound<'py, PyAny>> = std::iter::once(hook).chain(args.iter().copied()).collect();
    let tuple =
        pyo3::types::PyTuple::new(py, all).map_err(|e| super::traceback::traceback(py, &e))?;
    match helpers.getattr("call").and_then(|c| c.call1(tuple)) {
        Ok(v) if v.is_none() => Ok(()),
        Ok(v) => Err(v.extract::<String>().unwrap_or_default()),
        Err(e) => Err(super::traceback::traceback(py, &e)),
    }
}

/// The hooks `pre_request` and `post_request` call, once set (one load per request to find
/// there are none).
static REQUEST_HOOKS: std::sync::OnceLock<std::sync::Arc<WorkerHooks>> = std::sync::OnceLock::new();

/// From now on, the app's requests go through these hooks (if they define any).
pub fn hook_requests(hooks: &std::sync::Arc<WorkerHooks>) {
    if hooks.on_requests() {
        let _ = REQUEST_HOOKS.set(hooks.clone());
    }
}

/// The hooks around the app's requests, if any.
#[inline]
pub fn request_hooks() -> Option<&'static WorkerHooks> {
    REQUEST_HOOKS.get().map(|h| &**h)
}

/// The hooks of one worker.
pub struct WorkerHooks {
    helpers: Py<PyModule>,
    server: Py<PyAny>,
    worker: Py<PyAny>,
    post_fork: Option<Py<PyAny>>,
    post_worker_init: Option<Py<PyAny>>,
    pre_request: Option<Py<PyAny>>,
    post_request: Option<Py<PyAny>>,
    worker_exit: Option<Py<PyAny>>,
    worker_abort: Option<Py<PyAny>>,
}

impl WorkerHooks {
    /// Executes the configuration file and takes its hooks (on the main thread, the interpreter
    /// started).
    pub fn load(py: Python<'_>, file: &HookFile, ctx: &HookContext) -> Result<WorkerHooks, String> {
        let tb = |e: PyErr| super::traceback::traceback(py, &e);
        let helpers = helpers(py).map_err(tb)?;
        let namespace = helpers
            .call_method1("load", (file.path.to_string_lossy().as_ref(),))
            .map_err(tb)?;
        let namespace = namespace.cast_into::<PyDict>().map_err(|e| e.to_string())?;
        let (server, worker) =
            objects(py, &helpers, ctx, Some(crate::sys::getpid())).map_err(tb)?;
        let hook = |name: &str| -> Option<Py<PyAny>> {
            namespace
                .get_item(name)
                .ok()
                .flatten()
                .filter(|f| f.is_callable())
                .map(Bound::unbind)
        };
        Ok(WorkerHooks {
            post_fork: hook("post_fork"),
            post_worker_init: hook("post_worker_init"),
            pre_request: hook("pre_request"),
            post_request: hook("post_request"),
            worker_exit: hook("worker_exit"),
            worker_abort: hook("worker_abort"),
            helpers: helpers.unbind(),
            server: server.unbind(),
            worker: worker.unbind(),
        })
    }

    /// `post_fork(server, worker)`, then the SIGABRT handler if `worker_abort` is defined.
    pub fn post_fork(&self, py: Python<'_>) -> Result<(), String> {
        if let Some(abort) = &self.worker_abort {
            let handler = self
                .helpers
                .bind(py)
                .call_method1("on_abort", (abort, &self.worker))
                .and_then(|h| {
                    py.import("signal")?
                        .call_method1("signal", (libc::SIGABRT, h))
                        .map(drop)
                });
            if let Err(e) = handler {
                tracing::warn!(
                    pid = crate::sys::getpid(),
                    "cannot install worker_abort: {e}"
                );
            }
        }
        match &self.post_fork {
            Some(hook) => call(
                self.helpers.bind(py),
                hook.bind(py),
                &[self.server.bind(py), self.worker.bind(py)],
            ),
            None => Ok(()),
        }
    }

    /// `post_worker_init(worker)`, with `worker.wsgi` set to the app.
    pub fn post_worker_init(&self, py: Python<'_>, app: &Bound<'_, PyAny>) -> Result<(), String> {
        let worker = self.worker.bind(py);
        let _ = worker.setattr("wsgi", app);
        let _ = worker.setattr("booted", true);
        match &self.post_worker_init {
            Some(hook) => call(self.helpers.bind(py), hook.bind(py), &[worker]),
            None => Ok(()),
        }
    }

    /// Whether the app's requests are hooked at all.
    pub fn on_requests(&self) -> bool {
        self.pre_request.is_some() || self.post_request.is_some()
    }

    /// The `req` object of a request.
    pub fn request<'py>(
        &self,
        py: Python<'py>,
        req: &RequestInfo<'_>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let head = req.head;
        let headers = PyList::empty(py);
        for (name, value, _) in head.fields.iter() {
            let name = String::from_utf8_lossy(name).to_ascii_uppercase();
            headers.append((name, super::environ::latin1(py, value)?))?;
        }
        let version = match head.version {
            http::Version::HTTP_10 => (1, 0),
            _ => (1, 1),
        };
        let remote = req.peer.map(|p| (p.ip().to_string(), p.port()));
        self.helpers.bind(py).getattr("Request")?.call1((
            head.method.as_str(),
            head.path_and_query(),
            super::environ::latin1(py, req.path)?,
            head.query().unwrap_or(""),
            version,
            headers,
            req.url_scheme,
            remote,
        ))
    }

    pub fn pre_request(&self, py: Python<'_>, req: &Bound<'_, PyAny>) -> Result<(), String> {
        match &self.pre_request {
            Some(hook) => call(
                self.helpers.bind(py),
                hook.bind(py),
                &[self.worker.bind(py), req],
            ),
            None => Ok(()),
        }
    }

    /// `post_request(worker, req, environ, resp)`; what it raises is logged.
    pub fn post_request(
        &self,
        py: Python<'_>,
        req: &Bound<'_, PyAny>,
        environ: &Bound<'_, PyAny>,
        response: &http::Response<crate::http::Body>,
    ) {
        let Some(hook) = &self.post_request else {
            return;
        };
        let status = response.status();
        let status_line = format!(
            "{} {}",
            status.as_str(),
            status.canonical_reason().unwrap_or("")
        );
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let helpers = self.helpers.bind(py);
        let resp = helpers
            .getattr("Response")
            .and_then(|r| r.call1((status_line.trim_end(), headers, length)));
        let result = match resp {
            Ok(resp) => call(
                helpers,
                hook.bind(py),
                &[self.worker.bind(py), req, environ, &resp],
            ),
            Err(e) => Err(super::traceback::traceback(py, &e)),
        };
        if let Err(tb) = result {
            tracing::error!(
                pid = crate::sys::getpid(),
                "the post_request hook raised\n{tb}"
            );
        }
    }

    /// `worker_exit(server, worker)` at a graceful end.
    pub fn worker_exit(&self) {
        let Some(hook) = &self.worker_exit else {
            return;
        };
        Python::attach(|py| {
            let _ = self.worker.bind(py).setattr("alive", false);
            let args = [self.server.bind(py), self.worker.bind(py)];
            if let Err(tb) = call(self.helpers.bind(py), hook.bind(py), &args) {
                tracing::error!(
                    pid = crate::sys::getpid(),
                    "the worker_exit hook raised\n{tb}"
                );
            }
        });
    }
}
