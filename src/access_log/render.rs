//! One access-log line from a compiled [`Format`] and what a request and its response were
//! ([`Entry`]): as text (gunicorn's: `"` in a value becomes `\"`; a control character, which
//! only a percent-decoded path can hold, becomes `\xNN` so a line stays a line), or as one JSON
//! object keyed by the atoms' names. Request bytes are latin-1, written out as UTF-8.

use std::net::IpAddr;
use std::time::Duration;

use super::format::{Atom, Format, Segment};

/// What one request's line is made of; `http` fills it in from the request it answered.
pub struct Entry<'a> {
    /// `h`: the client, after trusted-proxy resolution.
    pub client: Option<IpAddr>,
    /// `None` for a request refused before its request line could be trusted.
    pub request: Option<Request<'a>>,
    pub status: u16,
    /// The body's bytes that went out.
    pub bytes: u64,
    pub elapsed: Duration,
    /// The response's head as sent (status line and fields), when the format needs it.
    pub response_head: &'a [u8],
    /// The values of the format's environ variables ([`Format::environ`]), in its order.
    pub environ: &'a [Option<String>],
    pub pid: u32,
}

pub struct Request<'a> {
    pub method: &'a str,
    /// As sent (an absolute-form target whole).
    pub target: &'a str,
    /// Still percent-encoded.
    pub path: &'a str,
    pub query: &'a str,
    pub protocol: &'a str,
    /// The value of a request header (by lowercase name); the last one when repeated, as
    /// gunicorn's dict of headers keeps it.
    pub header: &'a dyn Fn(&[u8]) -> Option<&'a [u8]>,
}

/// A value as the line shows it.
enum Value<'a> {
    Missing,
    Bytes(&'a [u8]),
    Owned(Vec<u8>),
    Number(u64),
    /// `h`, written out without an allocation.
    Ip(IpAddr),
    /// `r`: method, target, protocol, written with spaces between them.
    Line(&'a str, &'a str, &'a str),
}

fn value<'a: 'b, 'b>(
    atom: &'b Atom,
    e: &'b Entry<'a>,
    format: &'b Format,
    time: &'b str,
) -> Value<'b> {
    let req = e.request.as_ref();
    let header = |name: &[u8]| {
        req.and_then(|r| (r.header)(name))
            .map_or(Value::Missing, Value::Bytes)
    };
    let micros = u64::try_from(e.elapsed.as_micros()).unwrap_or(u64::MAX);
    match atom {
        Atom::RemoteAddr => e.client.map_or(Value::Missing, Value::Ip),
        Atom::Dash | Atom::Unknown => Value::Missing,
        Atom::User => req
            .and_then(|r| (r.header)(b"authorization"))
            .and_then(basic_user)
            .map_or(Value::Missing, Value::Owned),
        Atom::Time => Value::Bytes(time.as_bytes()),
        Atom::RequestLine => match req {
            Some(r) => Value::Line(r.method, r.target, r.protocol),
            None => Value::Missing,
        },
        Atom::Method => req.map_or(Value::Missing, |r| Value::Bytes(r.method.as_bytes())),
        Atom::Path => req.map_or(Value::Missing, |r| {
            Value::Owned(crate::text::decode_path(r.path).into_owned())
        }),
        Atom::Query => req.map_or(Value::Missing, |r| Value::Bytes(r.query.as_bytes())),
        Atom::Protocol => req.map_or(Value::Missing, |r| Value::Bytes(r.protocol.as_bytes())),
        Atom::Status => Value::Number(u64::from(e.status)),
        Atom::Bytes => Value::Number(e.bytes),
        Atom::BytesOrDash => Value::Number(e.bytes),
        Atom::Referer => header(b"referer"),
        Atom::UserAgent => header(b"user-agent"),
        Atom::Seconds => Value::Number(micros / 1_000_000),
        Atom::Micros => Value::Number(micros),
        Atom::Millis => Value::Number(micros / 1000),
        Atom::SecondsDecimal => {
            Value::Owned(format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000).into_bytes())
        }
        Atom::Pid => Value::Owned(format!("<{}>", e.pid).into_bytes()),
        Atom::RequestHeader(name) => header(name.as_bytes()),
        Atom::ResponseHeader(name) => {
            response_header(e.response_head, name.as_bytes()).map_or(Value::Missing, Value::Bytes)
        }
        Atom::Environ(name) => format
            .environ
            .iter()
            .position(|n| n == name)
            .and_then(|i| e.environ.get(i))
            .and_then(|v| v.as_deref())
            .map_or(Value::Missing, |v| Value::Bytes(v.as_bytes())),
    }
}

