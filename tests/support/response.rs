//! Responses read by hand from raw bytes, so that the server's framing is what is checked,
//! not a library's: the head as sent (for exact casing and order), then the body by its
//! framing (RFC 9112 §6.3: none for HEAD/1xx/204/304, Content-Length, chunked, or until
//! close), noting whether it arrived complete. `Exchange` keeps everything a connection
//! carried until the server closed it, for checks on what must not be there.

use std::io::{self, BufRead, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body by definition (HEAD, 1xx, 204, 304).
    NoBody,
    ContentLength,
    Chunked,
    /// Body delimited by the server closing the connection.
    Close,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// The head as received: status line, field lines and the empty line, CRLFs included.
    pub head: String,
    /// The raw heads of any 1xx (other than 101) that came before this response.
    pub interim: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
    /// For chunked bodies: the size of every data chunk, in order.
    pub chunk_sizes: Vec<usize>,
}

impl Response {
    /// Parses the one response in `raw`, a whole connection's worth of bytes; panics if the
    /// head is malformed, the body is cut short or anything follows the response.
    pub fn parse(raw: &[u8], head_request: bool) -> Response {
        let mut cursor = Cursor::new(raw);
        let r = read_response(&mut cursor, head_request)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(raw)));
        assert!(
            r.complete,
            "body cut short: {:?}",
            String::from_utf8_lossy(raw)
        );
        let rest = &raw[cursor.position() as usize..];
        assert!(
            rest.is_empty(),
            "{} bytes after the response: {:?}",
            rest.len(),
            String::from_utf8_lossy(rest)
        );
        r
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> super::json::Value {
        super::json::parse(&self.text())
            .unwrap_or_else(|e| panic!("response is not JSON ({e}):\n{}", self.text()))
    }
}

/// Reads one response. Errors only if no complete head arrived; a body cut short by
/// EOF/reset/timeout gives `complete == false` with the bytes received so far.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> io::Result<Response> {
    let mut interim = Vec::new();
    loop {
        let mut resp = read_head(r)?;
        if (100..200).contains(&resp.status) && resp.status != 101 {
            interim.push(resp.head);
            continue;
        }
        resp.interim = interim;
        let te = resp
            .header("transfer-encoding")
            .map(str::to_ascii_lowercase);
        let cl = resp.header("content-length").map(|v| v.trim().to_string());
        if head_request || matches!(resp.status, 101..=199 | 204 | 304) {
            resp.framing = Framing::NoBody;
            resp.complete = true;
        } else if te.is_some_and(|t| t.ends_with("chunked")) {
            resp.framing = Framing::Chunked;
            resp.complete = read_chunked(r, &mut resp).is_ok();
        } else if let Some(cl) = cl {
            resp.framing = Framing::ContentLength;
            let len: usize = cl.parse().map_err(|_| invalid(&format!("bad CL {cl:?}")))?;
            resp.complete = read_exact_into(r, &mut resp.body, len).is_ok();
        } else {
            resp.framing = Framing::Close;
            resp.complete = r.read_to_end(&mut resp.body).is_ok();
        }
        return Ok(resp);
    }
}

/// Reads a status line and the field lines up to the empty line; the body is left unread.
pub fn read_head(r: &mut impl BufRead) -> io::Result<Response> {
    let mut head = String::new();
    let status_line = read_line(r, &mut head)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts.next().and_then(|s| s.parse().ok());
    let reason = parts.next().unwrap_or_default().to_string();
    let (Some(status), true) = (status, version.starts_with("HTTP/1.")) else {
        return Err(invalid(&format!("bad status line {status_line:?}")));
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(r, &mut head)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid(&format!("bad header line {line:?}")))?;
        headers.push((k.to_string(), v.trim().to_string()));
    }
    Ok(Response {
        version,
        status,
        reason,
        head,
        interim: Vec::new(),
        headers,
        body: Vec::new(),
        framing: Framing::NoBody,
        complete: false,
        chunk_sizes: Vec::new(),
    })
}

/// One line without its line end; the raw line is appended to `raw`.
fn read_line(r: &mut impl BufRead, raw: &mut String) -> io::Result<String> {
    let mut line = Vec::new();
    let n = r.read_until(b'\n', &mut line)?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in line"));
    }
    let text = String::from_utf8(line).map_err(|_| invalid("non-UTF-8 line"))?;
    raw.push_str(&text);
    Ok(text
        .trim_end_matches('\n')
        .trim_end_matches('\r')
        .to_string())
}

fn read_exact_into(r: &mut impl Read, body: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let got = r.take(len as u64).read_to_end(body)?;
    if got < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in body"));
    }
    Ok(())
}

fn read_chunked(r: &mut impl BufRead, resp: &mut Response) -> io::Result<()> {
    let mut scratch = String::new();
    loop {
        let line = read_line(r, &mut scratch)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(&format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            // Trailer section, then the empty line.
            while !read_line(r, &mut scratch)?.is_empty() {}
            return Ok(());
        }
        resp.chunk_sizes.push(size);
        read_exact_into(r, &mut resp.body, size)?;
        if !read_line(r, &mut scratch)?.is_empty() {
            return Err(invalid("chunk data not followed by CRLF"));
        }
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Everything the server sent on a connection until it closed it (or until the read timeout).
pub struct Exchange {
    pub bytes: Vec<u8>,
    /// True if the server closed (or reset) the connection; false on a read timeout.
    pub closed: bool,
    /// True if the connection ended with a reset rather than an orderly close.
    pub reset: bool,
}

impl Exchange {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The status code of the first response, 0 if none.
    pub fn status(&self) -> u16 {
        self.text()
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// How many responses (status lines) came back.
    pub fn responses(&self) -> usize {
        self.text().matches("HTTP/1.1 ").count() + self.text().matches("HTTP/1.0 ").count()
    }

    /// Whether the first response's head has field `name` with `value` (both case-insensitive).
    pub fn has_header(&self, name: &str, value: &str) -> bool {
        let text = self.text();
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        head.lines().any(|l| {
            l.split_once(':').is_some_and(|(n, v)| {
                n.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
            })
        })
    }

    /// The one response the connection carried, which the server then closed cleanly, parsed
    /// (see [`Response::parse`]).
    pub fn response(&self) -> Response {
        assert!(
            self.closed && !self.reset,
            "the server did not close cleanly (reset: {}): {:?}",
            self.reset,
            self.text()
        );
        Response::parse(&self.bytes, false)
    }
}
