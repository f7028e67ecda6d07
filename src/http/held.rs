//! A streamed body's quick pieces, pulled in one call while they can be held back: the writer
//! frames each into its buffer as the body hands it over (no allocation, no call into the body
//! per piece), and every pull runs with the push watchdog (`push`) armed over all that is held
//! so far — exactly as when the pieces are pulled one call each, so a block yielded before a
//! slow `next()` still goes out while that `next()` runs.

use std::os::fd::RawFd;

use bytes::{BufMut, BytesMut};

use super::body::{Body, BodyError};
use super::push::{self, Armed};

/// How a run of held pulls ended.
pub(super) enum Held {
    /// The body ended; its last pieces are framed in `out`.
    Ended,
    /// The body failed (the connection is to be aborted).
    Failed(BodyError),
    /// A piece went past the Content-Length.
    TooLong,
    /// Pulling goes on the usual way: `out` is large, or the next piece is not a small one,
    /// or the watchdog could not be armed.
    Stopped,
}

/// Pulls `body`'s ready pieces (each of at most `limit` bytes) while `out` stays within
/// `limit`, each pull watched over the socket `fd` (whose queue the writer left empty), each
/// piece framed into `out` (`chunked`, else counted against `left`).
pub(super) fn pull(
    body: &mut Body,
    out: &mut BytesMut,
    fd: RawFd,
    limit: usize,
    chunked: bool,
    left: &mut Option<u64>,
) -> Held {
    let mut armed: Option<Armed> = match push::arm(fd, std::mem::take(out)) {
        Ok(armed) => Some(armed),
        Err(kept) => {
            *out = kept;
            return Held::Stopped;
        }
    };
    let mut too_long = false;
    let result = body.pull_while(limit, &mut |piece: &[u8]| {
        let Some(now) = armed.take() else {
            return false;
        };
        if let Some(left) = left {
            let Some(rest) = left.checked_sub(piece.len() as u64) else {
                too_long = true;
                *out = now.disarm();
                return false;
            };
            *left = rest;
        }
        // Framed straight into what the watchdog holds, and watched again for the next pull.
        let framed = now.rearm(|held| {
            if chunked {
                let mut head = [0u8; 20];
                held.put_slice(chunk_head(piece.len(), &mut head));
                held.put_slice(piece);
                held.put_slice(b"\r\n");
            } else {
                held.put_slice(piece);
            }
            held.len() <= limit
        });
        match framed {
            Ok(again) => {
                armed = Some(again);
                true
            }
            Err(kept) => {
                *out = kept;
                false
            }
        }
    });
    if let Some(armed) = armed {
        *out = armed.disarm();
    }
    match result {
        _ if too_long => Held::TooLong,
        None => Held::Ended,
        Some(Err(err)) => Held::Failed(err),
        Some(Ok(())) => Held::Stopped,
    }
}

/// The line ahead of a chunk of `n` bytes (RFC 9112 §7.1): its size in hex, then CRLF.
pub(super) fn chunk_head(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len() - 2;
    buf[i..].copy_from_slice(b"\r\n");
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_head(0, &mut [0; 20]), b"0\r\n");
        assert_eq!(chunk_head(255, &mut [0; 20]), b"ff\r\n");
        assert_eq!(
            chunk_head(usize::MAX, &mut [0; 20]),
            b"ffffffffffffffff\r\n"
        );
    }
}
