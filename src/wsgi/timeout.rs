//! `--timeout` inside the worker: a Python handler for the watchdog's signal raises
//! `RequestTimeout` in whatever Python code is running (including a `time.sleep`, which the
//! signal interrupts); in a pool thread it is raised as an asynchronous exception. It derives
//! from `BaseException`, as `KeyboardInterrupt` does, so an app's `except Exception` does not
//! swallow it; the client then gets a 504.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;

use super::ffi;
use crate::heartbeat;

pyo3::create_exception!(
    pyrite,
    RequestTimeout,
    pyo3::exceptions::PyBaseException,
    "Raised in the app when a request runs past pyrite's --timeout."
);

#[pyfunction]
fn on_timeout_signal(_signum: i32, _frame: &Bound<'_, PyAny>) -> PyResult<()> {
    if heartbeat::app_overdue() {
        return Err(RequestTimeout::new_err("the request ran past --timeout"));
    }
    Ok(())
}

/// Raises `RequestTimeout` in the Python thread `ident` (a pool thread past `--timeout`), if
/// the call registered under `token` is still running.
pub fn interrupt_thread(ident: u64, token: u64) {
    Python::attach(|py| {
        // Checked under the GIL: a pool thread ends its call holding it, then clears any
        // interruption left over (it sees `interrupts()` move), so none lands in its next call.
        if heartbeat::running(token) {
            INTERRUPTS.fetch_add(1, Ordering::Relaxed);
            ffi::async_raise(py, ident, &py.get_type::<RequestTimeout>());
        }
    });
}

/// How many pool calls [`interrupt_thread`] has interrupted; changed only under the GIL.
static INTERRUPTS: AtomicU64 = AtomicU64::new(0);

pub fn interrupts() -> u64 {
    INTERRUPTS.load(Ordering::Relaxed)
}

/// Installs the handler; must run on the main thread (Python's rule for signal handlers).
pub fn install(py: Python<'_>) -> PyResult<()> {
    let handler = wrap_pyfunction!(on_timeout_signal, py)?;
    py.import("signal")?
        .call_method1("signal", (crate::sys::timeout_signal(), handler))?;
    Ok(())
}

pub fn is_timeout(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<RequestTimeout>(py)
}
