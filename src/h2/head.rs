//! Heads in and out of an HTTP/2 stream. A request is held to the same limits as an HTTP/1.1
//! one (`--limit-request-line` for the path, `--limit-request-fields` and
//! `--limit-request-field-size` for the fields; past them 414 or 431 — the header list as a
//! whole is bounded by SETTINGS_MAX_HEADER_LIST_SIZE before it gets here) and gets a `Host`
//! from `:authority` (RFC 9113 §8.3.1) for the service. A response loses the fields that are
//! HTTP/1.1's own (RFC 9113 §8.2.2: `Connection`, `Keep-Alive`, `Transfer-Encoding`, …) and
//! gains `Server`, `Date` and `Content-Length` as on HTTP/1.1.

use http::header::{
    HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, DATE, HOST, SERVER, TRANSFER_ENCODING,
    UPGRADE,
};
use http::request::Parts;
use http::response::Parts as ResponseParts;
use http::{HeaderMap, Response, StatusCode};
use http_body::Body as _;

use crate::http::parse::Limits;
use crate::http::Body;

/// The status a request is refused with before the service sees it, if any.
pub fn refuse(parts: &Parts, limits: &Limits) -> Option<StatusCode> {
    let target = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if limits.request_line > 0 && target > limits.request_line {
        return Some(StatusCode::URI_TOO_LONG);
    }
    if parts.headers.len() > limits.fields {
        return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    // As an HTTP/1.1 field line: `name: value`.
    let too_long = |(name, value): (&HeaderName, &HeaderValue)| {
        name.as_str().len() + 2 + value.len() > limits.field_size
    };
    if limits.field_size > 0 && parts.headers.iter().any(too_long) {
        return Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    }
    None
}

/// Gives the request a `Host` field from `:authority` when it has none.
pub fn add_host(parts: &mut Parts) {
    if parts.headers.contains_key(HOST) {
        return;
    }
    if let Some(authority) = parts.uri.authority() {
        if let Ok(value) = HeaderValue::from_str(authority.as_str()) {
            parts.headers.insert(HOST, value);
        }
    }
}

/// The fields that only mean something on an HTTP/1.1 connection.
fn connection_specific(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// Whether a response with `status` never has content (RFC 9110 §6.4.1).
pub fn bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

/// The head to send for a response with `body`.
pub fn response(parts: &ResponseParts, body: &Body, server_header: bool) -> Response<()> {
    let mut headers = HeaderMap::with_capacity(parts.headers.len() + 4);
    if server_header && !parts.headers.contains_key(SERVER) {
        headers.insert(SERVER, HeaderValue::from_static("pyrite"));
    }
    for (name, value) in &parts.headers {
        if !connection_specific(name) {
            headers.append(name, value.clone());
        }
    }
    for piece in body.fields() {
        add_rendered(&mut headers, piece);
    }
    if !headers.contains_key(DATE) {
        headers.insert(DATE, date());
    }
    if !headers.contains_key(CONTENT_LENGTH) && !bodiless(parts.status) {
        if let Some(len) = body.size_hint().exact() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
    }
    let mut response = Response::new(());
    *response.status_mut() = parts.status;
    *response.headers_mut() = headers;
    response
}

/// The IMF-fixdate of now (RFC 9110 §5.6.7), formatted once per second.
fn date() -> HeaderValue {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, HeaderValue)> =
            const { std::cell::RefCell::new((0, HeaderValue::from_static(""))) };
    }
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs {
            let text = httpdate::fmt_http_date(now);
            if let Ok(value) = HeaderValue::from_str(&text) {
                *cache = (secs, value);
            }
        }
        cache.1.clone()
    })
}

/// Fields rendered ahead of time for HTTP/1.1 (`Name: value\r\n` each), back as fields.
fn add_rendered(headers: &mut HeaderMap, rendered: &[u8]) {
    for line in rendered.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            if !connection_specific(&name) {
                headers.append(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_fields_come_back_lower_case() {
        let mut headers = HeaderMap::new();
        add_rendered(
            &mut headers,
            b"ETag: \"abc\"\r\nContent-Type: text/plain\r\nConnection: close\r\n",
        );
        assert_eq!(headers["etag"], "\"abc\"");
        assert_eq!(headers["content-type"], "text/plain");
        assert!(!headers.contains_key("connection"));
    }

    #[test]
    fn responses_lose_connection_fields() {
        let mut response = Response::new(Body::full("hello"));
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        let (parts, body) = response.into_parts();
        let head = response_head(&parts, &body);
        assert!(!head.headers().contains_key(CONNECTION));
        assert_eq!(head.headers()[CONTENT_LENGTH], "5");
        assert_eq!(head.headers()[SERVER], "pyrite");
    }

    fn response_head(parts: &ResponseParts, body: &Body) -> Response<()> {
        response(parts, body, true)
    }

    #[test]
    fn limits() {
        let limits = Limits {
            request_line: 20,
            fields: 2,
            field_size: 30,
        };
        let parts = |uri: &str, fields: &[(&str, &str)]| {
            let mut req = http::Request::builder().uri(uri);
            for (name, value) in fields {
                req = req.header(*name, *value);
            }
            req.body(()).unwrap().into_parts().0
        };
        assert_eq!(refuse(&parts("/ok", &[("a", "b")]), &limits), None);
        assert_eq!(
            refuse(&parts("/a-path-longer-than-twenty", &[]), &limits),
            Some(StatusCode::URI_TOO_LONG)
        );
        assert_eq!(
            refuse(&parts("/", &[("a", "1"), ("b", "2"), ("c", "3")]), &limits),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(
            refuse(&parts("/", &[("a", &"x".repeat(40))]), &limits),
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
    }
}
