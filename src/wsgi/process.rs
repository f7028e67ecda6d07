//! Keeps the embedded interpreter behaving like a normal Python process for the app: the
//! worker's own signals stay the worker's, and `atexit` handlers run when the worker stops
//! gracefully (what `Py_FinalizeEx` would do, without tearing the interpreter down). A process
//! the app forks is no worker: SIGTERM is its own again (`multiprocessing`'s `terminate()`).

use pyo3::prelude::*;
use std::ffi::CStr;

/// Runs once after the interpreter starts. `signal.signal(SIGTERM, ...)` from the app must not
/// take SIGTERM from the worker (the runtime's handler is what starts a graceful stop): the
/// app's handler for it is recorded, reported by `signal.getsignal`, and called when the worker
/// stops gracefully. Every other signal is left to Python.
const HOOKS: &CStr = cr#"
import signal as _signal

_owned = {_signal.SIGTERM}
_handlers = {}
_real_signal = _signal.signal
_real_getsignal = _signal.getsignal

def signal(signalnum, handler):
    signum = int(signalnum)
    if signum in _owned:
        previous = _handlers.get(signum, _signal.SIG_DFL)
        _handlers[signum] = handler
        return previous
    return _real_signal(signalnum, handler)

def getsignal(signalnum):
    signum = int(signalnum)
    if signum in _owned:
        return _handlers.get(signum, _signal.SIG_DFL)
    return _real_getsignal(signalnum)

def shutdown():
    handler = _handlers.get(_signal.SIGTERM)
    if callable(handler):
        try:
            handler(_signal.SIGTERM, None)
        except SystemExit:
            pass

# The child of an `os.fork()` in the app (multiprocessing's fork start method) inherits the
# worker's C-level SIGTERM handler, which only wakes the worker's event loop: it gets the app's
# handler, or the default, so `Pool.terminate()` and `Process.terminate()` work. SIGTERM stays
# blocked across the fork, so one sent before the child is ready waits for it instead of being
# lost to the worker's handler.
def _before_fork():
    _signal.pthread_sigmask(_signal.SIG_BLOCK, (_signal.SIGTERM,))

def _after_fork_in_parent():
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, (_signal.SIGTERM,))

def _after_fork_in_child():
    handler = _handlers.pop(_signal.SIGTERM, _signal.SIG_DFL)
    _owned.clear()
    try:
        _real_signal(_signal.SIGTERM, handler)
    except (OSError, ValueError):
        pass
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, (_signal.SIGTERM,))

def arm():
    import os
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )

signal.__doc__ = _real_signal.__doc__
getsignal.__doc__ = _real_getsignal.__doc__
_signal.signal = signal
_signal.getsignal = getsignal
"#;

/// Installs the hooks; returns the module whose `shutdown()` runs the app's SIGTERM handler.
pub fn install(py: Python<'_>) -> PyResult<Py<PyModule>> {
    let module = PyModule::from_code(py, HOOKS, c"pyrite_process.py", c"pyrite_process")?;
    Ok(module.unbind())
}

/// In the worker, before it serves (not in a `--preload` master, whose forks are workers):
/// processes the app forks from now on get SIGTERM back.
pub fn arm(py: Python<'_>, hooks: &Py<PyModule>) -> PyResult<()> {
    hooks.bind(py).call_method0("arm").map(drop)
}

/// A graceful stop: the app's SIGTERM handler (if it set one), then the `atexit` handlers, then
/// the standard streams are flushed. Errors are logged, never raised.
pub fn shutdown(py: Python<'_>, hooks: &Py<PyModule>) {
    let steps = [
        hooks
            .bind(py)
            .call_method0("shutdown")
            .map(drop)
            .map_err(|e| ("the app's SIGTERM handler raised", e)),
        py.import("atexit")
            .and_then(|m| m.call_method0("_run_exitfuncs"))
            .map(drop)
            .map_err(|e| ("an atexit handler raised", e)),
    ];
    for step in steps {
        if let Err((what, err)) = step {
            let tb = super::app::traceback(py, &err);
            tracing::error!(pid = std::process::id(), "{what}\n{tb}");
        }
    }
    for stream in ["stdout", "stderr"] {
        if let Ok(s) = py.import("sys").and_then(|sys| sys.getattr(stream)) {
            let _ = s.call_method0("flush");
        }
    }
}
