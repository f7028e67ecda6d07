//! `start_response` and `write` (PEP 3333 "The start_response() Callable", "The write()
//! Callable"): the status and headers are validated when given, kept until the first body byte
//! is ready, and replaced or re-raised per the `exc_info` rules.

use bytes::Bytes;
use pyo3::exceptions::{PyAssertionError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

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
        slf.getattr(pyo3::intern!(slf.py(), "write"))
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
            // The first non-empty write() commits the status and headers (PEP 3333 "The
            // start_response() Callable"): a later start_response(..., exc_info) re-raises.
            self.headers_sent = true;
        }
        Ok(())
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
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
