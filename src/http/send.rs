//! The body of a response after its head (RFC 9112 §6, §7.1): a small body goes out in the
//! same write as the head; a stream is pulled one frame at a time, each only after the previous
//! one reached the socket (backpressure), chunked or counted against its Content-Length. On TCP
//! each piece but the last is written with MSG_MORE, so a stream of small pieces leaves in one
//! packet; the push watchdog (`push`) sends a piece on should the app be slow to yield the next,
//! and a stream's quick small pieces are pulled and framed in one call (`held`). A file
//! body (a static file, or a `wsgi.file_wrapper` over a real file) on a socket that supports it
//! has its large ranges sent with sendfile(2), the small pieces gathered around them. A body
//! that fails mid-way aborts the connection: no terminating chunk (or fewer bytes than
//! Content-Length), so the client cannot take it for complete.

use std::os::fd::RawFd;

use bytes::{BufMut, BytesMut};
use http_body::Body as _;

use super::body::{Body, BodyError};
use super::held::{self, chunk_head, Held};
use super::push;
use super::render::ResponseFraming;
use super::transport::Transport;

/// Bodies (and frames) up to this size are copied next to the head and written with it.
pub const COALESCE: usize = 16 * 1024;
/// How much of a file body's small pieces is gathered at most before it is written.
const GATHER: usize = 4 * COALESCE;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the response failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the response body failed: {0}")]
    Body(BodyError),
    #[error("the response body does not match its Content-Length")]
    Length,
}

/// Pulls `body` frame by frame, framed as `framing` (`Length`, `Chunked` or `Close`), writing
/// `out` (the head, at first) with the first frame. Leaves in `out` what is left to write.
pub async fn frames(
    transport: &Transport,
    body: &mut Body,
    out: &mut BytesMut,
    framing: ResponseFraming,
) -> Result<(), WriteError> {
    let mut left = match framing {
        ResponseFraming::Length(len) => Some(len),
        _ => None,
    };
    let corked = transport.corked_fd();
    // Set once a piece was framed: from then on, pulls run watched (see `push`).
    let mut held = None;
    loop {
        // Pulled in place (no future per piece): the body produces its pieces synchronously.
        let next = match held {
            None => body.next_piece(),
            Some(fd) => match push::arm(fd, std::mem::take(out)) {
                Ok(armed) => {
                    let next = body.next_piece();
                    *out = armed.disarm();
                    next
                }
                Err(kept) => {
                    *out = kept;
                    push_held(transport, out, fd).await?;
                    body.next_piece()
                }
            },
        };
        let data = match next {
            None => break,
            Some(Ok(data)) => data,
            Some(Err(err)) => {
                // Whatever went before goes out; the missing end tells the client.
                let _ = transport.write_all(out).await;
                return Err(WriteError::Body(err));
            }
        };
        if data.is_empty() {
            continue;
        }
        if let Some(left) = &mut left {
            let Some(rest) = left.checked_sub(data.len() as u64) else {
                let _ = transport.write_all(out).await;
                return Err(WriteError::Length);
            };
            *left = rest;
        }
        if matches!(framing, ResponseFraming::Chunked) {
            let mut head = [0u8; 20];
            out.put_slice(chunk_head(data.len(), &mut head));
        }
        if data.len() <= COALESCE {
            out.put_slice(&data);
        } else {
            transport.write_all(out).await?;
            out.clear();
            transport.write_all(&data).await?;
        }
        if matches!(framing, ResponseFraming::Chunked) {
            out.put_slice(b"\r\n");
        }
        if body.is_end_stream() {
            break;
        }
        // Pull the next frame only once this one is on its way (backpressure): queued on a TCP
        // socket for the next write to carry, or pushed should the pull take long.
        match corked {
            // Small and nothing else waiting: kept here, so the pieces of a quick stream leave
            // in the response's last write; the watchdog writes them should the pull be slow.
            Some(fd) if out.len() <= COALESCE && transport.pending() == 0 => {
                held = Some(fd);
                if !body.is_plain_stream() {
                    continue;
                }
                // What the stream has ready is pulled and framed here in one call, watched.
                let chunked = matches!(framing, ResponseFraming::Chunked);
                match held::pull(body, out, fd, COALESCE, chunked, &mut left) {
                    Held::Ended => break,
                    Held::Failed(err) => {
                        let _ = transport.write_all(out).await;
                        return Err(WriteError::Body(err));
                    }
                    Held::TooLong => {
                        let _ = transport.write_all(out).await;
                        return Err(WriteError::Length);
                    }
                    Held::Stopped if out.len() > COALESCE => {
                        transport.write_corked(out).await?;
                        out.clear();
                    }
                    Held::Stopped => {}
                }
                continue;
            }
            Some(fd) => {
                transport.write_corked(out).await?;
                held = Some(fd);
            }
            None => transport.write_all(out).await?,
        }
        out.clear();
    }
    if left.is_some_and(|l| l > 0) {
        let _ = transport.write_all(out).await;
        return Err(WriteError::Length);
    }
    if matches!(framing, ResponseFraming::Chunked) {
        out.put_slice(b"0\r\n\r\n");
    }
    Ok(())
}

