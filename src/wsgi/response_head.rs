//! The response head from the app's status and headers (PEP 3333 "The start_response()
//! Callable", "Other HTTP Features"), checked when `start_response` is called and rendered
//! there and then into header lines (`Name: value\r\n`, the name title-cased), in the app's
//! order. (The opposite of `http::parse`, which reads a request head off the wire.)
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1: `Connection`, `Keep-Alive`, `Proxy-Connection`,
//! `Transfer-Encoding`, `TE`, `Trailer`, `Upgrade`) are the server's business: PEP 3333 forbids
//! apps to set them and lets the server treat them as an error. pyrite drops them (logged at
//! debug) so an app written for a lenient server still works, and honours `Connection: close`
//! by closing the connection after the response. `Content-Length` is kept aside for the writer,
//! which renders it with the framing.

use bytes::BytesMut;
use http::{Response, StatusCode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::header_names::{self, Role};
use crate::http::{Body, ReasonPhrase};

/// What the app's head says about its body's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// 204 or 304: no body whatever the app yields (RFC 9110 §15.3.5, §15.4.5).
    NoBody,
    /// The app gave a Content-Length.
    Declared(u64),
    Open,
}

/// The app's status and headers, validated and rendered.
#[derive(Debug, Default)]
pub struct HeadState {
    /// The status code, once `start_response` was called.
    pub status: Option<u16>,
    /// The app's reason phrase when it is not the code's usual one.
    reason: Option<bytes::Bytes>,
    /// The header lines, ready for the wire (taken from the worker's pool of buffers).
    lines: BytesMut,
    length: Option<u64>,
    close: bool,
    date: bool,
    server: bool,
    /// What makes the head unusable although each header was well-formed (two different
    /// Content-Length values, one that is not a number): the response is a 500.
    problem: Option<String>,
}

impl HeadState {
    /// Empties the state for the next request, keeping the buffer.
    pub fn reset(&mut self) {
        // Field by field (a new field must be named here): cheaper than building a whole
        // state and dropping the old one.
        let HeadState {
            status,
            reason,
            lines,
            length,
            close,
            date,
            server,
            problem,
        } = self;
        *status = None;
        *reason = None;
        lines.clear();
        *length = None;
        *close = false;
        *date = false;
        *server = false;
        *problem = None;
    }
}

/// `"NNN reason"`: three digits (200–599), one space, a reason without control characters.
pub fn parse_status(head: &mut HeadState, status: &Bound<'_, PyAny>) -> PyResult<()> {
    let text = status
        .cast::<PyString>()
        .map_err(|_| {
            PyTypeError::new_err(format!("status must be str, not {}", type_name(status)))
        })?
        .to_str()?;
    let bad = || PyValueError::new_err(format!("status {text:?} is not of the form 'NNN reason'"));
    let (code, reason) = text.split_at_checked(3).ok_or_else(bad)?;
    let reason = reason.strip_prefix(' ').ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    let canonical = StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        == Some(reason);
    if !canonical {
        if reason.chars().any(|c| c.is_control() || c as u32 > 0xff) {
            return Err(bad());
        }
        head.reason = Some(latin1_bytes(reason).into());
    }
    head.status = Some(code);
    Ok(())
}

/// A list of `(str, str)`: names are RFC 9110 tokens, values latin-1 with no CR, LF or other
/// control character but tab. Each is rendered as it is checked.
pub fn parse_headers<'py>(head: &mut HeadState, headers: &Bound<'py, PyAny>) -> PyResult<()> {
    let list = headers.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "headers must be a list, not {}",
            type_name(headers)
        ))
    })?;
    if head.lines.capacity() == 0 {
        head.lines = crate::http::fields::spare_buffer();
    }
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
        let text = |obj: Bound<'py, PyAny>| -> PyResult<Bound<'py, PyString>> {
            obj.cast_into::<PyString>().map_err(|e| {
                PyTypeError::new_err(format!(
                    "header {pair} must hold two str, not {}",
                    type_name(&e.into_inner())
                ))
            })
        };
        let name = text(pair.get_item(0)?)?;
        let value = text(pair.get_item(1)?)?;
        add(head, &name, value.to_str()?)?;
    }
    Ok(())
}

