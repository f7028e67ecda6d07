//! The formatted traceback every Python error is logged with.

use pyo3::prelude::*;

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
