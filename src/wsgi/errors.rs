//! `wsgi.errors` (PEP 3333 "Input and Error Streams"): text written by the app reaches the
//! error log tagged with the worker's pid, one record per `write()` (a traceback written at
//! once stays one record); text without a line end waits for the next write or `flush()`.
//! A write made by a `logging` handler (Flask's default handler writes here) keeps the
//! record's level; any other write is logged as an error.

use pyo3::prelude::*;

use super::pylog;

/// `logging.ERROR`: the level of a write that no logging record made.
const ERROR: i64 = 40;

#[pyclass(module = "pyrite")]
#[derive(Default)]
pub struct ErrorStream {
    partial: String,
}

impl ErrorStream {
    fn emit(levelno: i64, text: &str) {
        let text = text.trim_end_matches(['\n', '\r']);
        if !text.is_empty() {
            crate::logging::python(levelno, "wsgi.errors", text);
        }
    }
}

#[pymethods]
impl ErrorStream {
    fn write(&mut self, py: Python<'_>, text: &str) -> usize {
        self.partial.push_str(text);
        if let Some(end) = self.partial.rfind('\n') {
            let record: String = self.partial.drain(..=end).collect();
            Self::emit(pylog::caller_level(py).unwrap_or(ERROR), &record);
        }
        text.chars().count()
    }

    /// Any iterable of `str`, as `io.TextIOBase.writelines` takes: one record.
    fn writelines(&mut self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut all = String::new();
        for line in lines.try_iter()? {
            all.push_str(line?.extract::<&str>()?);
        }
        self.write(py, &all);
        Ok(())
    }

    fn flush(&mut self) {
        if !self.partial.is_empty() {
            Self::emit(ERROR, &std::mem::take(&mut self.partial));
        }
    }
}

impl Drop for ErrorStream {
    fn drop(&mut self) {
        self.flush();
    }
}