/// Checks one header and renders it (or keeps what it says aside, for the framing's own).
fn add(head: &mut HeadState, name: &Bound<'_, PyString>, value: &str) -> PyResult<()> {
    header_names::with(name, |checked| {
        // Plain ASCII without controls (tab aside) in one pass; anything else is looked at
        // again.
        let plain = value
            .bytes()
            .all(|b| (b' '..0x7f).contains(&b) || b == b'\t');
        if !plain
            && value
                .chars()
                .any(|c| (c as u32) > 0xff || (c.is_control() && c != '\t'))
        {
            return Err(PyValueError::new_err(format!(
                "header {:?} has a value with control or non-latin-1 characters",
                name.to_string_lossy()
            )));
        }
        match checked.role {
            Role::Plain => {}
            Role::Date => head.date = true,
            Role::Server => head.server = true,
            Role::Connection | Role::HopByHop => {
                if checked.role == Role::Connection
                    && value
                        .split(',')
                        .any(|t| t.trim().eq_ignore_ascii_case("close"))
                {
                    head.close = true;
                }
                tracing::debug!(
                    header = %name.to_string_lossy(),
                    "dropped a hop-by-hop header set by the app"
                );
                return Ok(());
            }
            Role::ContentLength => {
                content_length(head, value);
                return Ok(());
            }
        }
        let lines = &mut head.lines;
        lines.reserve(checked.rendered.len() + value.len() + 4);
        lines.extend_from_slice(&checked.rendered);
        lines.extend_from_slice(b": ");
        if plain || value.is_ascii() {
            lines.extend_from_slice(value.as_bytes());
        } else {
            lines.extend(value.chars().map(|c| c as u8));
        }
        lines.extend_from_slice(b"\r\n");
        Ok(())
    })
}

/// Keeps the app's Content-Length aside (the writer renders it with the framing); two
/// different values, or one that is not a number, make the head unusable.
fn content_length(head: &mut HeadState, value: &str) {
    match value.trim().parse::<u64>() {
        Ok(len) if head.length.is_some_and(|d| d != len) => {
            let first = head.length.unwrap_or_default();
            head.problem.get_or_insert_with(|| {
                format!("the app gave two different Content-Length: {first} and {len}")
            });
        }
        Ok(len) => head.length = Some(len),
        Err(_) => {
            head.problem.get_or_insert_with(|| {
                format!("the app's Content-Length {value:?} is not a number")
            });
        }
    }
}

/// The app's head, checked and rendered, waiting for its body.
pub struct AppHead {
    code: StatusCode,
    reason: Option<bytes::Bytes>,
    lines: BytesMut,
    rendered: crate::http::Rendered,
}

impl AppHead {
    /// Sets the Content-Length the server worked out itself.
    pub fn set_length(&mut self, len: u64) {
        self.rendered.length = Some(len);
    }

    /// The response: this head and `body`.
    #[inline]
    pub fn respond(self, body: Body) -> Response<Body> {
        let mut body = body;
        body.set_rendered(self.lines, self.rendered);
        let mut response = Response::new(body);
        *response.status_mut() = self.code;
        if let Some(reason) = self.reason {
            response.extensions_mut().insert(ReasonPhrase(reason));
        }
        response
    }
}

/// The app's head, and what it says of the body's length. Takes the rendered lines out of
/// `head`.
pub fn build(head: &mut HeadState) -> Result<(AppHead, BodyLength), String> {
    if let Some(problem) = head.problem.take() {
        return Err(problem);
    }
    let code = head
        .status
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or("the app returned without calling start_response()")?;
    let length = if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
        BodyLength::NoBody
    } else {
        head.length.map_or(BodyLength::Open, BodyLength::Declared)
    };
    let rendered = crate::http::Rendered {
        date: head.date,
        server: head.server,
        // 204 never carries one (RFC 9110 §8.6); a 304's says what a 200 would have.
        length: head.length.filter(|_| code != StatusCode::NO_CONTENT),
        close: head.close,
        by_app: true,
    };
    let head = AppHead {
        code,
        reason: head.reason.take(),
        lines: std::mem::take(&mut head.lines),
        rendered,
    };
    Ok((head, length))
}

/// The name of `obj`'s type, for error messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The latin-1 bytes of a str already checked to hold only code points below 256.
pub fn latin1_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u8).collect()
}
