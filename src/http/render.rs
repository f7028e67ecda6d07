//! The head of a response (RFC 9112 §4, RFC 9110 §6.4.1): first how its body is framed —
//! Content-Length, chunked (HTTP/1.1), the connection's close (HTTP/1.0) or no body at all (HEAD,
//! 1xx, 204, 304) — and whether the connection persists, then the status line and title-case
//! fields, `Server` and `Date` added unless the service set them, and the framing's own fields.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{Response, StatusCode, Version};
use http_body::Body as _;

use super::body::Body;
use crate::text::decimal;

/// What the writer needs to know about the request it answers.
pub struct Answering {
    pub head: bool,
    pub version: Version,
    pub keep_alive: bool,
    pub server_header: bool,
    /// A kept-alive response's last bytes are held for the end of the event loop's turn (see
    /// `turn`).
    pub after_turn: bool,
}

/// The service's own reason phrase, when it differs from the status code's usual one; the head
/// puts it on the status line. Checked by whoever set it (latin-1, no control characters).
#[derive(Debug, Clone)]
pub struct ReasonPhrase(pub bytes::Bytes);

/// How a response's body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection does.
    Close,
}

/// What the head promises: the body's framing and whether the connection persists.
pub struct Plan {
    pub framing: ResponseFraming,
    pub keep_alive: bool,
    /// The body's length, from the service's Content-Length or the body itself.
    declared: Option<u64>,
    /// A status that never has content.
    bodiless: bool,
}

/// Decides the framing of `response`, answering `req`.
pub fn plan(response: &Response<Body>, req: &Answering) -> Plan {
    let status = response.status();
    let headers = response.headers();
    let body = response.body();
    let rendered = body.rendered();
    let mut keep_alive = req.keep_alive
        && !rendered.close
        && !headers
            .get_all(CONNECTION)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or(rendered.length)
        .or_else(|| body.size_hint().exact());
    // RFC 9110 §6.4.1: HEAD, 1xx, 204 and 304 responses have no content.
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = match declared {
        _ if bodiless || req.head => ResponseFraming::None,
        Some(len) => ResponseFraming::Length(len),
        None if req.version == Version::HTTP_11 => ResponseFraming::Chunked,
        None => {
            keep_alive = false;
            ResponseFraming::Close
        }
    };
    Plan {
        framing,
        keep_alive,
        declared,
        bodiless,
    }
}

/// Renders the head into `out`: status line, the service's fields (but those the framing
/// owns), the body's prerendered fields, `Date`, the framing's fields and `Connection`.
pub fn head(out: &mut BytesMut, response: &Response<Body>, req: &Answering, plan: &Plan) {
    let headers = response.headers();
    let body = response.body();
    let rendered = body.rendered();
    status_line(out, response);
    // Our `Server` field, unless disabled or the service sent its own.
    if req.server_header && !rendered.server && !headers.contains_key(SERVER) {
        out.put_slice(b"Server: pyrite\r\n");
    }
    for (name, value) in headers {
        if name == CONNECTION || name == TRANSFER_ENCODING || name == CONTENT_LENGTH {
            continue;
        }
        title_case(out, name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    for piece in body.fields() {
        out.put_slice(piece);
    }
    out.put_slice(body.rendered_lines());
    if !rendered.date && !headers.contains_key(DATE) {
        date_line(out);
    }
    match (plan.framing, plan.declared) {
        (ResponseFraming::Chunked, _) => out.put_slice(b"Transfer-Encoding: chunked\r\n"),
        (_, Some(len))
            if !plan.bodiless
                || rendered.length.is_some()
                || headers.contains_key(CONTENT_LENGTH) =>
        {
            content_length(out, len);
        }
        _ => {}
    }
    if !plan.keep_alive {
        out.put_slice(b"Connection: close\r\n");
    } else if req.version == Version::HTTP_10 {
        out.put_slice(b"Connection: keep-alive\r\n");
    }
    out.put_slice(b"\r\n");
}

fn status_line(out: &mut BytesMut, response: &Response<Body>) {
    let status = response.status();
    let reason = response.extensions().get::<ReasonPhrase>();
    if reason.is_none() && status == StatusCode::OK {
        out.put_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    match reason {
        Some(reason) => out.put_slice(&reason.0),
        None => out.put_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes()),
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

/// `Content-Length: N\r\n`, put in one piece.
fn content_length(out: &mut BytesMut, len: u64) {
    const NAME: &[u8] = b"Content-Length: ";
    let mut digits = [0u8; 20];
    let digits = decimal(len, &mut digits);
    let end = NAME.len() + digits.len();
    let mut line = [0u8; NAME.len() + 20 + 2];
    line[..NAME.len()].copy_from_slice(NAME);
    line[NAME.len()..end].copy_from_slice(digits);
    line[end..end + 2].copy_from_slice(b"\r\n");
    out.put_slice(&line[..end + 2]);
}

/// `Date: ` and the IMF-fixdate (RFC 9110 §5.6.7) of now, the line formatted once per second.
fn date_line(out: &mut BytesMut) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs || cache.1.is_empty() {
            *cache = (secs, format!("Date: {}\r\n", httpdate::fmt_http_date(now)));
        }
        out.put_slice(cache.1.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_cases() {
        let mut out = BytesMut::new();
        title_case(&mut out, b"x-forwarded-for");
        assert_eq!(&out[..], b"X-Forwarded-For");
    }

    fn planned(status: u16, version: Version, head: bool, body: Body) -> (ResponseFraming, bool) {
        let mut response = http::Response::new(body);
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        let req = Answering {
            head,
            version,
            keep_alive: true,
            server_header: true,
            after_turn: false,
        };
        let plan = plan(&response, &req);
        (plan.framing, plan.keep_alive)
    }

    #[test]
    fn framings() {
        let full = || Body::full("abc");
        assert_eq!(
            planned(200, Version::HTTP_11, false, full()),
            (ResponseFraming::Length(3), true)
        );
        assert_eq!(
            planned(200, Version::HTTP_11, true, full()),
            (ResponseFraming::None, true)
        );
        assert_eq!(
            planned(304, Version::HTTP_11, false, full()),
            (ResponseFraming::None, true)
        );
    }
}