/// The user of `Authorization: Basic BASE64(user:password)`.
fn basic_user(value: &[u8]) -> Option<Vec<u8>> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64(rest.trim_ascii())?;
    let user = decoded.split(|&b| b == b':').next()?;
    Some(user.to_vec())
}

fn base64(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The value of a field in a rendered response head (the first with that name).
fn response_header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| line[colon + 1..].trim_ascii())
    })
}

/// Appends the text line for `entry` (with its newline) to `out`.
/// `time` is `t`, already formatted.
pub fn text(format: &Format, entry: &Entry<'_>, time: &str, out: &mut Vec<u8>) {
    for segment in &format.segments {
        match segment {
            Segment::Text(text) => out.extend_from_slice(text.as_bytes()),
            Segment::Atom {
                atom, left, width, ..
            } => {
                let start = out.len();
                match value(atom, entry, format, time) {
                    Value::Missing => out.push(b'-'),
                    Value::Bytes(b) => escaped(b, out),
                    Value::Owned(b) => escaped(&b, out),
                    Value::Number(n) => {
                        out.extend_from_slice(crate::text::decimal(n, &mut [0; 20]))
                    }
                    Value::Ip(ip) => ip_text(ip, out),
                    Value::Line(method, target, protocol) => {
                        escaped(method.as_bytes(), out);
                        out.push(b' ');
                        escaped(target.as_bytes(), out);
                        out.push(b' ');
                        escaped(protocol.as_bytes(), out);
                    }
                }
                if *width > 0 {
                    pad(out, start, *left, *width);
                }
            }
        }
    }
    out.push(b'\n');
}

/// Appends the JSON line for `entry`: one key per atom (the first of repeated ones), numbers
/// for the status, byte counts and times, strings for the rest, `"-"` for what is missing.
pub fn json(format: &Format, entry: &Entry<'_>, time: &str, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let mut seen: Vec<&str> = Vec::new();
    for segment in &format.segments {
        let Segment::Atom { atom, key, .. } = segment else {
            continue;
        };
        if seen.contains(&key.as_str()) {
            continue;
        }
        seen.push(key);
        if !first {
            out.push(b',');
        }
        first = false;
        json_string(key.as_bytes(), out);
        out.push(b':');
        match value(atom, entry, format, time) {
            Value::Missing => out.extend_from_slice(b"\"-\""),
            Value::Bytes(b) => json_string(b, out),
            Value::Owned(b) => json_string(&b, out),
            Value::Number(n) => out.extend_from_slice(crate::text::decimal(n, &mut [0; 20])),
            Value::Ip(ip) => {
                out.push(b'"');
                ip_text(ip, out);
                out.push(b'"');
            }
            Value::Line(method, target, protocol) => {
                json_string(format!("{method} {target} {protocol}").as_bytes(), out)
            }
        }
    }
    out.extend_from_slice(b"}\n");
}

/// An address as text: IPv4 digit by digit (the usual case, and `Display` costs several times
/// more), IPv6 through `Display`.
fn ip_text(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(crate::text::decimal(u64::from(octet), &mut [0; 20]));
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Latin-1 bytes as UTF-8, `"` as `\"`, controls as `\xNN`. Runs of bytes that need none of
/// that are copied whole.
fn escaped(mut bytes: &[u8], out: &mut Vec<u8>) {
    while let Some(at) = bytes.iter().position(|&b| needs_escape(b)) {
        out.extend_from_slice(&bytes[..at]);
        escape_byte(bytes[at], out);
        bytes = &bytes[at + 1..];
    }
    out.extend_from_slice(bytes);
}

fn needs_escape(b: u8) -> bool {
    b == b'"' || !(0x20..0x7f).contains(&b)
}

fn escape_byte(b: u8, out: &mut Vec<u8>) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        0..=0x1f | 0x7f => {
            out.extend_from_slice(b"\\x");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 15)]);
        }
        0x80.. => utf8(b, out),
        _ => out.push(b),
    }
}

