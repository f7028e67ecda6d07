//! `--metrics-bind`: the master answers `GET /metrics` with Prometheus's text format (0.0.4),
//! in plain Rust from its own loop — no thread (the master forks), no Python. The listening
//! socket and its few connections are non-blocking and polled with the master's other
//! descriptors; a connection gets a few seconds to send its request head, a response that the
//! socket does not take at once is abandoned, and past a handful of connections the oldest is
//! dropped for the newest: a scraper can never hold the master, and connections left open
//! (slow, or never sending a request) cannot lock the next scrape out.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Connections held at once; a newer one pushes the oldest out.
const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A request head longer than this is refused.
const MAX_HEAD: usize = 8192;

struct Pending {
    stream: TcpStream,
    head: Vec<u8>,
    deadline: Instant,
}

pub struct Exporter {
    listener: TcpListener,
    pending: Vec<Pending>,
}

impl Exporter {
    pub fn bind(addr: SocketAddr) -> std::io::Result<Exporter> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Exporter {
            listener,
            pending: Vec::new(),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The descriptors the master's loop waits on.
    pub fn fds(&self) -> Vec<RawFd> {
        std::iter::once(self.listener.as_raw_fd())
            .chain(self.pending.iter().map(|p| p.stream.as_raw_fd()))
            .collect()
    }

    /// Accepts, reads and answers whatever is ready, without blocking. `render` makes the
    /// metrics text, only when a scrape asks for it.
    pub fn turn(&mut self, render: &dyn Fn() -> String) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    if self.pending.len() >= MAX_CONNECTIONS {
                        // The oldest has had the longest to send its request.
                        self.pending.remove(0);
                    }
                    self.pending.push(Pending {
                        stream,
                        head: Vec::new(),
                        deadline: Instant::now() + HEAD_TIMEOUT,
                    });
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::debug!(error = %err, "metrics: accept failed");
                    break;
                }
            }
        }
        let now = Instant::now();
        self.pending.retain_mut(|p| match read_head(p) {
            Progress::More => now < p.deadline,
            Progress::Closed => false,
            Progress::Head(target) => {
                let response = match target.as_deref() {
                    Some("/metrics") => reply(
                        "200 OK",
                        "text/plain; version=0.0.4; charset=utf-8",
                        &render(),
                    ),
                    Some(_) => reply("404 Not Found", "text/plain", "try /metrics\n"),
                    None => reply("400 Bad Request", "text/plain", "bad request\n"),
                };
                // One try: a scraper that does not take a few KiB at once is not waited for.
                let _ = p.stream.write(response.as_bytes());
                false
            }
        });
    }
}

enum Progress {
    More,
    Closed,
    /// The request head is complete: the target of a GET (`None`: not a GET).
    Head(Option<String>),
}

fn read_head(p: &mut Pending) -> Progress {
    let mut buf = [0u8; 1024];
    loop {
        match p.stream.read(&mut buf) {
            Ok(0) => return Progress::Closed,
            Ok(n) => {
                p.head.extend_from_slice(&buf[..n]);
                if p.head.windows(4).any(|w| w == b"\r\n\r\n")
                    || p.head.windows(2).any(|w| w == b"\n\n")
                {
                    return Progress::Head(get_target(&p.head));
                }
                if p.head.len() > MAX_HEAD {
                    return Progress::Head(None);
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Progress::More,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Progress::Closed,
        }
    }
}

/// The path of `GET PATH HTTP/1.x` (the query dropped).
fn get_target(head: &[u8]) -> Option<String> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if method != "GET" || !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return None;
    }
    Some(target.split('?').next().unwrap_or(target).to_owned())
}

fn reply(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            get_target(b"GET /metrics HTTP/1.1\r\n\r\n").as_deref(),
            Some("/metrics")
        );
        assert_eq!(
            get_target(b"GET /metrics?x=1 HTTP/1.0\r\n").as_deref(),
            Some("/metrics")
        );
        assert_eq!(get_target(b"POST /metrics HTTP/1.1\r\n"), None);
        assert_eq!(get_target(b"GET  /metrics HTTP/1.1\r\n"), None);
    }
}
