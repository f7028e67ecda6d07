//! The response body of a WSGI app (PEP 3333 "Buffering and Streaming"). The iterable is pulled
//! one item at a time, only when the connection writer asks for more; `write()` output keeps its
//! place ahead of what is pulled after it. A `wsgi.file_wrapper` over a real file becomes a
//! [`FileBody`] — the `write()` output, then the file's range — that the writer sends like a
//! static file, its large ranges with sendfile(2) (`next_file_range`, `sent_from_file`). The
//! iterable's `close()` runs exactly once: as soon as the iterator ends (in the same call into
//! Python as its last pull), else when the body is dropped — aborted, never sent (HEAD, 304) or
//! left by the client.

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyTuple};

use super::file_wrapper::NativeFile;
use super::pieces::Pieces;
use super::response_head::type_name;
use super::start_response::Responder;
use crate::http::{BodyError, BodyStream, FileBody};

/// The body of a WSGI response: items already pulled, the iterator or the app's file (until
/// exhausted), and the object whose `close()` is owed.
pub struct WsgiBody {
    pending: Pieces,
    iter: Option<Py<PyIterator>>,
    /// A file_wrapper's file, with the `write()` output that goes ahead of it. Boxed: the
    /// body is moved a few times on its way to the writer, and few bodies are files.
    file: Option<Box<FileBody>>,
    closer: Option<Py<PyAny>>,
    /// The request's `start_response`, given back to its pool when the iterator ends or the
    /// body is dropped.
    responder: Option<Responder>,
    /// App-declared Content-Length still to send.
    remaining: Option<u64>,
    /// The iterator ran to its end (StopIteration), rather than raising or being left.
    ended: bool,
}

impl WsgiBody {
    pub fn new(result: &Bound<'_, PyAny>, responder: Responder) -> WsgiBody {
        WsgiBody {
            pending: Pieces::default(),
            iter: None,
            file: None,
            closer: Some(result.clone().unbind()),
            responder: Some(responder),
            remaining: None,
            ended: false,
        }
    }

    /// A whole body already joined (from a list) whose declared length `declared` differs from
    /// its own: sent as a stream, cut at that length or ended short.
    pub fn whole(data: Bytes, declared: u64) -> WsgiBody {
        let mut body = WsgiBody {
            pending: Pieces::default(),
            iter: None,
            file: None,
            closer: None,
            responder: None,
            remaining: Some(declared),
            ended: false,
        };
        body.push(data);
        body
    }

    /// The request's `start_response` (present until the streamed iterator ends or the body is
    /// dropped: always while the app's call is answered).
    pub fn responder(&self) -> &Responder {
        self.responder.as_ref().expect("held until the stream ends")
    }

    pub fn set_iter(&mut self, iter: Bound<'_, PyIterator>) {
        self.iter = Some(iter.unbind());
    }

