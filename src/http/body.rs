//! The one response body type a service hands back, in the kinds the connection writer knows:
//! bytes, a [`FileBody`] (bytes and ranges of a file, the large ranges sent by the writer itself
//! with sendfile), or a [`BodyStream`] — something above `http` (a WSGI iterable) producing the
//! body piece by piece, possibly as a file body of its own (a `wsgi.file_wrapper`). The
//! connection polls it only once the previous frame reached the socket, which is what gives a
//! streamed response its backpressure. When the body is dropped — finished, aborted or never
//! polled (HEAD) — the request's access-log line is written, with the bytes that went out.

use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use super::file_body::FileBody;
use super::request::Head;

/// Why a response body stopped early; the connection is then aborted instead of ending the
/// message cleanly.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A body produced piece by piece above `http` (the WSGI bridge's iterable), pulled only once
/// the socket took the previous piece. A stream may be, or end in, a file body of its own: the
/// writer then sends its large ranges with sendfile(2) (`next_file_range`, `sent_from_file`).
///
/// Called through a `dyn`: every piece costs an app call anyway, so one indirect call per piece
/// is noise, and a `Body` stays one type for every service. `Send`: a pool thread builds it.
pub trait BodyStream: Send {
    /// The next piece; `None` at the end. An error aborts the connection (no clean end of
    /// message), so the client cannot take a truncated body for complete.
    fn next_chunk(&mut self) -> Option<Result<Bytes, BodyError>>;

    /// Whether the rest is a file body (its length known, its large ranges sendable).
    fn is_file(&self) -> bool {
        false
    }

    /// See [`FileBody::next_file_range`].
    fn next_file_range(&self, _min: u64) -> Option<(&std::fs::File, u64, u64)> {
        None
    }

    /// See [`FileBody::sent_from_file`].
    fn sent_from_file(&mut self, _n: u64) {}

    /// Pulls pieces of up to `max` bytes, each handed to `take` (borrowed, for it to copy) as
    /// soon as it is produced, for as long as `take` answers `true` — so that a quick run of
    /// small pieces costs one call, not one per piece. Stops, with `Some(Ok(()))`, when `take`
    /// answers `false` or when the next piece is not of that kind (larger, or already queued):
    /// that one is then the next [`BodyStream::next_chunk`]. `None` at the end, and an error
    /// as in `next_chunk`. The default takes nothing.
    fn pull_while(
        &mut self,
        _max: usize,
        _take: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Option<Result<(), BodyError>> {
        Some(Ok(()))
    }
}

pub struct Body {
    kind: Kind,
    log: Option<Box<AccessLog>>,
    /// Header lines rendered ahead of time (`Name: value\r\n` each), written after the
    /// response's own fields; see [`Lines`].
    lines: Lines,
    /// What the service's rendered lines say that the writer must know.
    rendered: Rendered,
}

/// Header lines rendered ahead of time, of one of two kinds (never both: a response is a file's
/// or an app's). One field, not two: a response is moved a few times on its way to the writer,
/// and its size is what each move copies.
enum Lines {
    /// A static file's validators and type, kept ready in its cache entry (at most two
    /// pieces). Saves building a field map for every file hit.
    Fields([Bytes; 2]),
    /// The service's own lines, rendered as it received them (an app's, from its
    /// `start_response`), in a pooled buffer. Saves a field map for every app response.
    Rendered(BytesMut),
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Lines::Rendered(lines) = self {
            super::fields::return_buffer(std::mem::take(lines));
        }
    }
}

/// What the header lines a service rendered itself (see [`Body::set_rendered`]) say that the
/// writer must know.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rendered {
    /// The lines hold a `Date` field (the writer adds none).
    pub date: bool,
    /// The lines hold a `Server` field (the writer adds none).
    pub server: bool,
    /// The service asked for the connection to close after this response.
    pub close: bool,
    /// The app's side answered (not the server on the spot): the route kind of the metrics.
    pub by_app: bool,
    /// The `Content-Length` the service declares (the writer renders the field).
    pub length: Option<u64>,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    File(FileBody),
    Stream(Box<dyn BodyStream>),
}

