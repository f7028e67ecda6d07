//! `--timeout` inside the worker: a Python handler for the watchdog's signal raises
//! `RequestTimeout` in whatever Python code is running (including a `time.sleep`, which the
//! signal interrupts). It derives from `BaseException`, as `KeyboardInterrupt` does, so an app's
//! `except Exception` does not swallow it; the client then gets a 504.

use pyo3::prelude::*;

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
