//! The strict request-head parser (RFC 9112 §2–§5): request line and field lines, checked byte
//! by byte as they arrive, so a malformed head is refused as soon as it is seen rather than
//! when a terminator that may never come shows up. Framing semantics live in `framing`. (The
//! opposite of `wsgi::response_head`, which builds a response head.) The head's bytes are not
//! copied field by field: a parsed head takes them off the read buffer whole, and its
//! [`Fields`] say where each name and value lie in them.

use bytes::{Buf, BytesMut};
use http::{Method, StatusCode, Version};

use super::fields::{self, Fields, Known, Span};
use super::reject::Reject;

/// gunicorn's limits and defaults (`--limit-request-line`, `--limit-request-fields`,
/// `--limit-request-field-size`); 0 means unlimited for the line and the field size.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_line: usize,
    pub fields: usize,
    pub field_size: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_line: 4094,
            fields: 100,
            field_size: 8190,
        }
    }
}

/// The most fields a request may have whatever the configuration.
pub const MAX_FIELDS: usize = 32768;

/// The whole head may not exceed this, whatever the per-line limits allow (bounds a slow
/// client's buffer); unless one maximal line and field alone need more.
const MAX_HEAD: usize = 64 * 1024;

/// What the request line and field lines hold, before any framing decision. The target's span
/// and the fields index the fields' bytes.
#[derive(Debug)]
pub struct RawHead {
    pub method: Method,
    pub target: Span,
    pub version: Version,
    pub fields: Fields,
}

/// How many empty lines may precede a request line (RFC 9112 §2.2 "SHOULD ignore at least one").
const MAX_LEADING_EMPTY_LINES: usize = 4;

/// RFC 9110 §5.6.2 tchar.
#[inline]
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// [`is_tchar`] as a table: one load per byte of a method or field name.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
            | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z');
        b += 1;
    }
    table
};

/// RFC 9110 §5.5 field-vchar, SP and HTAB; obs-text is allowed, every other control is not.
pub fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// Parses a complete head from the start of `buf` and takes its bytes off it: `Ok(None)` means
/// more bytes are needed (nothing is taken). When the head is all the buffer holds (the usual
/// case) its bytes move into the head whole; else they are copied into a spare buffer.
pub fn take_head(buf: &mut BytesMut, limits: &Limits) -> Result<Option<RawHead>, Reject> {
    let Some((mut raw, len)) = head(buf, limits)? else {
        return Ok(None);
    };
    let bytes = if len == buf.len() {
        std::mem::take(buf)
    } else {
        let mut bytes = fields::spare_buffer();
        bytes.extend_from_slice(&buf[..len]);
        buf.advance(len);
        bytes
    };
    raw.fields.set_bytes(bytes);
    Ok(Some(raw))
}

/// Parses a complete head from the start of `buf`: `Ok(None)` means more bytes are needed,
/// `Ok(Some((head, len)))` gives the head and how many bytes it took. The head's spans index
/// `buf`; its fields hold no bytes yet (see [`take_head`]).
pub fn head(buf: &[u8], limits: &Limits) -> Result<Option<(RawHead, usize)>, Reject> {
    let max_head = MAX_HEAD.max(
        limits
            .request_line
            .saturating_add(limits.field_size)
            .saturating_add(64),
    );
    let buf = if buf.len() > max_head {
        // Parse what fits: a head that ends within it is fine, anything else is too large.
        &buf[..max_head]
    } else {
        buf
    };
    let truncated = buf.len() == max_head;
    match parse_within(buf, limits)? {
        None if truncated => Err(Reject::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request head too large",
        )),
        parsed => Ok(parsed),
    }
}

fn parse_within(buf: &[u8], limits: &Limits) -> Result<Option<(RawHead, usize)>, Reject> {
    let mut pos = 0;
    let mut empty_lines = 0;
    while buf[pos..].starts_with(b"\r\n") {
        pos += 2;
        empty_lines += 1;
        if empty_lines > MAX_LEADING_EMPTY_LINES {
            return Err(Reject::bad("too many empty lines before the request line"));
        }
    }
    if buf.get(pos) == Some(&b'\n') {
        return Err(Reject::bad("bare LF line end"));
    }
    let line_limit = if limits.request_line == 0 {
        usize::MAX
    } else {
        limits.request_line
    };
    let Some(line) = next_line(&buf[pos..], line_limit, StatusCode::URI_TOO_LONG)? else {
        return Ok(None);
    };
    let (method, target, version) = request_line(line)?;
    let target = Span::new(pos + target.start, target.len());
    pos += line.len() + 2;

    let field_limit = if limits.field_size == 0 {
        usize::MAX
    } else {
        limits.field_size
    };
    let mut fields = Fields::new();
    let mut count = 0;
    loop {
        let Some(line) = next_line(
            &buf[pos..],
            field_limit,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        )?
        else {
            return Ok(None);
        };
        let start = pos;
        pos += line.len() + 2;
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > limits.fields {
            return Err(Reject::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too many header fields",
            ));
        }
        let (name, value) = field_line(line)?;
        let known = Known::of(&line[name.clone()]);
        fields.push_known(
            Span::new(start + name.start, name.len()),
            Span::new(start + value.start, value.len()),
            known,
        );
        // A repeat is looked for only among the fields that may appear once.
        if known.is_singleton() && fields.is_repeated(known) {
            return Err(Reject::bad("a field that must appear once is repeated"));
        }
    }
    let head = RawHead {
        method,
        target,
        version,
        fields,
    };
    Ok(Some((head, pos)))
}

