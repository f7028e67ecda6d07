//! One connection's socket and read buffer, shared by the connection loop and the request body
//! it hands to the service. Both run on the same task, one after the other, so the socket is
//! only ever borrowed inside a single poll — never across an await.
//!
//! Each write step that stalls is bounded by the write timeout; a step that completes at once
//! arms no timer. A socket the kernel can send a file to directly (TCP, Unix) also takes ranges
//! of a file with sendfile(2) (`send_file`), what was held back going out just before with
//! MSG_MORE so that a response head shares its packet with the file's first bytes. Any other
//! stream (a TLS one, say) answers that it cannot, and the response writer reads the file and
//! writes it instead; a stream that buffers what it writes (TLS again) is flushed after each
//! write.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest};
use tokio::net::{TcpStream, UnixStream};

use crate::sys;

/// Any byte stream a connection can run on (TCP, Unix).
pub trait Io: AsyncRead + AsyncWrite + Unpin {
    /// Whether [`Io::poll_sendfile`] and [`Io::poll_write_more`] work on this stream.
    fn supports_sendfile(&self) -> bool {
        false
    }

    /// Sends up to `len` bytes of `file` from `offset` (advanced by what was sent) once the
    /// stream can take some; `Ok(0)` means the file ends at `offset`. Only a plain socket can
    /// (a TLS stream, say, must encrypt what it sends): anything else is `Unsupported`.
    fn poll_sendfile(
        &self,
        _cx: &mut Context<'_>,
        _file: &File,
        _offset: &mut u64,
        _len: usize,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    /// Writes some of `data`, telling the socket that more follows at once (MSG_MORE), so that
    /// TCP holds a partial packet back for it: a response head then shares its packet with the
    /// first bytes of the file sent after it.
    fn poll_write_more(&self, _cx: &mut Context<'_>, _data: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    /// The TCP socket below, when writes with MSG_MORE queue bytes on it that
    /// [`crate::sys::push_pending`] can send at once (see `push`).
    fn corked_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    /// Whether ending the stream takes more than closing it (a TLS stream sends its
    /// close_notify first). A socket's close sends the FIN itself when nothing is left unread.
    fn close_needs_shutdown(&self) -> bool {
        true
    }

    /// Whether a write can leave bytes inside the stream until it is flushed (a TLS stream
    /// holding encrypted records the socket did not take yet): the writer then flushes after
    /// each write.
    fn buffers_writes(&self) -> bool {
        false
    }
}

/// TCP and Unix sockets send files with sendfile(2) and heads with MSG_MORE.
macro_rules! socket_io {
    ($socket:ty, corked) => {
        socket_io!($socket, {
            fn corked_fd(&self) -> Option<std::os::fd::RawFd> {
                Some(std::os::fd::AsRawFd::as_raw_fd(self))
            }
        });
    };
    ($socket:ty) => {
        socket_io!($socket, {});
    };
    ($socket:ty, { $($extra:item)* }) => {
        impl Io for $socket {
            $($extra)*

            fn supports_sendfile(&self) -> bool {
                true
            }

            fn close_needs_shutdown(&self) -> bool {
                false
            }

            fn poll_sendfile(
                &self,
                cx: &mut Context<'_>,
                file: &File,
                offset: &mut u64,
                len: usize,
            ) -> Poll<io::Result<usize>> {
                poll_send(self, cx, |fd| sys::sendfile(fd, file, offset, len))
            }

            fn poll_write_more(
                &self,
                cx: &mut Context<'_>,
                data: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_send(self, cx, |fd| sys::send_more(fd, data))
            }
        }

        impl Socket for $socket {
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$socket>::poll_write_ready(self, cx)
            }

            fn try_write(&self, send: &mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize> {
                self.try_io(Interest::WRITABLE, send)
            }
        }
    };
}

socket_io!(TcpStream, corked);
socket_io!(UnixStream);

/// What `poll_send` needs of a tokio socket.
trait Socket: AsFd {
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_write(&self, send: &mut dyn FnMut() -> io::Result<usize>) -> io::Result<usize>;
}

/// Runs a send system call on `socket` once it is writable, waiting again whenever it would
/// block (try_io then clears the readiness, so the next poll waits for the socket).
fn poll_send<S: Socket>(
    socket: &S,
    cx: &mut Context<'_>,
    mut send: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(socket.poll_write_ready(cx))?;
        match socket.try_write(&mut || send(socket.as_fd())) {
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            done => return Poll::Ready(done),
        }
    }
}

/// How much is read per system call, at least.
const READ_CHUNK: usize = 8 * 1024;
/// How much is read per system call while a request body is being read (and the most of a
/// body with a Content-Length that is gathered in the buffer before it is handed on).
pub const BODY_READ_CHUNK: usize = 64 * 1024;
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
    /// See [`Io::buffers_writes`]; asked once.
    flush_writes: bool,
}

