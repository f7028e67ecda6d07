//! One connection's socket and read buffer, shared by the connection loop and the request body
//! it hands to the service. Both run on the same task, one after the other, so the socket is
//! only ever borrowed inside a single poll — never across an await.
//!
//! Each write step that stalls is bounded by the write timeout; a step that completes at once
//! arms no timer.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// Any byte stream a connection can run on (TCP, Unix).
pub trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// How much is read per system call, at least.
const READ_CHUNK: usize = 8 * 1024;
/// How much is read per system call while a request body is being read.
const BODY_READ_CHUNK: usize = 64 * 1024;
/// What is read into the stack when the buffer is empty (most request heads fit).
const IDLE_READ: usize = 4 * 1024;

/// How far the current request's body has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyState {
    /// Read to its end (or there was none): the next request starts in the buffer.
    Complete,
    /// Not (completely) read: the connection cannot be reused.
    Unread,
    /// Malformed, stalled or cut off: the connection must close.
    Failed,
}

pub struct Transport {
    io: RefCell<Box<dyn Io>>,
    pub buf: RefCell<BytesMut>,
    /// Finished responses held back while more pipelined requests wait in `buf`, so that a
    /// burst of them goes out in one write; flushed before any wait for the peer.
    pending: RefCell<BytesMut>,
    body: Cell<BodyState>,
    write_timeout: Duration,
}

impl Transport {
    pub fn new(io: Box<dyn Io>, write_timeout: Duration) -> Transport {
        Transport {
            io: RefCell::new(io),
            buf: RefCell::new(BytesMut::new()),
            pending: RefCell::new(BytesMut::new()),
            body: Cell::new(BodyState::Complete),
            write_timeout,
        }
    }

    pub fn body_state(&self) -> BodyState {
        self.body.get()
    }

    pub fn set_body_state(&self, state: BodyState) {
        self.body.set(state);
    }

    pub fn buffered(&self) -> usize {
        self.buf.borrow().len()
    }

    /// Reads more bytes into the buffer; 0 means the peer closed its side.
    pub async fn read_more(&self) -> io::Result<usize> {
        poll_fn(|cx| {
            let mut io = self.io.borrow_mut();
            let mut buf = self.buf.borrow_mut();
            if buf.is_empty() {
                // An idle connection holds no buffer: it reads into the stack and keeps only what
                // arrived, so thousands of idle keep-alive connections cost little memory.
                if buf.capacity() > 0 {
                    *buf = BytesMut::new();
                }
                let mut stack = [0u8; IDLE_READ];
                let mut read_buf = tokio::io::ReadBuf::new(&mut stack);
                return match std::pin::Pin::new(&mut *io).poll_read(cx, &mut read_buf) {
                    std::task::Poll::Ready(Ok(())) => {
                        let n = read_buf.filled().len();
                        buf.extend_from_slice(read_buf.filled());
                        std::task::Poll::Ready(Ok(n))
                    }
                    std::task::Poll::Ready(Err(err)) => std::task::Poll::Ready(Err(err)),
                    std::task::Poll::Pending => std::task::Poll::Pending,
                };
            }
            // A head trickling in keeps a small buffer (slow clients cost little); a body is read
            // in large gulps.
            let chunk = match self.body.get() {
                BodyState::Unread => BODY_READ_CHUNK,
                _ => READ_CHUNK,
            };
            if buf.capacity() - buf.len() < chunk / 2 {
                buf.reserve(chunk);
            }
            let read = io.read_buf(&mut *buf);
            tokio::pin!(read);
            read.as_mut().poll(cx)
        })
        .await
    }

    pub fn pending(&self) -> usize {
        self.pending.borrow().len()
    }

    /// Holds `data` back until the next write or flush.
    pub fn defer(&self, data: &[u8]) {
        self.pending.borrow_mut().extend_from_slice(data);
    }

    /// Writes whatever was held back.
    pub async fn flush(&self) -> io::Result<()> {
        let held = std::mem::take(&mut *self.pending.borrow_mut());
        self.write_now(&held).await
    }

    /// Writes what was held back, then all of `data`.
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        if self.pending.borrow().is_empty() {
            return self.write_now(data).await;
        }
        let mut held = std::mem::take(&mut *self.pending.borrow_mut());
        held.extend_from_slice(data);
        self.write_now(&held).await
    }

    /// Writes all of `data`, failing with `TimedOut` when the peer stops reading for longer
    /// than the write timeout.
    async fn write_now(&self, data: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < data.len() {
            let n = self
                .stalled(|cx| {
                    let mut io = self.io.borrow_mut();
                    Pin::new(&mut **io).poll_write(cx, &data[written..])
                })
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            written += n;
        }
        Ok(())
    }

    /// Runs one write step: polled once as it is, and only if it has to wait, bounded by the
    /// write timeout (a timer armed for every write is a measurable cost).
    async fn stalled<T>(
        &self,
        mut step: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> io::Result<T> {
        let mut timer = std::pin::pin!(None::<tokio::time::Sleep>);
        poll_fn(|cx| {
            if let Poll::Ready(done) = step(cx) {
                return Poll::Ready(done);
            }
            if timer.is_none() {
                timer.set(Some(tokio::time::sleep(self.write_timeout)));
            }
            match timer.as_mut().as_pin_mut().map(|sleep| sleep.poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Ends our side of the connection (FIN), then reads and discards what the peer still
    /// sends for a moment, so that unread request bytes do not turn the close into a reset
    /// that would destroy the response in flight (RFC 9112 §9.6).
    pub async fn linger_close(&self) {
        if self.flush().await.is_err() {
            return;
        }
        let shutdown = poll_fn(|cx| {
            let mut io = self.io.borrow_mut();
            Pin::new(&mut **io).poll_shutdown(cx)
        });
        if tokio::time::timeout(self.write_timeout, shutdown)
            .await
            .is_err()
        {
            return;
        }
        let drain = async {
            let mut discarded = 0usize;
            while discarded < LINGER_BYTES {
                self.buf.borrow_mut().clear();
                match self.read_more().await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => discarded += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    }
}

const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

use std::future::Future as _;