/// What a response's metrics and access-log line need, filled in by the connection once the
/// status is known; both are written when the body is dropped (finished, aborted or never
/// polled). The request's head is copied only when the access log is on.
pub struct AccessLog {
    /// The client, after trusted-proxy resolution.
    pub client: Option<IpAddr>,
    /// A copy of the request's head (with the access log on); `None` for a request refused
    /// before its request line could be trusted (logged as `-`). Boxed: without the log, the
    /// record stays small (it is copied into its own box once per request).
    pub head: Option<Box<Head>>,
    pub status: u16,
    pub started: Instant,
    pub bytes: u64,
    /// The app answered (not the server on the spot): the route kind of the metrics.
    pub app: bool,
    /// The response's head as sent, when the format names response headers.
    pub response_head: Vec<u8>,
    /// The environ variables the format names, as the app left them ([`LogEnviron`]).
    pub environ: Vec<Option<String>>,
}

/// The values of the environ variables the access-log format names, read after the app
/// returned; the service puts them in the response's extensions, the connection in the log.
#[derive(Debug, Clone)]
pub struct LogEnviron(pub Vec<Option<String>>);

impl AccessLog {
    /// Starts the record of a request about to be answered; the status and the bytes sent are
    /// filled in as they become known.
    #[inline]
    pub fn start(client: Option<IpAddr>, head: Option<&Head>) -> Box<AccessLog> {
        AccessLog::start_at(Instant::now(), client, head)
    }

    /// [`AccessLog::start`] for a request that started at `started` (a clock read the caller
    /// shares).
    #[inline]
    pub fn start_at(
        started: Instant,
        client: Option<IpAddr>,
        head: Option<&Head>,
    ) -> Box<AccessLog> {
        let logged = crate::access_log::format().is_some();
        Box::new(AccessLog {
            client,
            head: head.filter(|_| logged).map(|h| Box::new(h.clone())),
            status: 0,
            started,
            bytes: 0,
            app: false,
            response_head: Vec::new(),
            environ: Vec::new(),
        })
    }
}

fn version_str(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/?",
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        crate::metrics::response(self.app, self.status, self.bytes, elapsed);
        if crate::access_log::format().is_none() {
            return;
        }
        let head = self.head.as_deref();
        let header = move |name: &[u8]| head.and_then(|h| h.fields.last_named(name));
        let request = self.head.as_deref().map(|head| crate::access_log::Request {
            method: head.method.as_str(),
            target: head.target(),
            path: head.path(),
            query: head.query().unwrap_or_default(),
            protocol: version_str(head.version),
            header: &header,
        });
        crate::access_log::write(crate::access_log::Entry {
            client: self.client,
            request,
            status: self.status,
            bytes: self.bytes,
            elapsed,
            response_head: &self.response_head,
            environ: &self.environ,
            pid: std::process::id(),
        });
    }
}

impl Body {
    pub fn empty() -> Body {
        Body {
            kind: Kind::Empty,
            log: None,
            lines: Lines::Fields(Default::default()),
            rendered: Rendered::default(),
        }
    }

    pub fn full(data: impl Into<Bytes>) -> Body {
        let data = data.into();
        let kind = if data.is_empty() {
            Kind::Empty
        } else {
            Kind::Full(Some(data))
        };
        Body {
            kind,
            log: None,
            lines: Lines::Fields(Default::default()),
            rendered: Rendered::default(),
        }
    }

    pub fn file(stream: FileBody) -> Body {
        Body {
            kind: Kind::File(stream),
            log: None,
            lines: Lines::Fields(Default::default()),
            rendered: Rendered::default(),
        }
    }

    pub fn stream(body: impl BodyStream + 'static) -> Body {
        Body {
            kind: Kind::Stream(Box::new(body)),
            log: None,
            lines: Lines::Fields(Default::default()),
            rendered: Rendered::default(),
        }
    }

    /// Adds prerendered header lines (at most two pieces): a static file's, from its cache entry.
    #[inline]
    pub fn with_fields(mut self, first: Bytes, second: Bytes) -> Body {
        self.lines = Lines::Fields([first, second]);
        self
    }

    /// The prerendered pieces of [`Body::with_fields`] (none for a service's own lines).
    pub fn fields(&self) -> &[Bytes] {
        match &self.lines {
            Lines::Fields(fields) => fields,
            Lines::Rendered(_) => &[],
        }
    }

    /// Adds the service's own rendered header lines (`Name: value\r\n` each, in a buffer of
    /// the worker's pool, given back when the body is dropped) and what they say.
    pub fn set_rendered(&mut self, lines: BytesMut, rendered: Rendered) {
        self.lines = Lines::Rendered(lines);
        self.rendered = rendered;
    }

    /// The service's own header lines of [`Body::set_rendered`] (empty for prerendered
    /// pieces).
    pub fn rendered_lines(&self) -> &[u8] {
        match &self.lines {
            Lines::Rendered(lines) => lines,
            Lines::Fields(_) => &[],
        }
    }

