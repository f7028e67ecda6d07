//! A request body arriving as an HTTP/2 stream's DATA frames, handed to the service as an
//! `http::BodySource`: each piece taken releases its bytes back to the client's flow-control
//! window (RFC 9113 §5.2), so a body is read about as fast as the service reads it, and never
//! more than the window ahead.

use std::task::{Context, Poll};

use bytes::Bytes;
use h2::RecvStream;

use crate::http::incoming::ReadError;
use crate::http::BodySource;

pub struct Recv {
    pub stream: RecvStream,
    /// `content-length`, if the client sent one (the `h2` crate checks the DATA against it).
    pub declared: Option<u64>,
}

impl BodySource for Recv {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ReadError>>> {
        match self.stream.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                let _ = self.stream.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(data)))
            }
            Poll::Ready(Some(Err(err))) => {
                tracing::debug!(error = %err, "request body stream failed");
                Poll::Ready(Some(Err(ReadError::Closed)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn declared_length(&self) -> Option<u64> {
        self.declared
    }
}
