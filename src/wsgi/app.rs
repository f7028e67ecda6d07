//! The imported app and what can go wrong with it: a [`LoadError`] when it cannot be imported,
//! and the formatted traceback every error the app raises is logged with.

use pyo3::prelude::*;

/// The imported app callable.
pub struct App {
    pub(super) callable: Py<PyAny>,
    /// `wsgi.multiprocess`: true when more than one worker serves the same app.
    pub(super) multiprocess: bool,
    /// `--script-name`: the decoded path prefix the app is mounted at ("" for the root).
    pub(super) script_name: Vec<u8>,
    /// The interpreter hooks of `process` (run on a graceful stop).
    pub(super) hooks: Py<PyModule>,
    /// `wsgi.multithread`: true with the pool executor.
    pub(super) multithread: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the Python interpreter could not start: {0}")]
    Interpreter(String),
    #[error("{summary}")]
    Import { traceback: String, summary: String },
}

/// The formatted Python traceback of `err` (what `traceback.print_exception` prints).
pub fn traceback(py: Python<'_>, err: &PyErr) -> String {
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