fn json_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f | 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            0x80.. => utf8(b, out),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// The UTF-8 of the latin-1 character `b` (≥ 0x80).
fn utf8(b: u8, out: &mut Vec<u8>) {
    out.push(0xc0 | (b >> 6));
    out.push(0x80 | (b & 0x3f));
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Pads what was written from `start` to `width` characters (`left`: spaces after it).
fn pad(out: &mut Vec<u8>, start: usize, left: bool, width: usize) {
    let chars = out[start..].iter().filter(|&&b| b & 0xc0 != 0x80).count();
    if chars >= width {
        return;
    }
    let fill = width - chars;
    if left {
        out.extend(std::iter::repeat_n(b' ', fill));
    } else {
        out.splice(start..start, std::iter::repeat_n(b' ', fill));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::format::DEFAULT;

    fn entry<'a>(header: &'a dyn Fn(&[u8]) -> Option<&'a [u8]>, head: &'a [u8]) -> Entry<'a> {
        Entry {
            client: Some("203.0.113.7".parse().unwrap()),
            request: Some(Request {
                method: "GET",
                target: "/a%20b?x=\"1\"",
                path: "/a%20b",
                query: "x=\"1\"",
                protocol: "HTTP/1.1",
                header,
            }),
            status: 200,
            bytes: 13,
            elapsed: Duration::from_micros(1_234_567),
            response_head: head,
            environ: &[],
            pid: 42,
        }
    }

    fn headers(name: &[u8]) -> Option<&'static [u8]> {
        match name {
            b"user-agent" => Some(b"curl/8 \xe9"),
            b"authorization" => Some(b"Basic YWxpY2U6c2VjcmV0"),
            b"x-request-id" => Some(b"r-1"),
            _ => None,
        }
    }

    fn line(format: &str, json_line: bool) -> String {
        let format = Format::compile(format).unwrap();
        let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        let mut out = Vec::new();
        let e = entry(&headers, head);
        let time = "[01/Dec/2026:23:18:55 +0000]";
        if json_line {
            json(&format, &e, time, &mut out);
        } else {
            text(&format, &e, time, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn apache_combined() {
        assert_eq!(
            line(DEFAULT, false),
            "203.0.113.7 - alice [01/Dec/2026:23:18:55 +0000] \"GET /a%20b?x=\\\"1\\\" HTTP/1.1\" 200 13 \"-\" \"curl/8 é\"\n"
        );
    }

    #[test]
    fn every_atom() {
        assert_eq!(
            line(
                "%(m)s %(U)s %(q)s %(H)s %(B)s %(T)s %(D)s %(M)s %(L)s %(p)s %(l)s %(zz)s",
                false
            ),
            "GET /a b x=\\\"1\\\" HTTP/1.1 13 1 1234567 1234 1.234567 <42> - -\n"
        );
        assert_eq!(
            line(
                "%({X-Request-Id}i)s %({content-type}o)s %({missing}i)s %(s)5s|%(s)-5s|",
                false
            ),
            "r-1 text/plain -   200|200  |\n"
        );
    }

    #[test]
    fn json_lines() {
        assert_eq!(
            line("%(h)s %(s)s %(B)s %(a)s %(f)s %(h)s", true),
            "{\"h\":\"203.0.113.7\",\"s\":200,\"B\":13,\"a\":\"curl/8 é\",\"f\":\"-\"}\n"
        );
    }

    #[test]
    fn controls_never_break_a_line() {
        let mut out = Vec::new();
        escaped(b"a\nb\"", &mut out);
        assert_eq!(out, b"a\\x0ab\\\"");
    }
}
