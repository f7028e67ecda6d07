//! Writes one response (RFC 9112 §4, §6), phase by phase: `render` plans the framing and
//! renders the head, `send` writes the body after it (frames, or a file's ranges with
//! sendfile(2)), and the last bytes are held back while a pipelined request waits, so a burst of
//! responses leaves in one write, or, after a slow app call, to the end of the event loop's turn
//! (see `turn`). A small response goes out in one write.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::BytesMut;
use http::Response;

use super::body::Body;
use super::render::{self, ResponseFraming};
use super::send::{self, COALESCE};
use super::transport::Transport;

pub use super::render::Answering;
pub use super::send::WriteError;

/// Writes `response`; returns whether the connection may carry another request. Its body is
/// finished (dropped, which writes the access-log line) before the last bytes go out; the rest
/// of it is the caller's to drop. Borrowed, not moved: a response is a few hundred bytes, and
/// this future would carry (and copy) them.
pub async fn response(
    transport: &Rc<Transport>,
    response: &mut Response<Body>,
    req: &Answering,
) -> Result<bool, WriteError> {
    let plan = render::plan(response, req);
    // Room for the head and, when it will be coalesced with it, a small body: one allocation.
    let inline_body = match plan.framing {
        ResponseFraming::Length(len) if len <= COALESCE as u64 => len as usize,
        _ => 0,
    };
    let mut out = Scratch::new(512 + inline_body);
    render::head(&mut out, response, req, &plan);
    let body = response.body_mut();
    if let Some(log) = body.log_mut() {
        // `{name}o` atoms read the head as it went out.
        if crate::access_log::format().is_some_and(|f| f.response_headers) {
            log.response_head = out.to_vec();
        }
    }
    match plan.framing {
        ResponseFraming::None => {}
        ResponseFraming::Length(len) if body.is_file() && transport.can_send_file() => {
            send::file_body(transport, body, &mut out, len).await?;
        }
        framing => send::frames(transport, body, &mut out, framing).await?,
    }
    body.finish();
    finish(transport, &out, plan.keep_alive, req.after_turn).await?;
    Ok(plan.keep_alive)
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
/// buffered (the next response joins them in one write), or to the end of the event loop's turn
/// when `after_turn` (see `turn`), written at once otherwise.
async fn finish(
    transport: &Rc<Transport>,
    out: &[u8],
    keep_alive: bool,
    after_turn: bool,
) -> std::io::Result<()> {
    if keep_alive && transport.buffered() > 0 && transport.pending() + out.len() <= COALESCE * 4 {
        transport.defer(out);
        return Ok(());
    }
    if out.is_empty() && transport.pending() == 0 {
        return Ok(());
    }
    if after_turn && keep_alive && transport.buffered() == 0 {
        // Written when the turn ends, or (what the socket did not take) with the next write.
        transport.defer(out);
        super::turn::hold(transport).await;
        return Ok(());
    }
    transport.write_all(out).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut stream = crate::http::file_body::FileBody::new(Some(file));
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
        let mut response = Response::builder()
            .header(http::header::CONTENT_LENGTH, len)
            .body(Body::file(stream))
            .unwrap();
        let answering = Answering {
            head: false,
            version: http::Version::HTTP_11,
            keep_alive: true,
            server_header: false,
            after_turn: false,
        };
        let transport = Rc::new(Transport::new(io, std::time::Duration::from_secs(10)));
        let write = async {
            let written = super::response(&transport, &mut response, &answering).await;
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
}
