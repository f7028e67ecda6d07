//! Python's `logging` inside a worker, bridged to the error log: records no handler of the
//! app takes (Python would print them bare on stderr through `logging.lastResort`) are written
//! by pyrite at their own level, and hooks get a logger (`worker.log`, `server.log`) writing
//! there too. `caller_level` tells `wsgi.errors` the level of the record a logging handler is
//! writing.

use std::ffi::CStr;
use std::sync::OnceLock;

use pyo3::prelude::*;

const BRIDGE: &CStr = cr#"
import logging as _logging
import sys as _sys

_emit = None

class Handler(_logging.Handler):
    """Writes records to pyrite's error log, at their level."""

    def emit(self, record):
        try:
            _emit(record.levelno, record.name, self.format(record))
        except Exception:
            self.handleError(record)

def caller_level():
    """The level of the logging record being written by the code that called write()."""
    try:
        frame = _sys._getframe(1)
    except ValueError:
        return None
    for _ in range(4):
        if frame is None:
            return None
        record = frame.f_locals.get("record")
        if isinstance(record, _logging.LogRecord):
            return record.levelno
        frame = frame.f_back
    return None

def install(emit, level):
    global _emit
    _emit = emit
    _logging.lastResort = Handler(_logging.WARNING)
    log = _logging.getLogger("pyrite")
    log.addHandler(Handler())
    log.propagate = False
    log.setLevel(level)
    return log
"#;

static CALLER_LEVEL: OnceLock<Py<PyAny>> = OnceLock::new();
static LOGGER: OnceLock<Py<PyAny>> = OnceLock::new();

#[pyfunction]
fn emit(levelno: i64, name: &str, message: &str) {
    crate::logging::python(levelno, name, message);
}

/// Installs the bridge, once per interpreter (after it starts, before the app is imported).
pub fn install(py: Python<'_>) -> PyResult<()> {
    if LOGGER.get().is_some() {
        return Ok(());
    }
    let module = PyModule::from_code(py, BRIDGE, c"pyrite_logging.py", c"pyrite_logging")?;
    let level = [10, 20, 30, 40]
        .into_iter()
        .find(|&n| crate::logging::python_enabled(n))
        .unwrap_or(50);
    let logger = module.call_method1("install", (wrap_pyfunction!(emit, py)?, level))?;
    let _ = CALLER_LEVEL.set(module.getattr("caller_level")?.unbind());
    let _ = LOGGER.set(logger.unbind());
    Ok(())
}

/// The `pyrite` logger hooks get as `worker.log` and `server.log`.
#[allow(dead_code)] // used by the hooks
pub fn logger(py: Python<'_>) -> Option<Bound<'_, PyAny>> {
    LOGGER.get().map(|l| l.bind(py).clone())
}

/// The level of the `logging` record whose handler is calling, if any.
pub fn caller_level(py: Python<'_>) -> Option<i64> {
    let f = CALLER_LEVEL.get()?;
    f.bind(py).call0().ok()?.extract::<Option<i64>>().ok()?
}
