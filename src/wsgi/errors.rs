//! `wsgi.errors` (PEP 3333 "Input and Error Streams"): text written by the app reaches the
//! error log a line at a time, tagged with the worker's pid.

use pyo3::prelude::*;

#[pyclass(module = "pyrite")]
#[derive(Default)]
pub struct ErrorStream {
    partial: String,
}

impl ErrorStream {
    fn emit(line: &str) {
        tracing::error!(target: "wsgi.errors", pid = std::process::id(), "{line}");
    }
}

#[pymethods]
impl ErrorStream {
    fn write(&mut self, text: &str) -> usize {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            Self::emit(line.trim_end_matches(['\n', '\r']));
        }
        text.chars().count()
    }

    /// Any iterable of `str`, as `io.TextIOBase.writelines` takes.
    fn writelines(&mut self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.extract::<&str>()?);
        }
        Ok(())
    }

    fn flush(&mut self) {
        if !self.partial.is_empty() {
            Self::emit(&std::mem::take(&mut self.partial));
        }
    }
}

impl Drop for ErrorStream {
    fn drop(&mut self) {
        self.flush();
    }
}
