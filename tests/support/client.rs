//! A deliberately small raw HTTP/1.1 client: tests write exact request bytes (one request,
//! several pipelined, or a head without its body) over TCP or a unix socket and read what
//! comes back with `response.rs`. Every socket has a read/write timeout, so a server bug fails
//! a test instead of hanging it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::response::{self, Exchange, Response};

/// Read/write timeout on every test socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Request bytes: request line, `Host`, the given headers, and `Content-Length` when there is
/// a body or the method is POST/PUT (unless the caller set its own framing header).
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

/// `body` as chunks of the given sizes (cycled), plus the terminating chunk.
pub fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = size.clamp(1, rest.len());
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// One client connection (TCP or unix socket). It reads through a buffer, so raw reads
/// (`Read`) and parsed responses can be mixed on it.
pub struct Conn<S: Read + Write = TcpStream> {
    reader: BufReader<S>,
}

impl Conn<TcpStream> {
    pub fn connect(addr: &str) -> Self {
        Conn::try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
    }

    pub fn try_connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Conn::from_stream(stream)
    }

    /// Wraps a connected stream (e.g. one with a small receive buffer), setting the timeouts.
    pub fn from_stream(stream: TcpStream) -> io::Result<Self> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
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
    /// Wraps any connected stream (a TLS one, say), its timeouts already set.
    pub fn wrap(stream: S) -> Self {
        Conn {
            reader: BufReader::new(stream),
        }
    }

    /// The socket, e.g. to clone it for a writer thread or to change its timeout.
    pub fn stream(&self) -> &S {
        self.reader.get_ref()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).expect("write request");
    }

    /// Writes `bytes`; the server may legitimately close before all of them are taken.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Sends `request(...)` and reads the complete response.
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

    /// Reads one complete response to a non-HEAD request; panics if it is cut short.
    pub fn read_response(&mut self) -> Response {
        self.read_response_for("GET")
    }

    /// Reads one complete response to a `method` request; panics if it is cut short.
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

    /// Reads one response, which may be cut short (see [`response::read_response`]).
    pub fn try_read_response(&mut self, head_request: bool) -> io::Result<Response> {
        response::read_response(&mut self.reader, head_request)
    }

    /// Reads a response head only; its body is left to raw reads.
    pub fn read_head(&mut self) -> Response {
        response::read_head(&mut self.reader).unwrap_or_else(|e| panic!("reading head: {e}"))
    }

    /// Everything until the server closes the connection (or the read timeout passes).
    pub fn read_to_close(&mut self) -> Exchange {
        let mut bytes = Vec::new();
        let (closed, reset) = loop {
            match self.reader.fill_buf() {
                Ok([]) => break (true, false),
                Ok(buf) => {
                    let n = buf.len();
                    bytes.extend_from_slice(buf);
                    self.reader.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break (true, true),
                Err(_) => break (false, false),
            }
        };
        Exchange {
            bytes,
            closed,
            reset,
        }
    }

    /// True if the server has closed (or reset) the connection. Any byte that arrives instead
    /// is a protocol error in these tests, reported as false.
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
}

impl<S: Read + Write> Read for Conn<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Sends `bytes` as they are on a fresh connection and reads until the server closes it.
pub fn exchange(addr: &str, bytes: &[u8]) -> Exchange {
    let mut conn = Conn::connect(addr);
    // The server may close before everything is written; that is not an error here.
    let _ = conn.try_send(bytes);
    conn.read_to_close()
}

/// One request with `Connection: close` on a fresh connection: the complete response, after
/// which the server must close cleanly (no reset) with nothing more sent.
pub fn fetch(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    try_fetch(addr, method, target, headers, body)
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
}

/// [`fetch`] that describes what went wrong (refused, reset, cut short, more than one
/// response) instead of panicking.
pub fn try_fetch(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let mut conn = Conn::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    conn.try_send(&request(method, target, &all, body))
        .map_err(|e| format!("write: {e}"))?;
    let resp = conn
        .try_read_response(method == "HEAD")
        .map_err(|e| format!("read: {e}"))?;
    if !resp.complete {
        return Err(format!("body cut short after {} bytes", resp.body.len()));
    }
    let rest = conn.read_to_close();
    if !rest.closed || rest.reset || !rest.bytes.is_empty() {
        return Err(format!(
            "after the response: closed={} reset={} {:?}",
            rest.closed,
            rest.reset,
            rest.text()
        ));
    }
    Ok(resp)
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
