//! What a parsed head means: the body's framing (RFC 9112 §6.3), the target's form against the
//! method (§3.2), Host (§3.2), persistence (§9.3) and `Expect: 100-continue` (RFC 9110 §10.1.1).
//! Anything ambiguous is refused: Content-Length with Transfer-Encoding, repeated or list-form
//! lengths, any coding but a final `chunked`.

use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{Method, Request, StatusCode, Uri, Version};

use super::authority::valid_host;
use super::parse::{is_tchar, RawHead};
use super::reject::Reject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// How a request body is delimited (RFC 9112 §6.3).
pub enum RequestFraming {
    Empty,
    Length(u64),
    Chunked,
}

/// A request head that passed every check, and what it means for the connection.
pub struct RequestHead {
    pub parts: Parts,
    pub framing: RequestFraming,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

pub fn interpret(raw: RawHead) -> Result<RequestHead, Reject> {
    let RawHead {
        method,
        target,
        version,
        mut headers,
    } = raw;
    let uri = target_uri(&method, target)?;
    let mut hosts = headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (_, Some(_)) => return Err(Reject::bad("more than one Host")),
        (None, None) if version == Version::HTTP_11 => return Err(Reject::bad("no Host")),
        (Some(host), None) if !valid_host(host.as_bytes()) => {
            return Err(Reject::bad("invalid Host"))
        }
        _ => {}
    }
    // RFC 9112 §3.2.2: with an absolute-form target the target's authority is the host. It
    // holds no userinfo (RFC 9110 §4.2.4) and follows the Host grammar.
    if let Some(authority) = uri.authority().filter(|_| method != Method::CONNECT) {
        if !valid_host(authority.as_str().as_bytes()) {
            return Err(Reject::bad("invalid authority"));
        }
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| Reject::bad("invalid authority"))?;
        headers.insert(HOST, host);
    }
    let framing = framing(&headers, version)?;
    let keep_alive = keep_alive(&headers, version);
    let expect_continue = version == Version::HTTP_11
        && headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(RequestHead {
        parts,
        framing,
        keep_alive,
        expect_continue,
    })
}

/// RFC 9112 §3.2: origin-form for everything, absolute-form too, asterisk-form only for
/// OPTIONS, authority-form only for CONNECT — which pyrite, not being a proxy, refuses (405).
fn target_uri(method: &Method, target: bytes::Bytes) -> Result<Uri, Reject> {
    let first = target.first().copied();
    let is_connect = method == Method::CONNECT;
    let uri = Uri::from_maybe_shared(target).map_err(|_| Reject::bad("invalid request target"))?;
    match first {
        Some(b'/') if !is_connect => Ok(uri),
        Some(b'*') if method == Method::OPTIONS && uri == "*" => Ok(uri),
        _ if is_connect => {
            if uri.scheme().is_none() && uri.authority().is_some() && uri.path_and_query().is_none()
            {
                Err(Reject::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "CONNECT is not supported",
                ))
            } else {
                Err(Reject::bad("CONNECT needs an authority-form target"))
            }
        }
        _ if matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some() => {
            Ok(uri)
        }
        _ => Err(Reject::bad("invalid request target form")),
    }
}

