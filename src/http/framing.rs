//! What a parsed head means: the body's framing (RFC 9112 §6.3), the target's form against the
//! method (§3.2), Host (§3.2), persistence (§9.3) and `Expect: 100-continue` (RFC 9110 §10.1.1).
//! Anything ambiguous is refused: Content-Length with Transfer-Encoding, repeated or list-form
//! lengths, any coding but a final `chunked`.

use http::{Method, StatusCode, Uri, Version};

use super::authority::{valid_host, KnownHost};
use super::fields::{Fields, Known, Span};
pub use super::incoming::RequestFraming;
use super::parse::{is_tchar, RawHead};
use super::reject::Reject;
use super::request::Head;

/// A request head that passed every check, and what it means for the connection.
pub struct RequestHead {
    pub head: Head,
    pub framing: RequestFraming,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// Checks and interprets a parsed head; `known` is the connection's last valid `Host`.
pub fn interpret(raw: RawHead, known: &mut KnownHost) -> Result<RequestHead, Reject> {
    let RawHead {
        method,
        target,
        version,
        mut fields,
    } = raw;
    let form = target_form(&method, target, &fields)?;
    match fields.get(Known::Host) {
        _ if fields.is_repeated(Known::Host) => return Err(Reject::bad("more than one Host")),
        None if version == Version::HTTP_11 => return Err(Reject::bad("no Host")),
        Some(host) if !known.check(host) => return Err(Reject::bad("invalid Host")),
        _ => {}
    }
    let path_and_query = match form {
        Form::Plain => target,
        // RFC 9112 §3.2.2: with an absolute-form target the target's authority is the host.
        Form::Absolute(uri) => {
            // It holds no userinfo (RFC 9110 §4.2.4) and follows the Host grammar.
            let authority = uri.authority().map_or("", |a| a.as_str());
            if !valid_host(authority.as_bytes()) {
                return Err(Reject::bad("invalid authority"));
            }
            fields.set(Known::Host, "host", authority.as_bytes());
            let path = fields.append(uri.path().as_bytes());
            match uri.query() {
                Some(query) => {
                    fields.append(b"?");
                    let query = fields.append(query.as_bytes());
                    Span::new(
                        path.start as usize,
                        (query.start + query.len - path.start) as usize,
                    )
                }
                None => path,
            }
        }
    };
    let framing = framing(&fields, version)?;
    let keep_alive = keep_alive(&fields, version);
    let expect_continue = version == Version::HTTP_11
        && fields
            .get(Known::Expect)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue"));
    Ok(RequestHead {
        head: Head::new(method, version, target, path_and_query, fields),
        framing,
        keep_alive,
        expect_continue,
    })
}

/// A target that passed: its path and query are the target itself (origin and asterisk
/// forms), or those of an absolute URI.
enum Form {
    Plain,
    Absolute(Uri),
}

/// RFC 9112 §3.2: origin-form for everything, absolute-form too, asterisk-form only for
/// OPTIONS, authority-form only for CONNECT — which pyrite, not being a proxy, refuses (405).
fn target_form(method: &Method, target: Span, fields: &Fields) -> Result<Form, Reject> {
    let bytes = fields.slice(target);
    if bytes.first() == Some(&b'/') && method != Method::CONNECT && plain_origin_form(bytes) {
        return Ok(Form::Plain);
    }
    let uri = Uri::from_maybe_shared(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|_| Reject::bad("invalid request target"))?;
    let first = bytes.first().copied();
    let is_connect = method == Method::CONNECT;
    match first {
        Some(b'/') if !is_connect => Ok(Form::Plain),
        Some(b'*') if method == Method::OPTIONS && uri == "*" => Ok(Form::Plain),
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
            Ok(Form::Absolute(uri))
        }
        _ => Err(Reject::bad("invalid request target form")),
    }
}

/// An origin-form target made only of characters every URI parser takes as they are: no need
/// to ask `Uri` (which refuses a few more, such as `<` and `>`) whether it is valid.
fn plain_origin_form(target: &[u8]) -> bool {
    target.len() < usize::from(u16::MAX) - 1
        && target.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'/' | b'-'
                        | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'?'
                        | b'='
                        | b'&'
                        | b'+'
                        | b','
                        | b';'
                        | b':'
                        | b'@'
                        | b'!'
                        | b'$'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                )
        })
}

/// RFC 9112 §6.1–§6.3.
fn framing(fields: &Fields, version: Version) -> Result<RequestFraming, Reject> {
    let has_te = fields.contains(Known::TransferEncoding);
    let length = fields.get(Known::ContentLength);
    if fields.is_repeated(Known::ContentLength) {
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
        for line in fields.get_all(Known::TransferEncoding) {
            for element in line.split(|&b| b == b',') {
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
        Some(digits) => {
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
fn keep_alive(fields: &Fields, version: Version) -> bool {
    let mut close = false;
    let mut keep = false;
    for value in fields.get_all(Known::Connection) {
        for option in value.split(|&b| b == b',') {
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
    use crate::http::parse::{take_head, Limits};

    fn interpret_raw(raw: &str) -> Result<RequestHead, Reject> {
        let mut buf = bytes::BytesMut::from(raw.as_bytes());
        let raw = take_head(&mut buf, &Limits::default())?.expect("complete head");
        interpret(raw, &mut KnownHost::default())
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
        assert_eq!(head.head.fields.get(Known::Host), Some(&b"a.example"[..]));
        assert_eq!(head.head.path(), "/p");
        assert_eq!(head.head.query(), Some("q"));
        assert_eq!(head.head.path_and_query(), "/p?q");
        assert_eq!(head.head.target(), "http://a.example/p?q");
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
