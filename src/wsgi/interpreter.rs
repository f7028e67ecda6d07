//! Starting CPython in a worker and importing the app named `module:callable`.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyList;

use std::sync::Arc;

use super::app::{traceback, App, LoadError};
use super::hooks::{HookContext, WorkerHooks};
use super::settings::{AppSpec, HookFile, Settings};
use super::{ffi, process, pylog};

/// The interpreter pyrite was built against; `sys.executable` when no venv is in use.
const BUILD_PYTHON: &str = env!("PYRITE_PYTHON_EXECUTABLE");

/// The real Python executable the worker's interpreter should report as `sys.executable`.
pub fn executable(settings: &Settings) -> PathBuf {
    python_in(settings.venv.as_deref())
}

/// The venv's `bin/python`, or the Python this pyrite was built against.
pub fn python_in(venv: Option<&Path>) -> PathBuf {
    match venv {
        Some(venv) => venv.join("bin/python"),
        None => PathBuf::from(BUILD_PYTHON),
    }
}

/// Starts Python, puts `--pythonpath` and the working directory first on `sys.path`, and
/// imports the app once. `multiprocess` (`wsgi.multiprocess`): more than one worker serves it.
pub fn load(settings: &Settings, spec: &AppSpec, multiprocess: bool) -> Result<App, LoadError> {
    load_hooked(settings, spec, multiprocess, None).map(|(app, _)| app)
}

/// As [`load`], with the hooks of a configuration file: `post_fork` runs before the app is
/// imported, `post_worker_init` after. Returns the hooks for the worker's life.
pub fn load_hooked(
    settings: &Settings,
    spec: &AppSpec,
    multiprocess: bool,
    hooks: Option<(&HookFile, &HookContext)>,
) -> Result<(App, Option<Arc<WorkerHooks>>), LoadError> {
    ffi::initialize(&executable(settings)).map_err(LoadError::Interpreter)?;
    Python::attach(|py| {
        let fail = |err: PyErr| LoadError::Import {
            traceback: traceback(py, &err),
            summary: summary(py, &err),
        };
        let process_hooks = process::install(py).map_err(fail)?;
        pylog::install(py).map_err(fail)?;
        extend_sys_path(py, &settings.pythonpath).map_err(fail)?;
        let hooks = match hooks {
            Some((file, ctx)) => {
                let loaded =
                    WorkerHooks::load(py, file, ctx).map_err(|traceback| LoadError::Hook {
                        hook: "configuration file",
                        traceback,
                    })?;
                loaded.post_fork(py).map_err(|traceback| LoadError::Hook {
                    hook: "post_fork",
                    traceback,
                })?;
                Some(Arc::new(loaded))
            }
            None => None,
        };
        let callable = import(py, spec).map_err(fail)?;
        if !callable.is_callable() {
            let kind = callable
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default();
            return Err(LoadError::Import {
                traceback: String::new(),
                summary: format!("'{spec}' is not callable (it is a {kind})"),
            });
        }
        if let Some(loaded) = &hooks {
            loaded
                .post_worker_init(py, &callable)
                .map_err(|traceback| LoadError::Hook {
                    hook: "post_worker_init",
                    traceback,
                })?;
        }
        let app = App {
            callable: callable.unbind(),
            multiprocess,
            script_name: settings.script_name.clone().into_bytes(),
            hooks: process_hooks,
            multithread: false,
        };
        if let Some(loaded) = &hooks {
            super::hooks::hook_requests(loaded);
        }
        Ok((app, hooks))
    })
}

/// A preloaded app's worker: the configuration file's hooks, `post_fork` and
/// `post_worker_init` (the interpreter and the app are already there).
pub fn hook_preloaded(
    app: &App,
    file: &HookFile,
    ctx: &HookContext,
) -> Result<Arc<WorkerHooks>, LoadError> {
    Python::attach(|py| {
        let hook = |hook: &'static str| move |traceback| LoadError::Hook { hook, traceback };
        let loaded = WorkerHooks::load(py, file, ctx).map_err(hook("configuration file"))?;
        loaded.post_fork(py).map_err(hook("post_fork"))?;
        loaded
            .post_worker_init(py, app.callable.bind(py))
            .map_err(hook("post_worker_init"))?;
        let loaded = Arc::new(loaded);
        super::hooks::hook_requests(&loaded);
        Ok(loaded)
    })
}

pub(super) fn extend_sys_path(py: Python<'_>, dirs: &[PathBuf]) -> PyResult<()> {
    let sys_path = py.import("sys")?.getattr("path")?.cast_into::<PyList>()?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| Path::new(".").to_path_buf());
    for (i, dir) in dirs.iter().chain(std::iter::once(&cwd)).enumerate() {
        sys_path.insert(i, dir.to_string_lossy().as_ref())?;
    }
    Ok(())
}

fn import<'py>(py: Python<'py>, spec: &AppSpec) -> PyResult<Bound<'py, PyAny>> {
    let mut obj = py.import(spec.module.as_str())?.into_any();
    for part in spec.attr.split('.') {
        obj = obj.getattr(part)?;
    }
    if spec.factory {
        obj = obj.call0()?;
    }
    Ok(obj)
}

/// `ExceptionType: message`, the last line of a traceback.
fn summary(py: Python<'_>, err: &PyErr) -> String {
    let kind = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let value = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    if value.is_empty() {
        kind
    } else {
        format!("{kind}: {value}")
    }
}
