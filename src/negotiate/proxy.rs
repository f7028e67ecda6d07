//! The PROXY protocol header ahead of a TLS handshake (a TCP balancer passing TLS through says
//! who the client is before the client's hello): read and parsed by `http::proxy_protocol`,
//! whatever arrived after it replayed to the handshake.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::http::proxy_protocol;
use crate::http::Io;

/// Reads the header within `timeout`: the stream (replaying what followed the header) and the
/// client it names; `None` if it is malformed, missing or late.
pub async fn read(
    mut io: Box<dyn Io>,
    timeout: Duration,
) -> Option<(Box<dyn Io>, Option<SocketAddr>)> {
    let mut buf = BytesMut::with_capacity(256);
    let read = async {
        loop {
            match proxy_protocol::parse(&buf) {
                Ok(Some((client, len))) => return Some((client, len)),
                Ok(None) => {}
                Err(proxy_protocol::Malformed) => return None,
            }
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    let (client, len) = tokio::time::timeout(timeout, read).await.ok().flatten()?;
    buf.advance(len);
    Some((Box::new(Rewind { prefix: buf, io }), client))
}

/// A stream whose first reads return `prefix`.
pub(super) struct Rewind {
    prefix: BytesMut,
    io: Box<dyn Io>,
}

impl Rewind {
    pub(super) fn new(prefix: BytesMut, io: Box<dyn Io>) -> Rewind {
        Rewind { prefix, io }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut *self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.io).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.io).poll_shutdown(cx)
    }
}

impl Io for Rewind {}
