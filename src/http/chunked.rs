//! The chunked transfer coding decoder (RFC 9112 §7.1): `chunk-size [ chunk-ext ] CRLF data
//! CRLF`, a last chunk of size 0, then a trailer section. Sizes are 1–16 hex digits, nothing
//! else; extensions must be well-formed and are ignored; trailer fields are checked and then
//! dropped, and fields that only the head may carry are refused (RFC 9110 §6.5.1).

use bytes::{Buf, Bytes, BytesMut};

use super::parse::{field_line, is_field_value_byte, is_tchar, Limits};
use super::reject::Reject;

/// A chunk-size line longer than this is refused (the size is at most 16 digits; the rest is
/// room for extensions).
const MAX_SIZE_LINE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    Data(u64),
    DataEnd,
    Trailers { fields: usize },
    Done,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    limits: Limits,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    NeedMore,
    Done,
}

/// RFC 9110 §6.5.1: fields that must not be sent (and are refused) in a trailer section.
const FORBIDDEN_TRAILERS: [&str; 24] = [
    "content-length",
    "transfer-encoding",
    "host",
    "content-type",
    "content-encoding",
    "content-range",
    "trailer",
    "te",
    "expect",
    "max-forwards",
    "cache-control",
    "pragma",
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "authorization",
    "proxy-authorization",
    "cookie",
    "connection",
    "keep-alive",
    "upgrade",
];

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            state: State::Size,
            limits,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes what it can from the front of `buf`, consuming it.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Reject> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Size => {
                    let Some(line) = take_line(buf, MAX_SIZE_LINE)? else {
                        return Ok(Step::NeedMore);
                    };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 {
                        State::Trailers { fields: 0 }
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let data = buf.split_to(n).freeze();
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Step::Data(data));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        // A wrong first byte is already an error.
                        if buf.first().is_some_and(|&b| b != b'\r') {
                            return Err(Reject::bad("chunk data not followed by CRLF"));
                        }
                        return Ok(Step::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Reject::bad("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    self.state = State::Size;
                }
                State::Trailers { fields } => {
                    let limit = match self.limits.field_size {
                        0 => usize::MAX,
                        n => n,
                    };
                    let Some(line) = take_line(buf, limit)? else {
                        return Ok(Step::NeedMore);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    if fields + 1 > self.limits.fields {
                        return Err(Reject::bad("too many trailer fields"));
                    }
                    let (name, _) = field_line(&line)?;
                    let name = &line[name];
                    if FORBIDDEN_TRAILERS
                        .iter()
                        .any(|f| f.as_bytes().eq_ignore_ascii_case(name))
                    {
                        return Err(Reject::bad("forbidden field in a trailer"));
                    }
                    self.state = State::Trailers { fields: fields + 1 };
                }
            }
        }
    }
}

/// Takes one CRLF-terminated line off `buf` (without the CRLF); a bare LF is an error.
fn take_line(buf: &mut BytesMut, limit: usize) -> Result<Option<BytesMut>, Reject> {
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limit.saturating_add(1) {
            return Err(Reject::bad("chunk line too long"));
        }
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err(Reject::bad("bare LF in chunked framing"));
    }
    if lf - 1 > limit {
        return Err(Reject::bad("chunk line too long"));
    }
    let mut line = buf.split_to(lf + 1);
    line.truncate(lf - 1);
    Ok(Some(line))
}

/// `1*HEXDIG *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )`.
pub fn chunk_size(line: &[u8]) -> Result<u64, Reject> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Reject::bad("chunk size is not hexadecimal"));
    }
    if digits > 16 {
        return Err(Reject::bad("chunk size overflows"));
    }
    let size = line[..digits].iter().fold(0u64, |n, &d| {
        let v = (d as char).to_digit(16).unwrap_or(0);
        (n << 4) | u64::from(v)
    });
    extensions(&line[digits..])?;
    Ok(size)
}

fn extensions(mut rest: &[u8]) -> Result<(), Reject> {
    let bad = || Reject::bad("invalid chunk extension");
    let skip_bws = |s: &mut &[u8]| {
        while let [b' ' | b'\t', tail @ ..] = *s {
            *s = tail;
        }
    };
    let token = |s: &mut &[u8]| {
        let n = s.iter().take_while(|&&b| is_tchar(b)).count();
        let (t, tail) = s.split_at(n);
        *s = tail;
        t.len()
    };
    loop {
        if rest.is_empty() {
            return Ok(());
        }
        // BWS only ever precedes `;` or `=`: trailing whitespace is refused.
        skip_bws(&mut rest);
        match rest {
            [b';', tail @ ..] => rest = tail,
            _ => return Err(bad()),
        }
        skip_bws(&mut rest);
        if token(&mut rest) == 0 {
            return Err(bad());
        }
        skip_bws(&mut rest);
        if let [b'=', tail @ ..] = rest {
            rest = tail;
            skip_bws(&mut rest);
            if let [b'"', tail @ ..] = rest {
                rest = quoted_string(tail).ok_or_else(bad)?;
            } else if token(&mut rest) == 0 {
                return Err(bad());
            }
        }
    }
}

/// RFC 9110 §5.6.4: the rest after a closing DQUOTE, given the bytes after the opening one.
fn quoted_string(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        match s {
            [b'"', tail @ ..] => return Some(tail),
            [b'\\', c, tail @ ..] if is_field_value_byte(*c) => s = tail,
            [c, tail @ ..] if is_field_value_byte(*c) && *c != b'\\' => s = tail,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<u8>, Reject> {
        let mut decoder = Decoder::new(Limits::default());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match decoder.decode(&mut buf)? {
                Step::Data(d) => out.extend_from_slice(&d),
                Step::Done => return Ok(out),
                Step::NeedMore => return Err(Reject::bad("incomplete")),
            }
        }
    }

    #[test]
    fn decodes() {
        assert_eq!(decode_all(b"5\r\nhello\r\n0\r\n\r\n").unwrap(), b"hello");
        assert_eq!(
            decode_all(b"3;a=b ; c=\"x\\\"y\"\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(decode_all(b"0000000000000000\r\n\r\n").unwrap(), b"");
    }

    #[test]
    fn sizes() {
        assert_eq!(chunk_size(b"ffffffffffffffff"), Ok(u64::MAX));
        for bad in [
            &b"+5"[..],
            b"-5",
            b"0x5",
            b" 5",
            b"5 ",
            b"5g",
            b"",
            b"10000000000000000",
        ] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn byte_by_byte() {
        let input = b"5\r\nhello\r\n0\r\n\r\n";
        let mut decoder = Decoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for &b in input {
            buf.extend_from_slice(&[b]);
            while let Step::Data(d) = decoder.decode(&mut buf).unwrap() {
                out.extend_from_slice(&d);
            }
        }
        assert!(decoder.is_done());
        assert_eq!(out, b"hello");
    }
}
