//! Writes one response (RFC 9112 §4, §6): status line, title-case fields with `Date`, then the
//! body framed by Content-Length, chunked (HTTP/1.1) or the connection's close (HTTP/1.0). A
//! small response goes out in one write; a stream is pulled one frame at a time, each only
//! after the previous one reached the socket (backpressure). A file body (a static file, or a
//! `wsgi.file_wrapper` over a real file) on a socket that supports it has its large ranges sent
//! with sendfile(2), the small pieces gathered around them as before. A body that fails mid-way
//! aborts the connection: no terminating chunk (or fewer bytes than Content-Length), so the
//! client cannot take it for complete.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;

use super::body::Body;
use super::transport::Transport;
use crate::text::decimal;

/// Bodies (and frames) up to this size are copied next to the head and written with it.
const COALESCE: usize = 16 * 1024;
/// How much of a file body's small pieces is gathered at most before it is written.
const GATHER: usize = 4 * COALESCE;

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
    let mut out = Scratch::new(512 + inline_body);
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
    if let Framing::Length(len) = framing {
        if body.is_file() && transport.can_send_file() {
            send_file_body(transport, &mut body, &mut out, len).await?;
            drop(body);
            finish(transport, &out, keep_alive).await?;
            return Ok(keep_alive);
        }
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

/// A file body of `left` bytes on a socket that takes sendfile(2). Bytes and file pieces up to
/// `COALESCE` gather in `out` (small pieces read with pread, so a head and a small body still go
/// out in one write); before a larger range of the file, `out` is written (sharing its packet
/// with the range's first bytes), then the range goes from the page cache to the socket without
/// passing through user space. What sendfile sends is counted as it goes, so a client that
/// leaves mid-file is logged with what it got. Should the file not take sendfile, the rest is
/// read and written instead. Leaves in `out` what is left to write.
async fn send_file_body(
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
        let data = match body.frame().await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
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

/// A response buffer taken from the worker's spares and given back when dropped: allocating
/// one per response (a head and a small body are past the allocator's small-size caches) costs
/// more than the rest of writing them.
struct Scratch(BytesMut);

/// Spares kept per worker, and the largest kept.
const SPARES: usize = 16;
const SPARE_CAPACITY: usize = 4 * COALESCE;

thread_local! {
    static SPARE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

impl Scratch {
    fn new(capacity: usize) -> Scratch {
        let mut buf = SPARE
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_default();
        buf.reserve(capacity);
        Scratch(buf)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if buf.capacity() <= SPARE_CAPACITY {
            buf.clear();
            SPARE.with(|spare| {
                let mut spare = spare.borrow_mut();
                if spare.len() < SPARES {
                    spare.push(buf);
                }
            });
        }
    }
}

impl std::ops::Deref for Scratch {
    type Target = BytesMut;
    fn deref(&self) -> &BytesMut {
        &self.0
    }
}

impl std::ops::DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut BytesMut {
        &mut self.0
    }
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
        assert_eq!(hex_len(0, &mut [0; 16]), b"0");
        assert_eq!(hex_len(255, &mut [0; 16]), b"ff");
    }

    /// A multipart-like file body (bytes, a large and a small range of the file) written to
    /// `io`, and what the peer received.
    async fn file_response(
        io: Box<dyn crate::http::transport::Io>,
        peer: impl tokio::io::AsyncRead + Unpin,
        declared_extra: u64,
    ) -> (Result<bool, WriteError>, Vec<u8>, Vec<u8>) {
        use std::io::Write;
        use tokio::io::AsyncReadExt;

        let content: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&content).unwrap();
        let mut stream = crate::http::FileBody::new(Some(file));
        stream.push_bytes(bytes::Bytes::from_static(b"--part\r\n"));
        stream.push_file(5, 200_000);
        stream.push_bytes(bytes::Bytes::from_static(b"\r\n--part\r\n"));
        stream.push_file(300_001, 100);
        stream.push_bytes(bytes::Bytes::from_static(b"\r\n--part--\r\n"));
        let mut expected = b"--part\r\n".to_vec();
        expected.extend_from_slice(&content[5..200_005]);
        expected.extend_from_slice(b"\r\n--part\r\n");
        expected.extend_from_slice(&content[300_001..300_101]);
        expected.extend_from_slice(b"\r\n--part--\r\n");
        let len = stream.remaining() + declared_extra;
        let response = Response::builder()
            .header(CONTENT_LENGTH, len)
            .body(Body::file(stream))
            .unwrap();
        let answering = Answering {
            head: false,
            version: Version::HTTP_11,
            keep_alive: true,
            server_header: false,
        };
        let transport = Transport::new(io, std::time::Duration::from_secs(10));
        let write = async {
            let written = super::response(&transport, response, &answering).await;
            drop(transport);
            written
        };
        let mut peer = peer;
        let mut got = Vec::new();
        let (written, read) = tokio::join!(write, peer.read_to_end(&mut got));
        read.unwrap();
        let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (written, got.split_off(end), expected)
    }

    #[tokio::test]
    async fn file_bodies_are_the_same_with_and_without_sendfile() {
        let (ours, peer) = tokio::net::UnixStream::pair().unwrap();
        let (written, body, expected) = file_response(Box::new(ours), peer, 0).await;
        assert!(written.unwrap());
        assert!(body == expected);
        let (ours, peer) = tokio::io::duplex(4096);
        let (written, body, expected) = file_response(Box::new(ours), peer, 0).await;
        assert!(written.unwrap());
        assert!(body == expected);
    }

    #[tokio::test]
    async fn a_file_body_shorter_than_declared_aborts() {
        let (ours, peer) = tokio::net::UnixStream::pair().unwrap();
        let (written, body, expected) = file_response(Box::new(ours), peer, 1).await;
        assert!(matches!(written, Err(WriteError::Length)), "{written:?}");
        assert!(body == expected, "all it had went out");
    }

    #[test]
    fn title_cases() {
        let mut out = BytesMut::new();
        title_case(&mut out, b"x-forwarded-for");
        assert_eq!(&out[..], b"X-Forwarded-For");
    }
}
