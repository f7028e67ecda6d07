//! The inline executor (DESIGN.md): the runtime thread itself calls the app, with the request
//! body already read. A list or tuple body becomes one buffer with `Content-Length`; a
//! `wsgi.file_wrapper` over a real file becomes a file body with `Content-Length` (the app's,
//! else what is left of the file), sent by the writer with sendfile(2) like a static file; any
//! other iterable is streamed, pulled only as the connection drains.

use bytes::{Bytes, BytesMut};
use http::{Method, Response, StatusCode};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use super::app::{traceback, App};
use super::environ::{self, RequestInfo};
use super::errors::ErrorStream;
use super::file_wrapper::{self, FileWrapper};
use super::response::WsgiBody;
use super::response_head::{self, BodyLength};
use super::start_response::Responder;
use super::{process, timeout};
use crate::http::{pages, Body, LogEnviron};

/// Per-worker WSGI state: the app and the shared `wsgi.errors` stream.
pub struct Executor {
    app: App,
    environ: environ::EnvironCache,
}

impl Executor {
    pub fn new(app: App) -> PyResult<Executor> {
        Python::attach(|py| {
            let errors = Py::new(py, ErrorStream::default())?;
            let environ = environ::EnvironCache::new(py, &app, &errors)?;
            Ok(Executor { app, environ })
        })
    }

    /// Whether the decoded request `path` is inside the app's `--script-name` prefix.
    pub fn serves(&self, path: &[u8]) -> bool {
        environ::path_info(&self.app.script_name, path).is_some()
    }

    /// [`Executor::call`] on the event loop's own thread, which keeps the GIL from one request
    /// to the next until the loop waits for events (see `ffi::hold_gil`).
    pub fn call_inline(&self, req: RequestInfo<'_>) -> Response<Body> {
        super::ffi::hold_gil();
        self.call(req)
    }