    /// Makes this body the app's file: what was given to `write()`, then the file from where the
    /// app stood in it, the whole cut at `declared` (so a Content-Length shorter than the file
    /// sends a prefix of it without a warning). Returns the body's length, the Content-Length to
    /// send when the app gave none. Call once the app has returned: nothing is pulled after it.
    pub fn set_file(&mut self, native: NativeFile, declared: Option<u64>) -> u64 {
        let NativeFile { file, offset, len } = native;
        let mut stream = FileBody::new(Some(file));
        let mut room = declared.unwrap_or(u64::MAX);
        for mut chunk in self.pending.drain() {
            if chunk.len() as u64 > room {
                tracing::warn!(
                    pid = std::process::id(),
                    extra = chunk.len() as u64 - room,
                    "the app's body is longer than its Content-Length; cut"
                );
                chunk.truncate(room as usize);
            }
            room -= chunk.len() as u64;
            stream.push_bytes(chunk);
        }
        stream.push_file(offset, len.min(room));
        let total = stream.remaining();
        // A file shorter than the declared length ends the body early: `finish` aborts.
        self.remaining = Some(declared.unwrap_or(total));
        self.file = Some(Box::new(stream));
        total
    }

    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.pending.push_back(chunk);
        }
    }

    pub fn is_exhausted(&self) -> bool {
        self.iter.is_none() && self.file.is_none()
    }

    /// Takes everything pulled so far (for a body that is complete).
    pub fn take_pending(&mut self) -> Bytes {
        self.pending.concat()
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

    /// The length of the whole body, produced to the end and thrown away (a HEAD response
    /// still runs the app, PEP 3333 leaves the body to the server; RFC 9110 §9.3.2).
    pub fn drain(&mut self, py: Python<'_>) -> PyResult<u64> {
        let mut total = self.pending.len_bytes();
        self.pending.drain().for_each(drop);
        while let Some(chunk) = self.pull(py)? {
            total += chunk.len() as u64;
        }
        total += self.take_written_len(py);
        Ok(total)
    }

    /// Queues bytes given to `write()` ahead of anything pulled after them. Only called while
    /// the queue is empty or right after a pull, so `write()` output keeps its place in order.
    /// Usually there are none (few apps call `write()`): a flag says so, nothing is borrowed.
    #[inline]
    pub fn take_written(&mut self, py: Python<'_>) {
        if self.responder.as_ref().is_some_and(Responder::has_written) {
            self.queue_written(py);
        }
    }

    #[cold]
    #[inline(never)]
    fn queue_written(&mut self, py: Python<'_>) {
        let Some(responder) = &self.responder else {
            return;
        };
        for chunk in responder.take_written(py).into_iter().rev() {
            self.pending.push_front(chunk);
        }
    }

    fn take_written_len(&mut self, py: Python<'_>) -> u64 {
        let Some(responder) = &self.responder else {
            return 0;
        };
        responder
            .take_written(py)
            .iter()
            .map(|c| c.len() as u64)
            .sum()
    }

    /// The next item of the iterator as bytes; `None` once it is exhausted.
    fn pull(&mut self, py: Python<'_>) -> PyResult<Option<Bytes>> {
        Ok(self
            .pull_item(py)?
            .map(|item| super::pieces::from_python(&item)))
    }

    /// The next item of the iterator, checked to be bytes; `None` once it is exhausted.
    fn pull_item<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let Some(iter) = &self.iter else {
            return Ok(None);
        };
        match iter.bind(py).clone().next() {
            Some(Ok(item)) => match item.cast_into::<PyBytes>() {
                Ok(bytes) => Ok(Some(bytes)),
                Err(err) => Err(PyTypeError::new_err(format!(
                    "the app's iterable yielded {}, not bytes",
                    type_name(&err.into_inner())
                ))),
            },
            Some(Err(err)) => Err(err),
            None => {
                self.iter = None;
                self.ended = true;
                Ok(None)
            }
        }
    }

    /// [`BodyStream::pull_while`] in one call into Python: each item of up to `max` bytes
    /// goes to `take` straight from its Python bytes (cut at the declared length), and the next
    /// is pulled only when `take` asks for it. `write()` output, or a larger item, is queued
    /// for `next_chunk` instead, and ends the run.
    fn pull_run(
        &mut self,
        py: Python<'_>,
        max: usize,
        take: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Option<Result<(), BodyError>> {
        loop {
            if self.remaining == Some(0) {
                return None;
            }
            let item = match self.pull_item(py) {
                Ok(Some(item)) => item,
                Ok(None) => {
                    self.take_written(py);
                    self.release(py);
                    if !self.pending.is_empty() {
                        return Some(Ok(()));
                    }
                    return self.finish().map(|end| end.map(drop));
                }
                Err(err) => return Some(Err(raised(py, &err))),
            };
            self.take_written(py);
            let bytes = item.as_bytes();
            if !self.pending.is_empty() || bytes.len() > max {
                self.push(super::pieces::from_python(&item));
                return Some(Ok(()));
            }
            if bytes.is_empty() {
                continue;
            }
            let len = self.clip_len(bytes.len());
            if !take(&bytes[..len]) {
                return Some(Ok(()));
            }
        }
    }

    fn pull_from_app(&mut self) -> Result<Option<Bytes>, BodyError> {
        let _in_app = crate::heartbeat::enter_app();
        Python::attach(|py| self.next_from_app(py))
    }

    /// The next piece of the app's file body that the writer did not send itself: `write()`
    /// output, a small range of the file, or a block of it where sendfile cannot be used.
    fn next_from_file(&mut self) -> Result<Option<Bytes>, BodyError> {
        let Some(stream) = &mut self.file else {
            return Ok(None);
        };
        match stream.next_chunk() {
            Some(Ok(chunk)) => Ok(Some(chunk)),
            None => {
                self.file = None;
                Ok(None)
            }
            Some(Err(err)) => {
                tracing::error!(pid = std::process::id(), error = %err, "reading the app's file failed; aborting the connection");
                Err(Box::new(err))
            }
        }
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
                    // Done with Python: close() and the responder's return share this call's
                    // attach instead of taking one of their own when the body is dropped.
                    self.release(py);
                    return Ok(self.pending.pop_front());
                }
                Err(err) => return Err(raised(py, &err)),
            }
        }
    }

    /// End of the iterable: a body shorter than its declared length aborts the connection so
    /// the client sees the truncation.
    fn finish(&mut self) -> Option<Result<Bytes, BodyError>> {
        match self.remaining {
            Some(left) if left > 0 => {
                tracing::warn!(
                    pid = std::process::id(),
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
        let len = self.clip_len(chunk.len());
        chunk.truncate(len);
        chunk
    }

    /// How much of a piece of `len` bytes fits in the declared length, taken off it (the rest
    /// is dropped, with a warning).
    fn clip_len(&mut self, len: usize) -> usize {
        let Some(left) = &mut self.remaining else {
            return len;
        };
        let mut len = len as u64;
        if len > *left {
            tracing::warn!(
                pid = std::process::id(),
                extra = len - *left,
                "the app's body is longer than its Content-Length; cut"
            );
            len = *left;
        }
        *left -= len;
        len as usize
    }

    /// The end of the body's Python side: the iterable's `close()` (see [`WsgiBody::close`])
    /// and the request's `start_response` given back to its pool.
    fn release(&mut self, py: Python<'_>) {
        self.close(py);
        if let Some(responder) = self.responder.take() {
            responder.give_back(py);
        }
    }

    /// Calls the iterable's `close()` if it has one; at most once (PEP 3333: "If the iterable
    /// returned by the application has a close() method, the server must call it").
    pub fn close(&mut self, py: Python<'_>) {
        self.iter = None;
        self.file = None;
        let Some(closer) = self.closer.take() else {
            return;
        };
        let closer = closer.bind(py);
        if closer.is_exact_instance_of::<PyList>() || closer.is_exact_instance_of::<PyTuple>() {
            return;
        }
        // A generator that ran to StopIteration has no frame left: its close() returns None
        // without running any code (CPython's `gen_close` on a finished generator), so it is
        // not looked up and called. Any other iterable, or a generator left before its end
        // (an error, a client gone), has its close() called.
        if self.ended && super::ffi::is_exact_generator(closer) {
            return;
        }
        let result = match closer.getattr(pyo3::intern!(py, "close")) {
            Ok(close) => close.call0().map(drop),
            Err(_) => Ok(()),
        };
        if let Err(err) = result {
            let tb = super::app::traceback(py, &err);
            tracing::error!(pid = std::process::id(), "the app's close() raised\n{tb}");
        }
    }
}

impl BodyStream for WsgiBody {
    /// The next chunk for the connection; an error aborts it (no clean end of message).
    fn next_chunk(&mut self) -> Option<Result<Bytes, BodyError>> {
        if self.remaining == Some(0) {
            return None;
        }
        let chunk = match self.pending.pop_front() {
            Some(chunk) => chunk,
            None if self.file.is_some() => match self.next_from_file() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return self.finish(),
                Err(err) => return Some(Err(err)),
            },
            None => match self.pull_from_app() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return self.finish(),
                Err(err) => return Some(Err(err)),
            },
        };
        Some(Ok(self.clip(chunk)))
    }

    /// The app's quick small items, straight to the writer (see `pull_run`); not
    /// for a file body, nor while pieces are queued.
    fn pull_while(
        &mut self,
        max: usize,
        take: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Option<Result<(), BodyError>> {
        if self.file.is_some() || !self.pending.is_empty() || self.iter.is_none() {
            return Some(Ok(()));
        }
        let _in_app = crate::heartbeat::enter_app();
        Python::attach(|py| self.pull_run(py, max, take))
    }

    /// Whether this body is the app's file, for the writer to send with `next_file_range`.
    fn is_file(&self) -> bool {
        self.file.is_some()
    }

    /// The next piece when it is a range of the app's file longer than `min` bytes (see
    /// [`FileBody::next_file_range`]).
    fn next_file_range(&self, min: u64) -> Option<(&std::fs::File, u64, u64)> {
        self.file.as_ref()?.next_file_range(min)
    }

    /// `n` bytes of the range from `next_file_range` went out (sent by the writer itself).
    fn sent_from_file(&mut self, n: u64) {
        if let Some(stream) = &mut self.file {
            stream.sent_from_file(n);
            if let Some(left) = &mut self.remaining {
                *left = left.saturating_sub(n);
            }
        }
    }
}

impl Drop for WsgiBody {
    fn drop(&mut self) {
        if self.closer.is_some() || self.iter.is_some() || self.responder.is_some() {
            let _in_app = crate::heartbeat::enter_app();
            Python::attach(|py| self.release(py));
        }
    }
}

/// The app raised while its body streamed: logged with its traceback; the connection is aborted.
fn raised(py: Python<'_>, err: &PyErr) -> BodyError {
    let tb = super::app::traceback(py, err);
    tracing::error!(
        pid = std::process::id(),
        "app raised while streaming its body; aborting the connection\n{tb}"
    );
    "the app raised while streaming".into()
}