    pub fn rendered(&self) -> &Rendered {
        &self.rendered
    }

    pub fn rendered_mut(&mut self) -> &mut Rendered {
        &mut self.rendered
    }

    /// Ends the body where it stands: what produces it is dropped (an app's `close()` is
    /// called) and the access-log line written, as when the body itself is dropped.
    pub fn finish(&mut self) {
        self.kind = Kind::Empty;
        self.log = None;
    }

    pub fn set_log(&mut self, log: Box<AccessLog>) {
        self.log = Some(log);
    }

    /// The access-log record this body carries, if any.
    pub fn log_mut(&mut self) -> Option<&mut AccessLog> {
        self.log.as_deref_mut()
    }

    fn count(&mut self, n: u64) {
        if let Some(log) = &mut self.log {
            log.bytes += n;
        }
    }

    /// A static file or the file of a `wsgi.file_wrapper`: its length is known and its large
    /// ranges can be sent with sendfile.
    pub(super) fn is_file(&self) -> bool {
        match &self.kind {
            Kind::File(_) => true,
            Kind::Stream(body) => body.is_file(),
            _ => false,
        }
    }

    /// For a file body whose next piece is a range of its file longer than `min` bytes: the
    /// file, offset and length, for the writer to send itself (sendfile) and report with
    /// `sent_from_file`. Everything else comes as frames.
    pub(super) fn next_file_range(&self, min: u64) -> Option<(&std::fs::File, u64, u64)> {
        match &self.kind {
            Kind::File(stream) => stream.next_file_range(min),
            Kind::Stream(body) => body.next_file_range(min),
            _ => None,
        }
    }

    /// The next piece, produced on the spot: every kind is in memory or pulled synchronously
    /// (an app's iterable), so the writer needs no future (nor a `Frame`) to get it. Counted
    /// for the access log; an error ends the body (the writer then aborts the connection).
    pub(super) fn next_piece(&mut self) -> Option<Result<Bytes, BodyError>> {
        let next = match &mut self.kind {
            Kind::Empty => None,
            Kind::Full(data) => data.take().map(Ok),
            Kind::File(stream) => stream.next_chunk().map(|r| r.map_err(BodyError::from)),
            Kind::Stream(body) => body.next_chunk(),
        };
        match &next {
            Some(Ok(chunk)) => self.count(chunk.len() as u64),
            // Dropping what produces the body now calls the app's close().
            Some(Err(_)) => self.kind = Kind::Empty,
            None => {}
        }
        next
    }

    /// A stream's quick small pieces, handed to `take` in place (see
    /// [`BodyStream::pull_while`]) and counted for the access log. Other kinds take nothing.
    pub(super) fn pull_while(
        &mut self,
        max: usize,
        take: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Option<Result<(), BodyError>> {
        let Kind::Stream(stream) = &mut self.kind else {
            return Some(Ok(()));
        };
        let mut taken = 0u64;
        let result = stream.pull_while(max, &mut |piece| {
            taken += piece.len() as u64;
            take(piece)
        });
        self.count(taken);
        if let Some(Err(_)) = &result {
            // Dropping what produces the body now calls the app's close().
            self.kind = Kind::Empty;
        }
        result
    }

    /// Whether the body is a stream that is not a file body (its pieces come from
    /// [`Body::pull_while`] or [`Body::next_piece`]).
    pub(super) fn is_plain_stream(&self) -> bool {
        matches!(&self.kind, Kind::Stream(body) if !body.is_file())
    }

    /// `n` bytes of the range from `next_file_range` went out: taken off the body and counted
    /// for the access log.
    pub(super) fn sent_from_file(&mut self, n: u64) {
        match &mut self.kind {
            Kind::File(stream) => stream.sent_from_file(n),
            Kind::Stream(body) => body.sent_from_file(n),
            _ => return,
        }
        self.count(n);
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Poll::Ready(self.get_mut().next_piece().map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(data) => data.is_none(),
            Kind::File(stream) => stream.is_done(),
            Kind::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::File(stream) => SizeHint::with_exact(stream.remaining()),
            Kind::Stream(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// A response and a request are moved a few times between the connection and the service:
    /// past 256 bytes each move copies in a loop, noticeably costlier (see `bench/instructions`).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_response_and_a_request_stay_within_256_bytes() {
        assert!(std::mem::size_of::<http::Response<super::Body>>() <= 256);
        assert!(std::mem::size_of::<super::super::request::Request>() <= 256);
    }
}