/// What is held back for a pull the push watchdog cannot watch (see `push::arm`): `out`
/// written and what the socket `fd` queued with MSG_MORE pushed, before the pull.
async fn push_held(transport: &Transport, out: &mut BytesMut, fd: RawFd) -> std::io::Result<()> {
    if out.is_empty() {
        push::now(fd);
    } else {
        // Without MSG_MORE: what the socket queued goes out with it.
        transport.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

/// A file body of `left` bytes on a socket that takes sendfile(2). Bytes and file pieces up to
/// `COALESCE` gather in `out` (small pieces read with pread, so a head and a small body still go
/// out in one write); before a larger range of the file, `out` is written (sharing its packet
/// with the range's first bytes), then the range goes from the page cache to the socket without
/// passing through user space. What sendfile sends is counted as it goes, so a client that
/// leaves mid-file is logged with what it got. Should the file not take sendfile, the rest is
/// read and written instead. Leaves in `out` what is left to write.
pub async fn file_body(
    transport: &Transport,
    body: &mut Body,
    out: &mut BytesMut,
    mut left: u64,
) -> Result<(), WriteError> {
    let mut sendfile = true;
    loop {
        let range = if sendfile {
            body.next_file_range(COALESCE as u64)
        } else {
            None
        };
        if let Some((file, start, len)) = range {
            if len > left {
                return Err(WriteError::Length);
            }
            // The head and what else gathered go out with the file's first bytes.
            transport.defer(out);
            out.clear();
            let mut offset = start;
            let sent = transport.send_file(file, &mut offset, len).await;
            body.sent_from_file(offset - start);
            left -= offset - start;
            match sent {
                Ok(()) => continue,
                // A file system without sendfile support: read and write it instead.
                Err(err)
                    if offset == start
                        && matches!(
                            err.kind(),
                            std::io::ErrorKind::Unsupported | std::io::ErrorKind::InvalidInput
                        ) =>
                {
                    sendfile = false;
                    continue;
                }
                Err(err) => return Err(err.into()),
            }
        }
        let data = match body.next_piece() {
            None => break,
            Some(Ok(data)) => data,
            Some(Err(err)) => {
                let _ = transport.write_all(out).await;
                return Err(WriteError::Body(err));
            }
        };
        left = left
            .checked_sub(data.len() as u64)
            .ok_or(WriteError::Length)?;
        if data.len() > COALESCE {
            transport.write_all(out).await?;
            out.clear();
            transport.write_all(&data).await?;
            continue;
        }
        // Gathered, but not without bound: pieces are read only about as fast as they go out.
        if out.len() + data.len() > GATHER {
            transport.write_all(out).await?;
            out.clear();
        }
        out.put_slice(&data);
    }
    if left > 0 {
        let _ = transport.write_all(out).await;
        return Err(WriteError::Length);
    }
    Ok(())
}
