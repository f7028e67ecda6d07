//! The request body as the service sees it: read from the connection on demand, de-chunked,
//! each read bounded by `--body-timeout` (a stall, as nginx's `client_body_timeout`), and the
//! whole body held to `--body-min-rate` (as Apache mod_reqtimeout's `MinRate`): over each
//! window of `--body-timeout`, at least that many bytes a second must arrive, so a client
//! trickling a byte a second cannot hold a connection (and its buffered body) for ever.
//! `100 Continue` (RFC 9110 §10.1.1) goes out only when the body is actually wanted and not
//! already here. Another driver (HTTP/2) hands its bodies over as a [`BodySource`], whose flow
//! control it keeps: the service reads both the same way.

use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use http::StatusCode;

use super::chunked::{Decoder, Step};
use super::parse::Limits;
use super::reject::Reject;
use super::transport::{BodyState, Transport, BODY_READ_CHUNK};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a request body is delimited (RFC 9112 §6.3).
pub enum RequestFraming {
    Empty,
    Length(u64),
    Chunked,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("malformed body: {0}")]
    Framing(Reject),
    #[error("the body stalled past the body timeout")]
    Timeout,
    #[error("the body arrived slower than the minimum rate")]
    TooSlow,
    #[error("the connection closed before the body was complete")]
    Closed,
    #[error("reading the body failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// The status the server answers with (if the client is still there to read it).
    pub fn status(&self) -> StatusCode {
        match self {
            ReadError::Timeout | ReadError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

enum Kind {
    Empty,
    Length(u64),
    /// Boxed: a request is moved a few times on its way to the service, and the decoder would
    /// add its bytes to every request's copies.
    Chunked(Box<Decoder>),
    Source(Box<dyn BodySource>),
}

/// A request body delivered by another connection driver (an HTTP/2 stream's DATA frames),
/// which grants the client more flow-control window as pieces are taken.
pub trait BodySource {
    /// The next piece once it arrives; `None` at the end.
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ReadError>>>;

    /// Whether nothing more will come.
    fn is_end_stream(&self) -> bool;

    /// The length the client declared (`content-length`), if it did.
    fn declared_length(&self) -> Option<u64>;
}

pub struct Incoming {
    transport: Option<Rc<Transport>>,
    kind: Kind,
    expect_continue: bool,
    timeout: Duration,
    /// `--body-min-rate`, bytes a second (0: none), measured over windows of `timeout`.
    min_rate: u64,
    /// The current window: when it started and the bytes read in it.
    window: (Instant, u64),
}

impl Incoming {
    /// A body with nothing in it (tests, internal requests).
    pub fn empty() -> Incoming {
        Incoming {
            transport: None,
            kind: Kind::Empty,
            expect_continue: false,
            timeout: Duration::ZERO,
            min_rate: 0,
            window: (Instant::now(), 0),
        }
    }

    pub(crate) fn new(
        transport: Rc<Transport>,
        framing: RequestFraming,
        expect_continue: bool,
        limits: Limits,
        timeout: Duration,
        min_rate: u64,
        started: Instant,
    ) -> Incoming {
        let kind = match framing {
            RequestFraming::Empty => Kind::Empty,
            RequestFraming::Length(n) => Kind::Length(n),
            RequestFraming::Chunked => Kind::Chunked(Box::new(Decoder::new(limits))),
        };
        transport.set_body_state(match kind {
            Kind::Empty => BodyState::Complete,
            _ => BodyState::Unread,
        });
        Incoming {
            transport: Some(transport),
            kind,
            expect_continue,
            timeout,
            min_rate,
            window: (started, 0),
        }
    }

    /// A body another driver delivers, each piece awaited at most `timeout` (`--body-min-rate`
    /// is HTTP/1.1's: an HTTP/2 stream's body is bounded by its flow-control window instead).
    pub fn from_source(source: Box<dyn BodySource>, timeout: Duration) -> Incoming {
        Incoming {
            transport: None,
            kind: Kind::Source(source),
            expect_continue: false,
            timeout,
            min_rate: 0,
            window: (Instant::now(), 0),
        }
    }

    pub fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Length(n) => *n == 0,
            Kind::Chunked(decoder) => decoder.is_done(),
            Kind::Source(source) => source.is_end_stream(),
        }
    }

    /// The Content-Length the client declared, if the body is not chunked.
    pub fn declared_length(&self) -> Option<u64> {
        match self.kind {
            Kind::Empty => Some(0),
            Kind::Length(n) => Some(n),
            Kind::Chunked(_) => None,
            Kind::Source(ref source) => source.declared_length(),
        }
    }

    /// The next piece of the body; `None` at its end.
    pub async fn data(&mut self) -> Option<Result<Bytes, ReadError>> {
        if let Kind::Source(source) = &mut self.kind {
            let next = poll_fn(|cx| source.poll_data(cx));
            return match tokio::time::timeout(self.timeout, next).await {
                Ok(next) => next,
                Err(_) => Some(Err(ReadError::Timeout)),
            };
        }
        let transport = self.transport.clone()?;
        let result = self.next(&transport).await;
        match &result {
            Some(Err(_)) => transport.set_body_state(BodyState::Failed),
            None => transport.set_body_state(BodyState::Complete),
            Some(Ok(_)) if self.is_end_stream() => transport.set_body_state(BodyState::Complete),
            Some(Ok(_)) => {}
        }
        result
    }

    async fn next(&mut self, transport: &Transport) -> Option<Result<Bytes, ReadError>> {
        loop {
            let step = {
                let mut buf = transport.buf.borrow_mut();
                match &mut self.kind {
                    Kind::Empty | Kind::Source(_) => return None,
                    Kind::Length(left) => {
                        if *left == 0 {
                            return None;
                        }
                        // What is left of a body, when it fits in one read, is gathered in the
                        // buffer: a small body is one allocation read in few system calls and
                        // reaches the service whole, not to be joined. A larger one is handed on
                        // as it arrives, to be counted against `--body-memory` (or spooled) as
                        // it comes, not held in the buffer uncounted by a slow client.
                        let left_now = usize::try_from(*left).unwrap_or(usize::MAX);
                        if buf.is_empty() || (left_now <= BODY_READ_CHUNK && buf.len() < left_now) {
                            Step::NeedMore
                        } else {
                            let n = buf.len().min(left_now);
                            *left -= n as u64;
                            Step::Data(buf.split_to(n).freeze())
                        }
                    }
                    Kind::Chunked(decoder) => match decoder.decode(&mut buf) {
                        Ok(step) => step,
                        Err(reject) => return Some(Err(ReadError::Framing(reject))),
                    },
                }
            };
            match step {
                Step::Data(data) => return Some(Ok(data)),
                Step::Done => return None,
                Step::NeedMore => {}
            }
            // Before waiting for the peer: anything held back (pipelined responses) goes out,
            // with `100 Continue` if the client waits for it.
            let written = if std::mem::take(&mut self.expect_continue) {
                transport.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await
            } else if transport.pending() > 0 {
                transport.flush().await
            } else {
                Ok(())
            };
            if let Err(err) = written {
                return Some(Err(err.into()));
            }
            if let Err(err) = self.read_more(transport).await {
                return Some(Err(err));
            }
        }
    }
}

impl Incoming {
    /// One read of more body bytes, within the stall timeout and the minimum rate.
    async fn read_more(&mut self, transport: &Transport) -> Result<(), ReadError> {
        let now = Instant::now();
        let stall = now + self.timeout;
        let paced = self.min_rate > 0 && !self.timeout.is_zero();
        let window_end = self.window.0 + self.timeout;
        let deadline = if paced { stall.min(window_end) } else { stall };
        match tokio::time::timeout_at(deadline, transport.read_more()).await {
            Ok(Ok(0)) => return Err(ReadError::Closed),
            Ok(Ok(n)) => self.window.1 = self.window.1.saturating_add(n as u64),
            Ok(Err(err)) => return Err(err.into()),
            Err(_) if Instant::now() >= stall => return Err(ReadError::Timeout),
            Err(_) => {}
        }
        let now = Instant::now();
        if paced && now >= window_end {
            // At least `min_rate` a second over the window that just ended.
            let wanted = (self.min_rate as f64 * self.timeout.as_secs_f64()) as u64;
            if self.window.1 < wanted {
                return Err(ReadError::TooSlow);
            }
            self.window = (now, 0);
        }
        Ok(())
    }
}
