//! Reading a gunicorn `gunicorn.conf.py` without Python in the master: a child process, forked
//! before anything else exists (no thread, no interpreter), starts CPython (the venv's, as
//! the workers will), executes the file the way gunicorn does, and sends back the settings it
//! defines as JSON — the gunicorn names asked for, `pyrite_*` names, and which hooks it
//! defines — then exits. The master validates what comes back.

use std::ffi::CStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::app::traceback;
use super::ffi;
use crate::sys;

const EVALUATE: &CStr = cr#"
import json

HOOKS = {"on_starting", "on_reload", "when_ready", "pre_fork", "post_fork",
         "post_worker_init", "worker_int", "worker_abort", "pre_exec", "pre_request",
         "post_request", "child_exit", "worker_exit", "nworkers_changed", "on_exit",
         "ssl_context"}

def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)

def evaluate(namespace, known):
    """The settings and the hook names of a configuration file's namespace, as JSON."""
    settings, hooks = {}, []
    for name, value in namespace.items():
        if name in HOOKS:
            if callable(value):
                hooks.append(name)
            continue
        if name in known or name.startswith("pyrite_"):
            settings[name] = _plain(value)
    return json.dumps({"settings": settings, "hooks": sorted(hooks)})
"#;

/// Executes the configuration file at `path` in a child process and returns its settings as
/// JSON (`{"settings": {...}, "hooks": [...]}`), or why it could not (the file's traceback).
/// `known` are the gunicorn setting names to report. Only call while the process has a
/// single thread and no interpreter (the master, before anything starts).
pub fn evaluate_config(
    path: &Path,
    venv: Option<&Path>,
    pythonpath: &[PathBuf],
    known: &[&str],
) -> Result<String, String> {
    let (mut parent, mut child) =
        std::os::unix::net::UnixStream::pair().map_err(|e| format!("cannot start Python: {e}"))?;
    match ffi::fork().map_err(|e| format!("cannot start Python: {e}"))? {
        sys::Fork::Child => {
            sys::leave_master_signals();
            drop(parent);
            let reply = match run(path, venv, pythonpath, known) {
                Ok(json) => format!("ok\n{json}"),
                Err(why) => format!("error\n{why}"),
            };
            let _ = child.write_all(reply.as_bytes());
            drop(child);
            sys::exit_now(0)
        }
        sys::Fork::Parent(pid) => {
            drop(child);
            let mut reply = String::new();
            let read = parent.read_to_string(&mut reply);
            let status = sys::wait_pid(pid);
            read.map_err(|e| format!("reading the settings: {e}"))?;
            match reply.split_once('\n') {
                Some(("ok", json)) => Ok(json.to_owned()),
                Some(("error", why)) => Err(why.to_owned()),
                _ => Err(format!(
                    "the Python process ended without an answer ({status})"
                )),
            }
        }
    }
}

fn run(
    path: &Path,
    venv: Option<&Path>,
    pythonpath: &[PathBuf],
    known: &[&str],
) -> Result<String, String> {
    ffi::initialize(&super::interpreter::python_in(venv))?;
    Python::attach(|py| {
        // As for the app: --pythonpath and the working directory first, so the file can import
        // the project's own modules.
        super::interpreter::extend_sys_path(py, pythonpath).map_err(|e| traceback(py, &e))?;
        // Executed as the hook process and the workers execute it (hooks.py's `load`).
        let namespace = super::hooks::helpers(py)
            .and_then(|h| h.call_method1("load", (path.to_string_lossy().as_ref(),)))
            .map_err(|e| format!("executing it raised an exception:\n{}", traceback(py, &e)))?;
        let module = PyModule::from_code(py, EVALUATE, c"pyrite_config.py", c"pyrite_config")
            .map_err(|e| traceback(py, &e))?;
        let known = PyList::new(py, known).map_err(|e| traceback(py, &e))?;
        let known = py
            .import("builtins")
            .and_then(|b| b.getattr("frozenset"))
            .and_then(|f| f.call1((known,)))
            .map_err(|e| traceback(py, &e))?;
        module
            .call_method1("evaluate", (namespace, known))
            .and_then(|json| json.extract::<String>())
            .map_err(|e| {
                format!(
                    "reading its settings raised an exception:\n{}",
                    traceback(py, &e)
                )
            })
    })
}