impl Transport {
    pub fn new(io: Box<dyn Io>, write_timeout: Duration) -> Transport {
        let flush_writes = io.buffers_writes();
        Transport {
            flush_writes,
            io: RefCell::new(io),
            buf: RefCell::new(BytesMut::new()),
            pending: RefCell::new(BytesMut::new()),
            body: Cell::new(BodyState::Complete),
            write_timeout,
        }
    }

    /// The stream and what was read from it (nothing written yet): for another driver, when
    /// a connection's first bytes were not HTTP/1.1.
    pub fn into_parts(self) -> (Box<dyn Io>, BytesMut) {
        (self.io.into_inner(), self.buf.into_inner())
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
        let read = poll_fn(|cx| {
            let mut io = self.io.borrow_mut();
            let mut buf = self.buf.borrow_mut();
            if buf.is_empty() {
                // An idle connection holds no buffer: it reads into the stack and keeps only what
                // arrived, so thousands of idle keep-alive connections cost little memory.
                if buf.capacity() > 0 {
                    *buf = BytesMut::new();
                }
                // Left uninitialised: zeroing 4 KiB on every read would cost more than the
                // rest of a small request's handling.
                let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); IDLE_READ];
                let mut read_buf = tokio::io::ReadBuf::uninit(&mut stack);
                return match std::pin::Pin::new(&mut *io).poll_read(cx, &mut read_buf) {
                    std::task::Poll::Ready(Ok(())) => {
                        let n = read_buf.filled().len();
                        // Into a spare buffer of the thread's pool: the head takes it whole
                        // and gives it back when the request is done.
                        if n > 0 {
                            *buf = super::fields::spare_buffer();
                        }
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
        .await;
        if let Ok(n) = read {
            crate::metrics::received(n);
        }
        read
    }

    pub fn pending(&self) -> usize {
        self.pending.borrow().len()
    }

    /// Holds `data` back until the next write or flush.
    pub fn defer(&self, data: &[u8]) {
        self.pending.borrow_mut().extend_from_slice(data);
    }

    /// The TCP socket and the bytes held back on it, for writing them with others at once
    /// (`turn`); `None` when nothing is held or the stream is not a plain socket.
    pub fn held_on_socket(&self) -> Option<(std::os::fd::RawFd, std::cell::RefMut<'_, BytesMut>)> {
        let fd = self.io.borrow().corked_fd()?;
        let held = self.pending.borrow_mut();
        (!held.is_empty()).then_some((fd, held))
    }

    /// Writes what is held back as far as the socket takes it now, without waiting; `waker`
    /// is woken when it takes more. What it does not take stays held for the next write or
    /// flush (which also meets the error, if writing failed).
    pub fn send_held(&self, waker: &Waker) {
        let mut held = self.pending.borrow_mut();
        let mut io = self.io.borrow_mut();
        let mut cx = Context::from_waker(waker);
        while !held.is_empty() {
            match Pin::new(&mut **io).poll_write(&mut cx, &held) {
                Poll::Ready(Ok(n)) if n > 0 => held.advance(n),
                _ => return,
            }
        }
    }

    /// See [`Io::buffers_writes`].
    pub fn buffers_writes(&self) -> bool {
        self.flush_writes
    }

    /// Writes whatever was held back.
    pub async fn flush(&self) -> io::Result<()> {
        let held = std::mem::take(&mut *self.pending.borrow_mut());
        self.write_now(&held, false).await
    }

    /// Writes what was held back, then all of `data`.
    pub async fn write_all(&self, data: &[u8]) -> io::Result<()> {
        if self.pending.borrow().is_empty() {
            return self.write_now(data, false).await;
        }
        let mut held = std::mem::take(&mut *self.pending.borrow_mut());
        held.extend_from_slice(data);
        self.write_now(&held, false).await
    }

    /// Writes what was held back and `data` with MSG_MORE: TCP queues a partial packet until
    /// a write without it (or a push) sends all. Only where [`Transport::corked_fd`] answers.
    pub async fn write_corked(&self, data: &[u8]) -> io::Result<()> {
        let mut held = std::mem::take(&mut *self.pending.borrow_mut());
        held.extend_from_slice(data);
        self.write_now(&held, true).await
    }

    /// See [`Io::corked_fd`].
    pub fn corked_fd(&self) -> Option<std::os::fd::RawFd> {
        self.io.borrow().corked_fd()
    }

    /// Writes all of `data` (with `more`: followed at once by a file, see
    /// [`Io::poll_write_more`]), failing with `TimedOut` when the peer stops reading for longer
    /// than the write timeout.
    async fn write_now(&self, data: &[u8], more: bool) -> io::Result<()> {
        let mut written = 0;
        while written < data.len() {
            let n = self
                .stalled(|cx| {
                    let rest = &data[written..];
                    if more {
                        return self.io.borrow().poll_write_more(cx, rest);
                    }
                    let mut io = self.io.borrow_mut();
                    Pin::new(&mut **io).poll_write(cx, rest)
                })
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            written += n;
        }
        if self.flush_writes {
            self.stalled(|cx| {
                let mut io = self.io.borrow_mut();
                Pin::new(&mut **io).poll_flush(cx)
            })
            .await?;
        }
        Ok(())
    }

    /// Whether `send_file` can be used on this connection.
    pub fn can_send_file(&self) -> bool {
        self.io.borrow().supports_sendfile()
    }

    /// Writes what was held back (in the same packet as the file's first bytes), then `len`
    /// bytes of `file` from `offset` with sendfile(2); `offset` tells how far it got, also on
    /// failure. Fails with `TimedOut` like `write_all`, and with `UnexpectedEof` when the file
    /// ends before (it shrank while being sent: the connection must be aborted).
    pub async fn send_file(&self, file: &File, offset: &mut u64, len: u64) -> io::Result<()> {
        let held = std::mem::take(&mut *self.pending.borrow_mut());
        self.write_now(&held, true).await?;
        let end = *offset + len;
        while *offset < end {
            let want = usize::try_from(end - *offset).unwrap_or(usize::MAX);
            let n = self
                .stalled(|cx| self.io.borrow().poll_sendfile(cx, file, offset, want))
                .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
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

    /// Sends what is held back, then ends our side of the connection (FIN; on TLS, its
    /// close_notify first). True once done.
    pub async fn end(&self) -> bool {
        if self.flush().await.is_err() {
            return false;
        }
        let shutdown = poll_fn(|cx| {
            let mut io = self.io.borrow_mut();
            Pin::new(&mut **io).poll_shutdown(cx)
        });
        matches!(
            tokio::time::timeout(self.write_timeout, shutdown).await,
            Ok(Ok(()))
        )
    }

    /// Sends what is held back, for a close after which nothing can come from the peer (its
    /// receive queue is empty): the stream is ended first only if closing it is not enough
    /// ([`Io::close_needs_shutdown`]).
    pub async fn close_now(&self) {
        let shutdown = self.io.borrow().close_needs_shutdown();
        if shutdown {
            self.end().await;
        } else {
            let _ = self.flush().await;
        }
    }

    /// Ends our side of the connection (FIN), then reads and discards what the peer still
    /// sends for a moment, so that unread request bytes do not turn the close into a reset
    /// that would destroy the response in flight (RFC 9112 §9.6).
    pub async fn linger_close(&self) {
        if !self.end().await {
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

#[cfg(test)]
mod tests;
