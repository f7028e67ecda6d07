//! `start_response` and `write` (PEP 3333 "The start_response() Callable", "The write()
//! Callable"): the status and headers are validated when given — the header lines rendered
//! there and then, ready for the wire — kept until the first body byte is ready, and replaced or
//! re-raised per the `exc_info` rules.
//!
//! Both callables are methods of one object, taken from a per-thread pool with its two bound
//! methods made once: a request costs neither an object nor a method, and the app calls them
//! through the vectorcall protocol (no argument tuple). An object goes back to the pool only
//! when nothing but the pool refers to it, so an app that kept `start_response` or `write`
//! never sees it reused.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use pyo3::exceptions::{PyAssertionError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::ffi::refcount;
use super::response_head::{self, type_name, HeadState};

#[pyclass(module = "pyrite")]
#[derive(Default)]
pub struct StartResponse {
    pub head: HeadState,
    /// Bytes passed to `write()` not yet handed to the connection.
    pub written: Vec<Bytes>,
    /// Set by `write()` when `written` gains a piece, shared with the [`Responder`]: the body
    /// looks for `write()` output after every pull, and most apps never call `write()`, so it
    /// reads this flag instead of borrowing the object. The GIL orders it with `written`.
    wrote: Arc<AtomicBool>,
    /// Set once the status line is committed; a later `start_response(..., exc_info)` re-raises.
    pub headers_sent: bool,
    /// This object's bound `write`, returned by every `start_response` call.
    write_method: Option<Py<PyAny>>,
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn start_response<'py>(
        slf: &Bound<'py, Self>,
        status: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        exc_info: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let exc_info = exc_info.filter(|e| !e.is_none());
        let mut this = slf.borrow_mut();
        match exc_info {
            Some(info) if this.headers_sent => {
                // PEP 3333: with exc_info after the headers went out, re-raise it.
                return Err(PyErr::from_value(info.get_item(1)?));
            }
            None if this.head.status.is_some() => {
                return Err(PyAssertionError::new_err(
                    "start_response() called a second time without exc_info",
                ));
            }
            _ => {}
        }
        if this.head.status.is_none() {
            // The first call: validated in place (its buffer kept), emptied again if it fails.
            let head = &mut this.head;
            let parsed = response_head::parse_status(head, status)
                .and_then(|()| response_head::parse_headers(head, headers));
            if let Err(err) = parsed {
                this.head.reset();
                return Err(err);
            }
        } else {
            // Validated into a fresh state: a second call that fails leaves the first one's.
            let mut head = HeadState::default();
            response_head::parse_status(&mut head, status)?;
            response_head::parse_headers(&mut head, headers)?;
            this.head = head;
        }
        match &this.write_method {
            Some(write) => Ok(write.clone_ref(py)),
            None => {
                drop(this);
                Ok(slf.getattr(pyo3::intern!(py, "write"))?.unbind())
            }
        }
    }

    /// The `write` callable start_response returns (PEP 3333 "The write() Callable").
    fn write(&mut self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.head.status.is_none() {
            return Err(PyAssertionError::new_err(
                "write() called before start_response()",
            ));
        }
        let data = data.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("write() takes bytes, not {}", type_name(data)))
        })?;
        if !data.as_bytes().is_empty() {
            self.written.push(super::pieces::from_python(data));
            self.wrote.store(true, Relaxed);
            // The first non-empty write() commits the status and headers (PEP 3333 "The
            // start_response() Callable"): a later start_response(..., exc_info) re-raises.
            self.headers_sent = true;
        }
        Ok(())
    }
}

/// A `StartResponse` and its bound `start_response`, lent to one request at a time.
pub struct Responder {
    pub object: Py<StartResponse>,
    start: Py<PyAny>,
    /// The object's `wrote` flag.
    wrote: Arc<AtomicBool>,
}

/// Spare responders kept per thread.
const SPARES: usize = 16;

thread_local! {
    static SPARE: RefCell<Vec<Responder>> = const { RefCell::new(Vec::new()) };
}

impl Responder {
    /// A responder from this thread's pool, or a new one.
    pub fn take(py: Python<'_>) -> PyResult<Responder> {
        if let Some(spare) = SPARE.with(|spare| spare.borrow_mut().pop()) {
            return Ok(spare);
        }
        let object = Bound::new(py, StartResponse::default())?;
        let start = object
            .getattr(pyo3::intern!(py, "start_response"))?
            .unbind();
        let write = object.getattr(pyo3::intern!(py, "write"))?.unbind();
        let wrote = {
            let mut state = object.borrow_mut();
            state.write_method = Some(write);
            state.wrote.clone()
        };
        Ok(Responder {
            object: object.unbind(),
            start,
            wrote,
        })
    }

    /// The `start_response` callable to pass to the app.
    pub fn callable<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.start.bind(py)
    }

    pub fn state<'py>(&self, py: Python<'py>) -> PyRefMut<'py, StartResponse> {
        self.object.bind(py).borrow_mut()
    }

    /// Whether `write()` was given bytes since the last [`Responder::take_written`].
    #[inline]
    pub fn has_written(&self) -> bool {
        self.wrote.load(Relaxed)
    }

    /// The bytes given to `write()` since the last call, oldest first; none (and no borrow of
    /// the object) when `write()` was not called.
    pub fn take_written(&self, py: Python<'_>) -> Vec<Bytes> {
        if !self.wrote.swap(false, Relaxed) {
            return Vec::new();
        }
        std::mem::take(&mut self.state(py).written)
    }

    /// Back to the pool once the request is done with it — unless the app still holds the
    /// object or one of its methods, which then keep their state (and the object its method,
    /// until the cycle is collected with them).
    pub fn give_back(self, py: Python<'_>) {
        let object = self.object.bind(py);
        // The pool's reference, and one from each bound method.
        let alone = refcount(object.as_any()) == 3
            && refcount(self.start.bind(py)) == 1
            && object
                .borrow()
                .write_method
                .as_ref()
                .is_some_and(|w| refcount(w.bind(py)) == 1);
        if !alone {
            if let Ok(mut state) = object.try_borrow_mut() {
                // Breaks the object → method → object cycle: nothing can collect it otherwise.
                state.write_method = None;
            }
            return;
        }
        {
            let mut state = object.borrow_mut();
            state.head.reset();
            state.written.clear();
            state.wrote.store(false, Relaxed);
            state.headers_sent = false;
        }
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARES {
                spare.push(self);
            }
        });
    }
}