/// The next CRLF-terminated line (without the CRLF), `None` if it is not complete yet.
/// A line longer than `limit` is refused with `too_long` even before its end arrives.
fn next_line(buf: &[u8], limit: usize, too_long: StatusCode) -> Result<Option<&[u8]>, Reject> {
    let Some(lf) = memchr::memchr(b'\n', buf) else {
        // Room for the CR that may still come.
        if buf.len() > limit.saturating_add(1) {
            return Err(Reject::new(too_long, "line too long"));
        }
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(Reject::bad("bare LF line end"));
    }
    let line = &buf[..lf - 1];
    if line.len() > limit {
        return Err(Reject::new(too_long, "line too long"));
    }
    Ok(Some(line))
}

/// RFC 9112 §3: `method SP request-target SP HTTP-version`, exactly. The target is returned
/// as its range in `line`.
fn request_line(line: &[u8]) -> Result<(Method, std::ops::Range<usize>, Version), Reject> {
    let method_end = line
        .iter()
        .position(|&b| !is_tchar(b))
        .ok_or_else(|| Reject::bad("request line without a target"))?;
    if method_end == 0 || line[method_end] != b' ' {
        return Err(Reject::bad("the method is not a token"));
    }
    let method =
        Method::from_bytes(&line[..method_end]).map_err(|_| Reject::bad("invalid method"))?;
    let rest = &line[method_end + 1..];
    // RFC 9112 §3.2 and RFC 3986 §2: visible ASCII only; no fragment in a request target.
    let target_end = rest
        .iter()
        .position(|&b| !(b'!'..=b'~').contains(&b) || b == b'#')
        .ok_or_else(|| Reject::bad("request line without a version"))?;
    if target_end == 0 || rest[target_end] != b' ' {
        return Err(Reject::bad("invalid request target"));
    }
    let version = version(&rest[target_end + 1..])?;
    let start = method_end + 1;
    Ok((method, start..start + target_end, version))
}

/// RFC 9112 §2.3: `HTTP/` DIGIT `.` DIGIT; 1.0 and 1.1 are served, any other version is 505.
fn version(raw: &[u8]) -> Result<Version, Reject> {
    match raw {
        b"HTTP/1.1" => Ok(Version::HTTP_11),
        b"HTTP/1.0" => Ok(Version::HTTP_10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Reject::new(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "unsupported HTTP version",
            ))
        }
        _ => Err(Reject::bad("invalid HTTP version")),
    }
}

/// RFC 9112 §5: `field-name ":" OWS field-value OWS`; no obs-fold (§5.2), no whitespace
/// before the colon (§5.1), no controls in the value (RFC 9110 §5.5). Returns where the name
/// and the (trimmed) value lie in `line`.
pub fn field_line(line: &[u8]) -> Result<(std::ops::Range<usize>, std::ops::Range<usize>), Reject> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(Reject::bad("obsolete line folding"));
    }
    let colon = line
        .iter()
        .position(|&b| !is_tchar(b))
        .ok_or_else(|| Reject::bad("header line without a colon"))?;
    if colon == 0 || line[colon] != b':' {
        return Err(Reject::bad("invalid header name"));
    }
    let mut start = colon + 1;
    let mut end = line.len();
    while start < end && matches!(line[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(line[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if !line[start..end].iter().all(|&b| is_field_value_byte(b)) {
        return Err(Reject::bad("control character in a header value"));
    }
    Ok((0..colon, start..end))
}

pub fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: &[u8]) -> Option<u16> {
        match head(raw, &Limits::default()) {
            Ok(Some(_)) => Some(200),
            Ok(None) => None,
            Err(reject) => Some(reject.status.as_u16()),
        }
    }

    #[test]
    fn complete_and_incomplete() {
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(200));
        assert_eq!(status(b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(200));
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(status(b"GET / HT"), None);
        assert_eq!(status(b""), None);
    }

    #[test]
    fn early_rejections() {
        assert_eq!(status(b"GET / HTTP/1.1\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/2.0\r\n"), Some(505));
        assert_eq!(status(&[b'a'; 5000]), Some(414));
    }

    #[test]
    fn limits_at_the_edge() {
        let limits = Limits::default();
        let line = |len: usize| {
            let target = format!("/{}", "a".repeat(len - "GET / HTTP/1.1".len()));
            format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
        };
        assert!(matches!(head(line(4094).as_bytes(), &limits), Ok(Some(_))));
        assert!(head(line(4095).as_bytes(), &limits).is_err());
        let field = |len: usize| {
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX: {}\r\n\r\n",
                "v".repeat(len - 3)
            )
        };
        assert!(matches!(head(field(8190).as_bytes(), &limits), Ok(Some(_))));
        assert!(head(field(8191).as_bytes(), &limits).is_err());
        let many = format!(
            "GET / HTTP/1.1\r\n{}",
            "X-Header-Field: value-value-value\r\n".repeat(3000)
        );
        let err = head(
            many.as_bytes(),
            &Limits {
                fields: 5000,
                ..limits
            },
        )
        .unwrap_err();
        assert_eq!(err.status, 431);
    }

    #[test]
    fn singleton_fields_appear_once() {
        let twice = |name: &str| {
            status(
                format!("GET / HTTP/1.1\r\nHost: x\r\n{name}: a\r\n{name}: b\r\n\r\n").as_bytes(),
            )
        };
        for name in [
            "Content-Type",
            "content-type",
            "Host",
            "Content-Length",
            "Authorization",
            "Proxy-Authorization",
            "Range",
        ] {
            assert_eq!(twice(name), Some(400), "{name}");
        }
        assert_eq!(twice("Accept"), Some(200), "a list field");
        assert_eq!(twice("Cookie"), Some(200));
    }

    #[test]
    fn ows_is_trimmed() {
        assert_eq!(trim_ows(b" \ta b\t "), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
    }
}