/// RFC 9112 §6.1–§6.3.
fn framing(headers: &http::HeaderMap, version: Version) -> Result<RequestFraming, Reject> {
    let mut te_lines = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    let has_te = te_lines.peek().is_some();
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let length = lengths.next();
    if lengths.next().is_some() {
        return Err(Reject::bad("Content-Length repeated"));
    }
    if has_te {
        if length.is_some() {
            return Err(Reject::bad("Content-Length with Transfer-Encoding"));
        }
        if version == Version::HTTP_10 {
            return Err(Reject::bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        let mut codings = Vec::new();
        for line in te_lines {
            for element in line.as_bytes().split(|&b| b == b',') {
                let coding = super::parse::trim_ows(element);
                if coding.is_empty() || !coding.iter().all(|&b| is_tchar(b)) {
                    return Err(Reject::bad("invalid transfer coding"));
                }
                codings.push(coding);
            }
        }
        let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let chunked = codings.iter().filter(|c| is_chunked(c)).count();
        return match (chunked, codings.last().is_some_and(|c| is_chunked(c))) {
            // RFC 9112 §6.3: chunked must be final, and (§7.1) applied once.
            (1, true) if codings.len() == 1 => Ok(RequestFraming::Chunked),
            (1, true) | (0, _) => Err(Reject::new(
                StatusCode::NOT_IMPLEMENTED,
                "unsupported transfer coding",
            )),
            _ => Err(Reject::bad("chunked is not the final coding, or repeated")),
        };
    }
    match length {
        None => Ok(RequestFraming::Empty),
        Some(value) => {
            let digits = value.as_bytes();
            if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
                return Err(Reject::bad("invalid Content-Length"));
            }
            let len = digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            Ok(if len == 0 {
                RequestFraming::Empty
            } else {
                RequestFraming::Length(len)
            })
        }
    }
}

/// RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`.
fn keep_alive(headers: &http::HeaderMap, version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for value in headers.get_all(CONNECTION) {
        for option in value.as_bytes().split(|&b| b == b',') {
            let option = super::parse::trim_ows(option);
            close |= option.eq_ignore_ascii_case(b"close");
            keep |= option.eq_ignore_ascii_case(b"keep-alive");
        }
    }
    !close && (version == Version::HTTP_11 || keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse::{head, Limits};

    fn interpret_raw(raw: &str) -> Result<RequestHead, Reject> {
        let (raw, _) = head(raw.as_bytes(), &Limits::default())?.expect("complete head");
        interpret(raw)
    }

    #[test]
    fn framings() {
        let f = |h: &str| {
            interpret_raw(&format!("POST / HTTP/1.1\r\nHost: x\r\n{h}\r\n")).map(|h| h.framing)
        };
        assert_eq!(f(""), Ok(RequestFraming::Empty));
        assert_eq!(f("Content-Length: 0\r\n"), Ok(RequestFraming::Empty));
        assert_eq!(f("Content-Length: 12\r\n"), Ok(RequestFraming::Length(12)));
        assert_eq!(
            f("Transfer-Encoding: Chunked\r\n"),
            Ok(RequestFraming::Chunked)
        );
        assert_eq!(f("Transfer-Encoding: gzip\r\n").unwrap_err().status, 501);
        assert_eq!(
            f("Transfer-Encoding: chunked, gzip\r\n")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(f("Content-Length: 1,1\r\n").unwrap_err().status, 400);
    }

    #[test]
    fn persistence() {
        let ka = |raw: &str| interpret_raw(raw).map(|h| h.keep_alive).unwrap();
        assert!(ka("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn absolute_form_sets_host() {
        let head = interpret_raw("GET http://a.example/p?q HTTP/1.1\r\nHost: b\r\n\r\n").unwrap();
        assert_eq!(head.parts.headers[HOST], "a.example");
        assert_eq!(head.parts.uri.path(), "/p");
        for bad in [
            "http://user:pw@a.example/p",
            "http://a.example:x/p",
            "http://a.example:99999/p",
            "http://[zz]/p",
        ] {
            let raw = format!("GET {bad} HTTP/1.1\r\nHost: b\r\n\r\n");
            assert!(interpret_raw(&raw).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_follow_the_grammar() {
        let host = |h: &str| interpret_raw(&format!("GET / HTTP/1.1\r\nHost: {h}\r\n\r\n"));
        for bad in ["a:xyz", "a:-1", "a:+80", "a:80:80", "[::1", "[zz]"] {
            assert_eq!(
                host(bad).err().map(|r| r.status),
                Some(StatusCode::BAD_REQUEST),
                "{bad}"
            );
        }
        assert!(host("a:8080").is_ok());
    }
}
