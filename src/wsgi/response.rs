//! `start_response` and the response body of a WSGI app (PEP 3333 "The start_response()
//! Callable", "Buffering and Streaming"). The iterable is pulled one item at a time, only when
//! hyper asks for more; its `close()` runs exactly once, when the body is dropped on any path.

use std::collections::VecDeque;

use bytes::Bytes;
use pyo3::exceptions::{PyAssertionError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyString, PyTuple};

use crate::http::BodyError;

/// A validated status line: the code and the app's reason phrase.
#[derive(Debug, Clone)]
pub struct Status {
    pub code: u16,
    pub reason: String,
}

#[pyclass(module = "pyrite")]
#[derive(Default)]
pub struct StartResponse {
    pub status: Option<Status>,
    pub headers: Vec<(String, String)>,
    /// Bytes passed to `write()` not yet handed to the connection.
    pub written: Vec<Bytes>,
    /// Set once the status line is committed; a later `start_response(..., exc_info)` re-raises.
    pub headers_sent: bool,
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        {
            let this = slf.borrow();
            match exc_info {
                Some(info) if this.headers_sent => {
                    // PEP 3333: with exc_info after the headers went out, re-raise it.
                    return Err(PyErr::from_value(info.get_item(1)?));
                }
                None if this.status.is_some() => {
                    return Err(PyAssertionError::new_err(
                        "start_response() called a second time without exc_info",
                    ));
                }
                _ => {}
            }
        }
        let status = parse_status(status)?;
        let headers = parse_headers(headers)?;
        let mut this = slf.borrow_mut();
        this.status = Some(status);
        this.headers = headers;
        drop(this);
        slf.getattr("write")
    }

    /// The `write` callable start_response returns (PEP 3333 "The write() Callable").
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.status.is_none() {
            return Err(PyAssertionError::new_err(
                "write() called before start_response()",
            ));
        }
        let data = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("write() takes bytes, not {}", type_name(data)))
        })?;
        if !data.as_bytes().is_empty() {
            self.written.push(Bytes::copy_from_slice(data.as_bytes()));
        }
        Ok(())
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `"NNN reason"`: three digits (200–599), one space, a reason without control characters.
fn parse_status(status: &Bound<'_, PyAny>) -> PyResult<Status> {
    let text = status
        .cast::<PyString>()
        .map_err(|_| {
            PyTypeError::new_err(format!("status must be str, not {}", type_name(status)))
        })?
        .to_str()?;
    let bad = || PyValueError::new_err(format!("status {text:?} is not of the form 'NNN reason'"));
    let (code, reason) = text.split_at_checked(3).ok_or_else(bad)?;
    let reason = reason.strip_prefix(' ').ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || reason.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    if reason.chars().any(|c| c as u32 > 0xff) {
        return Err(bad());
    }
    Ok(Status {
        code,
        reason: reason.to_owned(),
    })
}

