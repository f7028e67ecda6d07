//! A deliberately small raw HTTP/1.1 client: the tests write exact request bytes and read
//! responses with the framing parsed by hand (Content-Length, chunked, or until close, per
//! RFC 9112 §6.3), so the server's framing is what is being checked, not a library's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Read/write timeout on every test socket: a server bug fails the test instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: Framing,
    /// False when the connection ended before the framing said the body was complete.
    pub complete: bool,
    /// For chunked bodies: the size of every data chunk, in order.
    pub chunk_sizes: Vec<usize>,
}

impl Response {
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

/// Build request bytes: request line, `Host`, the given headers, and `Content-Length` when
/// there is a body (unless the caller set its own framing header).
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    let framed = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !framed && (!body.is_empty() || method == "POST" || method == "PUT") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Encode `body` as chunks of the given sizes (cycled), plus the terminating chunk.
pub fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
        i += 1;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// One client connection (TCP or unix socket).
pub struct Conn<S: Read + Write> {
    reader: BufReader<S>,
}

impl Conn<TcpStream> {
    pub fn connect(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    /// Half-close: tell the server we will send nothing more.
    pub fn shutdown_write(&mut self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

impl Conn<UnixStream> {
    pub fn connect_unix(path: &Path) -> Self {
        let stream = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }
}

impl<S: Read + Write> Conn<S> {
    pub fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("write request");
        stream.flush().expect("flush request");
    }

    /// Send `request(...)` and read the complete response.
    pub fn roundtrip(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.send(&request(method, target, headers, body));
        self.read_response_for(method)
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.roundtrip("GET", target, &[], b"")
    }

    /// Read one complete response to a non-HEAD request; panics if it is cut short.
    pub fn read_response(&mut self) -> Response {
        self.read_response_for("GET")
    }

    /// Read one complete response to a `method` request; panics if it is cut short.
    pub fn read_response_for(&mut self, method: &str) -> Response {
        let resp = self
            .try_read_response(method == "HEAD")
            .unwrap_or_else(|e| panic!("reading response head: {e}"));
        assert!(
            resp.complete,
            "response body cut short ({:?}, {} bytes so far): {:?}",
            resp.framing,
            resp.body.len(),
            resp.headers
        );
        resp
    }

    /// Read one response. Errors only if no complete status line + headers arrived; a body cut
    /// short by EOF/reset/timeout gives `complete == false` with the bytes received so far.
    pub fn try_read_response(&mut self, head_request: bool) -> io::Result<Response> {
        loop {
            let mut resp = self.read_head()?;
            if (100..200).contains(&resp.status) {
                if resp.status == 101 {
                    return Ok(resp);
                }
                continue;
            }
            let te = resp
                .header("transfer-encoding")
                .map(|v| v.to_ascii_lowercase());
            let cl = resp.header("content-length").map(|v| v.trim().to_string());
            if head_request || resp.status == 204 || resp.status == 304 {
                resp.framing = Framing::NoBody;
                resp.complete = true;
            } else if te.as_deref().is_some_and(|t| t.ends_with("chunked")) {
                resp.framing = Framing::Chunked;
                resp.complete = self.read_chunked(&mut resp).is_ok();
            } else if let Some(cl) = cl {
                resp.framing = Framing::ContentLength;
                let len: usize = cl.parse().map_err(|_| invalid(&format!("bad CL {cl:?}")))?;
                resp.complete = self.read_exact_into(&mut resp.body, len).is_ok();
            } else {
                resp.framing = Framing::Close;
                resp.complete = self.read_to_close(&mut resp.body).is_ok();
            }
            return Ok(resp);
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in line"));
        }
        line.pop();
        if line.ends_with(b"\r") {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| invalid("non-UTF-8 line"))
    }

    fn read_head(&mut self) -> io::Result<Response> {
        let status_line = self.read_line()?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(&format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        if !version.starts_with("HTTP/1.") {
            return Err(invalid(&format!("bad status line {status_line:?}")));
        }
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
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
            headers,
            body: Vec::new(),
            framing: Framing::NoBody,
            complete: false,
            chunk_sizes: Vec::new(),
        })
    }

    fn read_exact_into(&mut self, body: &mut Vec<u8>, len: usize) -> io::Result<()> {
        let start = body.len();
        body.resize(start + len, 0);
        let mut filled = start;
        while filled < body.len() {
            match self.reader.read(&mut body[filled..]) {
                Ok(0) => {
                    body.truncate(filled);
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in body"));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    body.truncate(filled);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn read_chunked(&mut self, resp: &mut Response) -> io::Result<()> {
        loop {
            let line = self.read_line()?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(&format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                // Trailer section, then the empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(());
            }
            resp.chunk_sizes.push(size);
            self.read_exact_into(&mut resp.body, size)?;
            if !self.read_line()?.is_empty() {
                return Err(invalid("chunk data not followed by CRLF"));
            }
        }
    }

    fn read_to_close(&mut self, body: &mut Vec<u8>) -> io::Result<()> {
        let mut buf = [0u8; 16384];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => body.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// True if the server has closed (or reset) the connection: a read gives EOF/reset.
    /// Any byte that arrives instead is a protocol error in these tests, reported as false.
    pub fn closed_by_server(&mut self) -> bool {
        let mut buf = [0u8; 1];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    )
                }
            }
        }
    }

    /// Everything until the server closes the connection (bounded by the read timeout).
    pub fn read_until_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.read_to_close(&mut out);
        out
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// One request on a fresh connection that is closed afterwards.
pub fn fetch(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut conn = Conn::connect(addr);
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    conn.roundtrip(method, target, &all, body)
}

pub fn get(addr: &str, target: &str) -> Response {
    fetch(addr, "GET", target, &[], b"")
}

pub fn post(addr: &str, target: &str, content_type: &str, body: &[u8]) -> Response {
    fetch(
        addr,
        "POST",
        target,
        &[("Content-Type", content_type)],
        body,
    )
}
