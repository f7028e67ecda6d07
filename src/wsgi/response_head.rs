//! Builds the response head from the app's status and headers (PEP 3333 "The start_response()
//! Callable", "Other HTTP Features"), and what it says about the body's length. (The opposite
//! of `http::parse`, which reads a request head off the wire.)
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1: `Connection`, `Keep-Alive`, `Proxy-Connection`,
//! `Transfer-Encoding`, `TE`, `Trailer`, `Upgrade`) are the server's business: PEP 3333 forbids
//! apps to set them and lets the server treat them as an error. pyrite drops them (logged at
//! debug) so an app written for a lenient server still works, and honours `Connection: close`
//! by closing the connection after the response.

use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH};
use http::{Response, StatusCode};

use super::start_response::{latin1_bytes, Status};
use crate::http::Body;

const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
];

/// What the app's head says about its body's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// 204 or 304: no body whatever the app yields (RFC 9110 §15.3.5, §15.4.5).
    NoBody,
    /// The app gave a Content-Length.
    Declared(u64),
    Open,
}

pub fn build(
    status: Status,
    headers: Vec<(String, String)>,
) -> Result<(Response<Body>, BodyLength), String> {
    let code = StatusCode::from_u16(status.code).map_err(|e| e.to_string())?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    if code.canonical_reason() != Some(status.reason.as_str()) {
        let reason = crate::http::ReasonPhrase(latin1_bytes(&status.reason).into());
        response.extensions_mut().insert(reason);
    }
    let map = response.headers_mut();
    map.reserve(headers.len() + 2);
    let mut declared: Option<u64> = None;
    let mut close = false;
    for (name, value) in &headers {
        // HeaderName::from_bytes lower-cases, and is allocation-free for the standard names.
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name:?}: {e}"))?;
        if HOP_BY_HOP.contains(&header.as_str()) {
            if header == CONNECTION
                && value
                    .to_ascii_lowercase()
                    .split(',')
                    .any(|t| t.trim() == "close")
            {
                close = true;
            }
            tracing::debug!(header = %name, "dropped a hop-by-hop header set by the app");
            continue;
        }
        if header == CONTENT_LENGTH {
            let len = value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("the app's Content-Length {value:?} is not a number"))?;
            if declared.is_some_and(|d| d != len) {
                return Err(format!(
                    "the app gave two different Content-Length: {headers:?}"
                ));
            }
            if declared.is_some() {
                continue;
            }
            declared = Some(len);
            map.insert(CONTENT_LENGTH, HeaderValue::from(len));
            continue;
        }
        let value = if value.is_ascii() {
            HeaderValue::from_str(value)
        } else {
            HeaderValue::from_bytes(&latin1_bytes(value))
        }
        .map_err(|e| format!("header {header}: {e}"))?;
        map.append(header, value);
    }
    if close {
        map.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let length = if code == StatusCode::NO_CONTENT {
        map.remove(CONTENT_LENGTH);
        BodyLength::NoBody
    } else if code == StatusCode::NOT_MODIFIED {
        BodyLength::NoBody
    } else {
        declared.map_or(BodyLength::Open, BodyLength::Declared)
    };
    Ok((response, length))
}

/// Sets the Content-Length the server worked out itself.
pub fn set_length(response: &mut Response<Body>, len: u64) {
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
}
