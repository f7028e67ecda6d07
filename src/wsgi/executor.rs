//! The inline executor (DESIGN.md): the runtime thread itself calls the app, with the request
//! body already read. A list or tuple body becomes one buffer with `Content-Length`; any other
//! iterable is streamed, pulled only as the connection drains.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, SERVER};
use http::{Response, StatusCode};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::environ::{self, RequestInfo};
use super::errors::ErrorStream;
use super::response::{latin1_bytes, StartResponse, Status, WsgiBody};
use super::{timeout, traceback, App};
use crate::http::{pages, Body};

/// Per-worker WSGI state: the app and the shared `wsgi.errors` stream.
pub struct Executor {
    app: App,
    errors: Py<ErrorStream>,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) are the server's business, not the app's (PEP 3333
/// "Other HTTP Features"). pyrite drops them from the app's response; `Connection: close` is
/// honoured by closing the connection after the response.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

impl Executor {
    pub fn new(app: App) -> Executor {
        let errors = Python::attach(|py| Py::new(py, ErrorStream::default()))
            .expect("allocating wsgi.errors cannot fail");
        Executor { app, errors }
    }

    /// Calls the app for one request. Never fails: app errors become a 500 (logged with the
    /// traceback).
    pub fn call(&self, req: RequestInfo<'_>) -> Response<Body> {
        let _in_app = crate::heartbeat::enter_app();
        Python::attach(|py| match self.run(py, req) {
            Ok(response) => response,
            Err(Failure { problem, timed_out }) => {
                tracing::error!(pid = std::process::id(), "{problem}");
                match timed_out {
                    true => pages::error(StatusCode::GATEWAY_TIMEOUT),
                    false => pages::error(StatusCode::INTERNAL_SERVER_ERROR),
                }
            }
        })
    }

    fn run(&self, py: Python<'_>, req: RequestInfo<'_>) -> Result<Response<Body>, Failure> {
        let failed = |what: &str, err: PyErr| Failure {
            problem: format!("{what}\n{}", traceback(py, &err)),
            timed_out: timeout::is_timeout(py, &err),
        };
        let environ = environ::build(py, &self.app, &self.errors, req)
            .map_err(|e| failed("building the environ failed", e))?;
        let start_response =
            Bound::new(py, StartResponse::default()).map_err(|e| failed("start_response", e))?;
        let result = self
            .app
            .callable
            .bind(py)
            .call1((environ, &start_response))
            .map_err(|e| failed("the app raised an exception", e))?;
        // From here on `body` owns the duty to call result.close(), whatever happens.
        let mut body = WsgiBody::new(&result, start_response.clone().unbind());
        // Bytes passed to write() during the call go out before the returned iterable's.
        body.take_written(py);
        if let Ok(list) = result.cast::<PyList>() {
            collect(&mut body, list.iter()).map_err(|e| failed("the app's body is invalid", e))?;
        } else if let Ok(tuple) = result.cast::<PyTuple>() {
            collect(&mut body, tuple.iter()).map_err(|e| failed("the app's body is invalid", e))?;
        } else {
            let iter = result
                .try_iter()
                .map_err(|e| failed("the app did not return an iterable", e))?;
            body.set_iter(iter);
            body.pull_until_data(py)
                .map_err(|e| failed("the app raised an exception", e))?;
        }
        let mut sr = start_response.borrow_mut();
        let status = sr
            .status
            .clone()
            .ok_or_else(|| Failure::from("the app returned without calling start_response()"))?;
        sr.headers_sent = true;
        let headers = std::mem::take(&mut sr.headers);
        drop(sr);
        respond(status, headers, body).map_err(Failure::from)
    }
}

/// Why an app call produced no response: logged, then answered with 500 (504 on timeout).
struct Failure {
    problem: String,
    timed_out: bool,
}

impl<T: Into<String>> From<T> for Failure {
    fn from(problem: T) -> Failure {
        Failure {
            problem: problem.into(),
            timed_out: false,
        }
    }
}

fn collect<'py>(
    body: &mut WsgiBody,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
) -> PyResult<()> {
    for item in items {
        let bytes = item.cast::<PyBytes>().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("the app's body must hold bytes only")
        })?;
        body.push(Bytes::copy_from_slice(bytes.as_bytes()));
    }
    Ok(())
}

/// Builds the response head from the app's status and headers, and picks the framing:
/// one buffer with Content-Length when the body is complete, else a stream.
fn respond(
    status: Status,
    headers: Vec<(String, String)>,
    mut body: WsgiBody,
) -> Result<Response<Body>, String> {
    let code = StatusCode::from_u16(status.code).map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    if code.canonical_reason() != Some(status.reason.as_str()) {
        let reason = hyper::ext::ReasonPhrase::try_from(latin1_bytes(&status.reason))
            .map_err(|e| format!("invalid reason phrase {:?}: {e}", status.reason))?;
        response.extensions_mut().insert(reason);
    }
    let map = response.headers_mut();
    let mut declared: Option<u64> = None;
    let mut close = false;
    for (name, value) in &headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) {
            if lower == "connection"
                && value
                    .to_ascii_lowercase()
                    .split(',')
                    .any(|t| t.trim() == "close")
            {
                close = true;
            }
            tracing::debug!(header = %name, "dropped a hop-by-hop header set by the app");
            continue;
        }
        if lower == "content-length" {
            let len = value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("the app's Content-Length {value:?} is not a number"))?;
            declared = Some(len);
        }
        let name = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|e| format!("header {name:?}: {e}"))?;
        let value = HeaderValue::from_bytes(&latin1_bytes(value))
            .map_err(|e| format!("header {name}: {e}"))?;
        map.append(name, value);
    }
    if !map.contains_key(SERVER) {
        map.insert(SERVER, pages::SERVER_NAME);
    }
    if close {
        map.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    // RFC 9110 §15.3.5, §15.4.5: 204 and 304 carry no body.
    if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
        return Ok(response);
    }
    if body.is_exhausted() {
        let data = body.take_pending();
        if declared.is_none_or(|d| d == data.len() as u64) {
            map.insert(CONTENT_LENGTH, HeaderValue::from(data.len()));
            *response.body_mut() = Body::full(data);
            return Ok(response);
        }
        body.push(data);
    }
    if let Some(len) = declared {
        body.set_declared_length(len);
    }
    *response.body_mut() = Body::wsgi(body);
    Ok(response)
}