    /// Calls the app for one request. Never fails: app errors become a 500 (logged with the
    /// traceback). A path outside `--script-name` is a 404 and never reaches the app.
    pub fn call(&self, req: RequestInfo<'_>) -> Response<Body> {
        let Some(path_info) = environ::path_info(&self.app.script_name, req.path) else {
            return pages::error(StatusCode::NOT_FOUND);
        };
        let head_request = req.head.method == Method::HEAD;
        let _in_app = crate::heartbeat::enter_app();
        Python::attach(|py| {
            // The configuration file's pre_request/post_request, if it has them.
            let mut hooked = None;
            let response = match self.run(py, req, path_info, head_request, &mut hooked) {
                Ok(response) => response,
                Err(Failure { problem, timed_out }) => {
                    tracing::error!(pid = std::process::id(), "{problem}");
                    match timed_out {
                        true => pages::error(StatusCode::GATEWAY_TIMEOUT),
                        false => pages::error(StatusCode::INTERNAL_SERVER_ERROR),
                    }
                }
            };
            if let (Some(hooks), Some((req, environ))) = (super::hooks::request_hooks(), hooked) {
                hooks.post_request(py, &req, &environ, &response);
            }
            response
        })
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        mut req: RequestInfo<'_>,
        path_info: &[u8],
        head_request: bool,
        hooked: &mut Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> Result<Response<Body>, Failure> {
        let failed = |what: &str, err: PyErr| Failure {
            problem: format!("{what}\n{}", traceback(py, &err)),
            timed_out: timeout::is_timeout(py, &err),
        };
        let hook_req = match super::hooks::request_hooks() {
            Some(hooks) => Some(
                hooks
                    .request(py, &req)
                    .map_err(|e| failed("building the pre_request hook's request failed", e))?,
            ),
            None => None,
        };
        let environ = environ::build(py, &self.environ, &mut req, path_info)
            .map_err(|e| failed("building the environ failed", e))?;
        if let (Some(hooks), Some(hook_req)) = (super::hooks::request_hooks(), hook_req) {
            *hooked = Some((hook_req.clone(), environ.clone().into_any()));
            // As gunicorn: a pre_request that raises fails the request (500).
            hooks
                .pre_request(py, &hook_req)
                .map_err(|tb| Failure::from(format!("the pre_request hook raised\n{tb}")))?;
        }
        let logged = crate::access_log::format().filter(|f| !f.environ.is_empty());
        let keep = logged.map(|_| environ.clone());
        let responder = Responder::take(py).map_err(|e| failed("start_response", e))?;
        let result = self
            .app
            .callable
            .bind(py)
            .call1((environ, responder.callable(py)));
        let result = match result {
            Ok(result) => result,
            Err(err) => {
                responder.give_back(py);
                return Err(failed("the app raised an exception", err));
            }
        };
        let log_values = match (logged, keep) {
            (Some(format), Some(environ)) => {
                Some(LogEnviron(environ::logged(&environ, &format.environ)))
            }
            _ => None,
        };
        // A list or tuple (never a subclass, which may have a close()): the whole body is here.
        if result.is_exact_instance_of::<PyList>() || result.is_exact_instance_of::<PyTuple>() {
            // Returned as it is (not through `finish`): a response moved is ~300 bytes copied.
            let mut response = complete(py, &result, responder, head_request);
            if let Ok(response) = &mut response {
                attach_log_values(response, log_values);
            }
            return response;
        }
        let finish = |mut response: Response<Body>| {
            attach_log_values(&mut response, log_values);
            response
        };
        // From here on `body` owns the duty to call result.close(), whatever happens, and to
        // give the responder back.
        let mut body = WsgiBody::new(&result, responder);
        // write() output given before the app returned goes first (PEP 3333 "The write()
        // Callable").
        body.take_written(py);
        let native = result
            .cast::<FileWrapper>()
            .ok()
            .and_then(|w| file_wrapper::native(w));
        if let Ok(list) = result.cast::<PyList>() {
            collect(&mut body, list.iter()).map_err(|e| failed("the app's body is invalid", e))?;
        } else if let Ok(tuple) = result.cast::<PyTuple>() {
            collect(&mut body, tuple.iter()).map_err(|e| failed("the app's body is invalid", e))?;
        } else if native.is_none() {
            let iter = result
                .try_iter()
                .map_err(|e| failed("the app did not return an iterable", e))?;
            body.set_iter(iter);
            body.pull_until_data(py)
                .map_err(|e| failed("the app raised an exception", e))?;
        }
        let (mut head, length) = {
            let mut sr = body.responder().state(py);
            sr.headers_sent = true;
            response_head::build(&mut sr.head)?
        };
        let declared = match length {
            BodyLength::NoBody => return Ok(finish(head.respond(Body::empty()))),
            BodyLength::Declared(len) => Some(len),
            BodyLength::Open => None,
        };
        if let Some(file) = native {
            // The app's file, from where it stood, never past its Content-Length; without one,
            // the response is as long as what is left of the file (after any write() output).
            let len = body.set_file(file, declared);
            if declared.is_none() {
                head.set_length(len);
            }
            // For HEAD the body is dropped here, which calls the app's close().
            if head_request {
                return Ok(finish(head.respond(Body::empty())));
            }
            return Ok(finish(head.respond(Body::stream(body))));
        }
        if head_request {
            // RFC 9110 §9.3.2: the same headers as GET, no body. The app ran; its length is
            // what it declared, else what it produces.
            if declared.is_none() {
                let len = body
                    .drain(py)
                    .map_err(|e| failed("the app raised an exception", e))?;
                head.set_length(len);
            }
            return Ok(finish(head.respond(Body::empty())));
        }
        let complete = body.is_exhausted().then(|| body.take_pending());
        match (complete, declared) {
            (Some(data), None) => {
                head.set_length(data.len() as u64);
                return Ok(finish(head.respond(Body::full(data))));
            }
            (Some(data), Some(len)) if len == data.len() as u64 => {
                return Ok(finish(head.respond(Body::full(data))));
            }
            (Some(data), Some(_)) => body.push(data),
            (None, _) => {}
        }
        if let Some(len) = declared {
            body.set_declared_length(len);
        }
        Ok(finish(head.respond(Body::stream(body))))
    }
}

/// The response to an app that returned a list or tuple: its items (after any `write()`
/// output) are the whole body, joined here, and the responder goes back to its pool at once.
/// Gives `response` the environ values the access log asks for, if it asks for any.
#[inline]
fn attach_log_values(response: &mut Response<Body>, values: Option<LogEnviron>) {
    if let Some(values) = values {
        response.extensions_mut().insert(values);
    }
}

fn complete<'py>(
    py: Python<'py>,
    result: &Bound<'py, PyAny>,
    responder: Responder,
    head_request: bool,
) -> Result<Response<Body>, Failure> {
    let joined = {
        let mut sr = responder.state(py);
        let written = std::mem::take(&mut sr.written);
        sr.headers_sent = true;
        let data = if let Ok(list) = result.cast::<PyList>() {
            join(written, list.iter())
        } else if let Ok(tuple) = result.cast::<PyTuple>() {
            join(written, tuple.iter())
        } else {
            join(written, std::iter::empty())
        };
        data.map(|data| (data, response_head::build(&mut sr.head)))
    };
    responder.give_back(py);
    let (data, built) = joined.map_err(|err| Failure {
        problem: format!("the app's body is invalid\n{}", traceback(py, &err)),
        timed_out: false,
    })?;
    let (mut head, length) = built?;
    let declared = match length {
        BodyLength::NoBody => return Ok(head.respond(Body::empty())),
        BodyLength::Declared(len) => Some(len),
        BodyLength::Open => None,
    };
    if head_request {
        // RFC 9110 §9.3.2: the same headers as GET, no body.
        if declared.is_none() {
            head.set_length(data.len() as u64);
        }
        return Ok(head.respond(Body::empty()));
    }
    match declared {
        None => {
            head.set_length(data.len() as u64);
            Ok(head.respond(Body::full(data)))
        }
        Some(len) if len == data.len() as u64 => Ok(head.respond(Body::full(data))),
        // Longer or shorter than declared: the stream cuts it, or ends the connection short.
        Some(len) => Ok(head.respond(Body::stream(WsgiBody::whole(data, len)))),
    }
}

/// `write()` output, then the body's items, as one buffer (the usual single item is copied
/// once, nothing else is allocated).
fn join<'py>(
    written: Vec<Bytes>,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
) -> PyResult<Bytes> {
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let chunks = written.into_iter().map(Ok).chain(items.map(|item| {
        item.cast::<PyBytes>()
            .map(super::pieces::from_python)
            .map_err(|_| PyTypeError::new_err("the app's body must hold bytes only"))
    }));
    for chunk in chunks {
        let chunk = chunk?;
        if chunk.is_empty() {
            continue;
        }
        match (&mut rest, first.take()) {
            (Some(rest), _) => rest.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(one)) => {
                let mut both = BytesMut::with_capacity(one.len() + chunk.len());
                both.extend_from_slice(&one);
                both.extend_from_slice(&chunk);
                rest = Some(both);
            }
        }
    }
    Ok(match rest {
        Some(all) => all.freeze(),
        None => first.unwrap_or_default(),
    })
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

impl Drop for Executor {
    /// The worker stops gracefully: what a Python process does at exit.
    fn drop(&mut self) {
        Python::attach(|py| process::shutdown(py, &self.app.hooks));
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
        body.push(super::pieces::from_python(bytes));
    }
    Ok(())
}
