//! Writes one response (RFC 9112 §4, §6): status line, title-case fields with `Date`, then the
//! body framed by Content-Length, chunked (HTTP/1.1) or the connection's close (HTTP/1.0). A
//! small response goes out in one write; a stream is pulled one frame at a time, each only
//! after the previous one reached the socket (backpressure). A body that fails mid-way aborts
//! the connection: no terminating chunk, so the client cannot take it for complete.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;

use super::body::Body;
use super::transport::Transport;

/// Bodies (and frames) up to this size are copied next to the head and written with it.
const COALESCE: usize = 16 * 1024;

/// What the writer needs to know about the request it answers.
pub struct Answering {
    pub head: bool,
    pub version: Version,
    pub keep_alive: bool,
    pub server_header: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("writing the response failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the response body failed: {0}")]
    Body(super::BodyError),
    #[error("the response body does not match its Content-Length")]
    Length,
}

enum Framing {
    None,
    Length(u64),
    Chunked,
    Close,
}

/// Writes `response`; returns whether the connection may carry another request.
pub async fn response(
    transport: &Transport,
    response: Response<Body>,
    req: &Answering,
) -> Result<bool, WriteError> {
    let (parts, mut body) = response.into_parts();
    let status = parts.status;
    let headers = &parts.headers;
    let mut keep_alive = req.keep_alive
        && !headers
            .get_all(CONNECTION)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    // RFC 9110 §6.4.1: HEAD, 1xx, 204 and 304 responses have no content.
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = match declared {
        _ if bodiless || req.head => Framing::None,
        Some(len) => Framing::Length(len),
        None if req.version == Version::HTTP_11 => Framing::Chunked,
        None => {
            keep_alive = false;
            Framing::Close
        }
    };

    // Room for the head and, when it will be coalesced with it, a small body: one allocation.
    let inline_body = match framing {
        Framing::Length(len) if len <= COALESCE as u64 => len as usize,
        _ => 0,
    };
    let mut out = BytesMut::with_capacity(512 + inline_body);
    status_line(&mut out, &parts);
    // Our `Server` field, unless disabled or the app sent its own.
    if req.server_header && !headers.contains_key(SERVER) {
        out.put_slice(b"Server: pyrite\r\n");
    }
    for (name, value) in headers {
        if name == CONNECTION || name == TRANSFER_ENCODING || name == CONTENT_LENGTH {
            continue;
        }
        title_case(&mut out, name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    for piece in body.fields() {
        out.put_slice(piece);
    }
    if !headers.contains_key(DATE) {
        out.put_slice(b"Date: ");
        date(&mut out);
        out.put_slice(b"\r\n");
    }
    match (&framing, declared) {
        (Framing::Chunked, _) => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        (_, Some(len)) if !bodiless || headers.contains_key(CONTENT_LENGTH) => {
            out.put_slice(b"Content-Length: ");
            out.put_slice(decimal(len, &mut [0u8; 20]));
            out.put_slice(b"\r\n");
        }
        _ => {}
    }
    if !keep_alive {
        out.put_slice(b"Connection: close\r\n");
    } else if req.version == Version::HTTP_10 {
        out.put_slice(b"Connection: keep-alive\r\n");
    }
    out.put_slice(b"\r\n");

    if matches!(framing, Framing::None) {
        drop(body);
        finish(transport, &out, keep_alive).await?;
        return Ok(keep_alive);
    }
    let mut left = match framing {
        Framing::Length(len) => Some(len),
        _ => None,
    };
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(err)) => {
                // Whatever went before goes out; the missing end tells the client.
                let _ = transport.write_all(&out).await;
                return Err(WriteError::Body(err));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if let Some(left) = &mut left {
            *left = left
                .checked_sub(data.len() as u64)
                .ok_or(WriteError::Length)?;
        }
        if matches!(framing, Framing::Chunked) {
            let mut hex = [0u8; 16];
            out.put_slice(hex_len(data.len(), &mut hex));
            out.put_slice(b"\r\n");
        }
        if data.len() <= COALESCE {
            out.put_slice(&data);
        } else {
            transport.write_all(&out).await?;
            out.clear();
            transport.write_all(&data).await?;
        }
        if matches!(framing, Framing::Chunked) {
            out.put_slice(b"\r\n");
        }
        if body.is_end_stream() {
            break;
        }
        // Pull the next frame only once this one is on its way (backpressure).
        transport.write_all(&out).await?;
        out.clear();
    }
    if left.is_some_and(|l| l > 0) {
        let _ = transport.write_all(&out).await;
        return Err(WriteError::Length);
    }
    if matches!(framing, Framing::Chunked) {
        out.put_slice(b"0\r\n\r\n");
    }
    drop(body);
    finish(transport, &out, keep_alive).await?;
    Ok(keep_alive)
}

/// The last bytes of a response: held back while another pipelined request is already
/// buffered (the next response joins them in one write), written at once otherwise.
async fn finish(transport: &Transport, out: &[u8], keep_alive: bool) -> std::io::Result<()> {
    if keep_alive && transport.buffered() > 0 && transport.pending() + out.len() <= COALESCE * 4 {
        transport.defer(out);
        return Ok(());
    }
    if out.is_empty() && transport.pending() == 0 {
        return Ok(());
    }
    transport.write_all(out).await
}

fn status_line(out: &mut BytesMut, parts: &http::response::Parts) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(parts.status.as_str().as_bytes());
    out.put_u8(b' ');
    match parts.extensions.get::<super::ReasonPhrase>() {
        Some(reason) => out.put_slice(&reason.0),
        None => out.put_slice(
            parts
                .status
                .canonical_reason()
                .unwrap_or("Unknown")
                .as_bytes(),
        ),
    }
    out.put_slice(b"\r\n");
}

/// `content-type` → `Content-Type` (field names are case-insensitive, RFC 9110 §5.1; this is
/// the form most clients and tools print).
fn title_case(out: &mut BytesMut, name: &[u8]) {
    let mut upper = true;
    for &b in name {
        out.put_u8(if upper { b.to_ascii_uppercase() } else { b });
        upper = b == b'-';
    }
}

/// `n` in decimal ASCII, written into the end of `buf`.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// The IMF-fixdate (RFC 9110 §5.6.7) of now, formatted once per second.
fn date(out: &mut BytesMut) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs || cache.1.is_empty() {
            *cache = (secs, httpdate::fmt_http_date(now));
        }
        out.put_slice(cache.1.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), b"18446744073709551615");
        assert_eq!(hex_len(0, &mut [0; 16]), b"0");
        assert_eq!(hex_len(255, &mut [0; 16]), b"ff");
    }

    #[test]
    fn title_cases() {
        let mut out = BytesMut::new();
        title_case(&mut out, b"x-forwarded-for");
        assert_eq!(&out[..], b"X-Forwarded-For");
    }
}
