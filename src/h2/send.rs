//! A response body over an HTTP/2 stream, with backpressure: the next piece is pulled from the
//! body (a file block, the WSGI iterable's next item) only once the stream has window and
//! send-buffer room again, and after each piece the connection gets to write it before the
//! next is pulled — so a piece an app yields reaches the client before the app is asked for
//! more, as on HTTP/1.1. A client that grants no window for longer than the write timeout (a
//! zero-window stall) has the stream reset; a body that fails mid-way resets it too, so the
//! client cannot take a truncated body for complete.

use std::future::poll_fn;
use std::time::Duration;

use bytes::Bytes;
use h2::{Reason, SendStream};
use http_body::Body as _;
use http_body_util::BodyExt;

use crate::http::Body;

/// Why a body did not go out whole.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the client granted no window for the write timeout")]
    Stalled,
    #[error("the client reset the stream: {0:?}")]
    Reset(Reason),
    #[error("the stream was reset or the connection closed: {0}")]
    Stream(#[from] h2::Error),
    #[error("the response body failed: {0}")]
    Body(crate::http::BodyError),
}

/// Sends `body` on `stream`, ending the stream after it.
pub async fn body(
    stream: &mut SendStream<Bytes>,
    body: &mut Body,
    write_timeout: Duration,
) -> Result<(), SendError> {
    loop {
        room(stream, write_timeout).await?;
        let data = match body.frame().await {
            None => {
                stream.send_data(Bytes::new(), true)?;
                return Ok(());
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(err)) => {
                stream.send_reset(Reason::INTERNAL_ERROR);
                return Err(SendError::Body(err));
            }
        };
        let last = body.is_end_stream();
        if data.is_empty() && !last {
            continue;
        }
        stream.send_data(data, last)?;
        // The connection's task writes it before the body is asked for more (which may
        // block this thread in the app).
        tokio::task::yield_now().await;
        if last {
            return Ok(());
        }
    }
}

/// Waits until the stream may take more: some window and send-buffer room, or an error (the
/// client reset the stream), for at most `timeout`.
async fn room(stream: &mut SendStream<Bytes>, timeout: Duration) -> Result<(), SendError> {
    stream.reserve_capacity(1);
    if stream.capacity() > 0 {
        return Ok(());
    }
    let wait = poll_fn(|cx| loop {
        if let std::task::Poll::Ready(reason) = stream.poll_reset(cx) {
            return std::task::Poll::Ready(Err(SendError::Reset(reason?)));
        }
        match std::task::ready!(stream.poll_capacity(cx)) {
            Some(Ok(0)) => {}
            Some(Ok(_)) => return std::task::Poll::Ready(Ok(())),
            Some(Err(err)) => return std::task::Poll::Ready(Err(err.into())),
            None => {
                return std::task::Poll::Ready(Err(SendError::Stream(h2::Error::from(
                    Reason::STREAM_CLOSED,
                ))))
            }
        }
    });
    match tokio::time::timeout(timeout, wait).await {
        Ok(done) => done,
        Err(_) => {
            stream.send_reset(Reason::CANCEL);
            Err(SendError::Stalled)
        }
    }
}