/// A list of `(str, str)`: names are RFC 9110 tokens, values latin-1 with no CR, LF or other
/// control character but tab.
fn parse_headers(headers: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let list = headers.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "headers must be a list, not {}",
            type_name(headers)
        ))
    })?;
    let mut out = Vec::with_capacity(list.len());
    for item in list.iter() {
        let pair = item.cast::<PyTuple>().map_err(|_| {
            PyTypeError::new_err(format!(
                "each header must be a (name, value) tuple, not {}",
                type_name(&item)
            ))
        })?;
        if pair.len() != 2 {
            return Err(PyValueError::new_err(format!(
                "header {pair} is not a (name, value) pair"
            )));
        }
        let as_str = |obj: Bound<'_, PyAny>| -> PyResult<String> {
            let s = obj.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "header {pair} must hold two str, not {}",
                    type_name(&obj)
                ))
            })?;
            Ok(s.to_str()?.to_owned())
        };
        let name = as_str(pair.get_item(0)?)?;
        let value = as_str(pair.get_item(1)?)?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(PyValueError::new_err(format!(
                "header name {name:?} is not a valid token"
            )));
        }
        if value
            .chars()
            .any(|c| (c as u32) > 0xff || (c.is_control() && c != '\t'))
        {
            return Err(PyValueError::new_err(format!(
                "header {name:?} has a value with control or non-latin-1 characters"
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// RFC 9110 §5.6.2 `tchar`.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The latin-1 bytes of a str already checked to hold only code points below 256.
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u8).collect()
}

/// The body of a WSGI response: items already pulled, the iterator (until exhausted), and the
/// object whose `close()` is owed.
pub struct WsgiBody {
    pending: VecDeque<Bytes>,
    iter: Option<Py<PyIterator>>,
    closer: Option<Py<PyAny>>,
    start_response: Py<StartResponse>,
    /// App-declared Content-Length still to send.
    remaining: Option<u64>,
}

impl WsgiBody {
    pub fn new(result: &Bound<'_, PyAny>, start_response: Py<StartResponse>) -> WsgiBody {
        WsgiBody {
            pending: VecDeque::new(),
            iter: None,
            closer: Some(result.clone().unbind()),
            start_response,
            remaining: None,
        }
    }

    pub fn set_iter(&mut self, iter: Bound<'_, PyIterator>) {
        self.iter = Some(iter.unbind());
    }

    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.pending.push_back(chunk);
        }
    }

    pub fn is_exhausted(&self) -> bool {
        self.iter.is_none()
    }

    /// Takes everything pulled so far (for a body that is complete).
    pub fn take_pending(&mut self) -> Bytes {
        let mut all = std::mem::take(&mut self.pending);
        match all.len() {
            0 => Bytes::new(),
            1 => all.pop_front().unwrap_or_default(),
            _ => all
                .iter()
                .flat_map(|b| b.iter().copied())
                .collect::<Vec<u8>>()
                .into(),
        }
    }

    pub fn set_declared_length(&mut self, len: u64) {
        self.remaining = Some(len);
    }

    /// Pulls the iterator until it yields a non-empty item or ends (PEP 3333: headers are not
    /// sent before the first non-empty bytestring, so a generator may call start_response
    /// lazily).
    pub fn pull_until_data(&mut self, py: Python<'_>) -> PyResult<()> {
        loop {
            self.take_written(py);
            if !self.pending.is_empty() {
                return Ok(());
            }
            match self.pull(py)? {
                Some(chunk) => {
                    self.take_written(py);
                    self.push(chunk);
                }
                None => return Ok(()),
            }
        }
    }

    /// Queues bytes given to `write()` ahead of anything pulled after them. Only called while
    /// the queue is empty or right after a pull, so `write()` output keeps its place in order.
    pub fn take_written(&mut self, py: Python<'_>) {
        let mut sr = self.start_response.bind(py).borrow_mut();
        for chunk in std::mem::take(&mut sr.written).into_iter().rev() {
            self.pending.push_front(chunk);
        }
    }

    /// The next item of the iterator as bytes; `None` once it is exhausted.
    fn pull(&mut self, py: Python<'_>) -> PyResult<Option<Bytes>> {
        let Some(iter) = &self.iter else {
            return Ok(None);
        };
        match iter.bind(py).clone().next() {
            Some(Ok(item)) => {
                let bytes = item.cast::<PyBytes>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "the app's iterable yielded {}, not bytes",
                        type_name(&item)
                    ))
                })?;
                Ok(Some(Bytes::copy_from_slice(bytes.as_bytes())))
            }
            Some(Err(err)) => Err(err),
            None => {
                self.iter = None;
                Ok(None)
            }
        }
    }

    /// The next chunk for the connection; an error aborts it (no clean end of message).
    pub fn next_chunk(&mut self) -> Option<Result<Bytes, BodyError>> {
        if self.remaining == Some(0) {
            return None;
        }
        let chunk = match self.pending.pop_front() {
            Some(chunk) => chunk,
            None => match self.pull_from_app() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return self.finish(),
                Err(err) => return Some(Err(err)),
            },
        };
        Some(Ok(self.clip(chunk)))
    }

    fn pull_from_app(&mut self) -> Result<Option<Bytes>, BodyError> {
        let _in_app = crate::heartbeat::enter_app();
        Python::attach(|py| self.next_from_app(py))
    }

    fn next_from_app(&mut self, py: Python<'_>) -> Result<Option<Bytes>, BodyError> {
        loop {
            self.take_written(py);
            if let Some(chunk) = self.pending.pop_front() {
                return Ok(Some(chunk));
            }
            match self.pull(py) {
                Ok(Some(chunk)) => {
                    self.take_written(py);
                    self.push(chunk);
                }
                Ok(None) => {
                    self.take_written(py);
                    return Ok(self.pending.pop_front());
                }
                Err(err) => {
                    let tb = super::traceback(py, &err);
                    tracing::error!(
                        pid = std::process::id(),
                        "app raised while streaming its body; aborting the connection\n{tb}"
                    );
                    return Err("the app raised while streaming".into());
                }
            }
        }
    }

    /// End of the iterable: a body shorter than its declared length aborts the connection so
    /// the client sees the truncation.
    fn finish(&mut self) -> Option<Result<Bytes, BodyError>> {
        match self.remaining {
            Some(left) if left > 0 => {
                tracing::warn!(
                    missing = left,
                    "the app's body is shorter than its Content-Length; closing the connection"
                );
                Some(Err("body shorter than Content-Length".into()))
            }
            _ => None,
        }
    }

    /// Cuts a chunk at the declared length (the rest is dropped, with a warning).
    fn clip(&mut self, mut chunk: Bytes) -> Bytes {
        if let Some(left) = &mut self.remaining {
            if chunk.len() as u64 > *left {
                tracing::warn!(
                    extra = chunk.len() as u64 - *left,
                    "the app's body is longer than its Content-Length; cut"
                );
                chunk.truncate(*left as usize);
            }
            *left -= chunk.len() as u64;
        }
        chunk
    }

    /// Calls the iterable's `close()` if it has one; at most once.
    pub fn close(&mut self, py: Python<'_>) {
        self.iter = None;
        let Some(closer) = self.closer.take() else {
            return;
        };
        let closer = closer.bind(py);
        if closer.is_exact_instance_of::<PyList>() || closer.is_exact_instance_of::<PyTuple>() {
            return;
        }
        let result = match closer.getattr(pyo3::intern!(py, "close")) {
            Ok(close) => close.call0().map(drop),
            Err(_) => Ok(()),
        };
        if let Err(err) = result {
            let tb = super::traceback(py, &err);
            tracing::error!(pid = std::process::id(), "the app's close() raised\n{tb}");
        }
    }
}

impl Drop for WsgiBody {
    fn drop(&mut self) {
        if self.closer.is_some() || self.iter.is_some() {
            let _in_app = crate::heartbeat::enter_app();
            Python::attach(|py| self.close(py));
        }
    }
}
