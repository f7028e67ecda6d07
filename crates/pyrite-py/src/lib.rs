//! `pyrite._pyrite`, the extension module of the Python package: the `pyrite` console script
//! and `python -m pyrite` call [`run`], which runs the same master and workers as the standalone
//! binary inside the interpreter that started it — the venv's own Python, so `sys.executable`
//! and `sys.prefix` are the venv's by construction and no libpython is linked here.

use std::ffi::OsString;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyrite::entry::{self, Host, PythonHost};

/// Runs the server with `argv` (program name first, as `sys.argv` without the interpreter's
/// own options) and returns its exit code. The GIL is released for the whole run: the master
/// executes no Python code while it supervises; workers re-attach after fork.
#[pyfunction]
fn run(py: Python<'_>, argv: Vec<OsString>) -> PyResult<u8> {
    let host = Host::Python(describe(py)?);
    Ok(py.detach(move || entry::run(argv, host)))
}

/// `pyrite X.Y.Z (CPython A.B.C, PREFIX)`, what `pyrite --version` prints.
#[pyfunction]
fn version(py: Python<'_>) -> PyResult<String> {
    Ok(Host::Python(describe(py)?).version_line())
}

/// The running interpreter: its version, `sys.executable` and `sys.prefix`.
fn describe(py: Python<'_>) -> PyResult<PythonHost> {
    let sys = py.import("sys")?;
    // "3.12.1 (main, …) [GCC …]": the first word, as Py_GetVersion gives the standalone binary.
    let version: String = sys.getattr("version")?.extract()?;
    Ok(PythonHost {
        version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
        executable: sys.getattr("executable")?.extract::<PathBuf>()?,
        prefix: sys.getattr("prefix")?.extract::<PathBuf>()?,
    })
}

#[pymodule]
fn _pyrite(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", entry::VERSION)?;
    m.add(
        "RequestTimeout",
        m.py().get_type::<pyrite::wsgi::RequestTimeout>(),
    )?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
