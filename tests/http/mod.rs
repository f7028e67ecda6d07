//! The HTTP/1.1 codec, spoken to in raw bytes: framing and persistence (`codec`), strict
//! parsing (`strict`), limits (`limits`), trusted proxies (`proxy`) and slow clients
//! (`timeouts`). The app is `tests/apps/http_echo.py`, which logs every call, so a test can
//! prove that a refused request never reached it.

mod codec;
mod corpus;
mod limits;
mod proxy;
mod slow_bodies;
mod strict;
mod timeouts;

use std::ops::Deref;

use crate::support::{exchange, pyrite, CallLog, Conn, Exchange, Framing, Server};

/// A running `pyrite -w 1` serving `http_echo.py`, and the log of its calls.
pub struct Echo {
    pub server: Server,
    pub calls: CallLog,
}

impl Echo {
    pub fn start(extra: &[&str]) -> Echo {
        let calls = CallLog::new();
        let server = pyrite()
            .env(CallLog::ENV, calls.path())
            .args(extra)
            .app("http_echo")
            .start();
        Echo { server, calls }
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(&self.server.addr)
    }

    /// Sends `bytes` on a fresh connection and reads until the server closes it.
    pub fn exchange(&self, bytes: &[u8]) -> Exchange {
        exchange(&self.server.addr, bytes)
    }

    /// How many times the app has been called.
    pub fn app_calls(&self) -> usize {
        self.calls.count()
    }
}

impl Deref for Echo {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

/// One malformed request and the status it must get.
pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub status: u16,
}

pub fn case(name: &'static str, bytes: impl AsRef<[u8]>, status: u16) -> Case {
    Case {
        name,
        bytes: bytes.as_ref().to_vec(),
        status,
    }
}

/// A valid request sent right behind each malformed one: it must never be answered.
pub const FOLLOWER: &[u8] = b"GET /follower HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends every case (with a pipelined follower) and checks: the expected status,
/// `Connection: close`, the connection closed, one response only, the app never called.
/// Prints one `PROBE` line per case so the corpus doubles as a probe of any server.
pub fn check_rejections(echo: &Echo, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let calls_before = echo.app_calls();
        let mut bytes = case.bytes.clone();
        bytes.extend_from_slice(FOLLOWER);
        let got = echo.exchange(&bytes);
        let called = echo.app_calls() > calls_before;
        let ok = got.status() == case.status
            && got.closed
            && got.has_header("connection", "close")
            && got.responses() == 1
            && !called;
        println!(
            "PROBE {} {}: expected {} got {} closed={} responses={} app_called={}",
            if ok { "ok  " } else { "FAIL" },
            case.name,
            case.status,
            got.status(),
            got.closed,
            got.responses(),
            called
        );
        if !ok {
            failures.push(format!("{}: {:?}", case.name, got.text()));
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

/// A well-formed request that must still be served (proves the checks are not too broad).
pub fn check_accepted(echo: &Echo, name: &str, bytes: &[u8], body: &str) {
    let mut conn = echo.connect();
    conn.send(bytes);
    let r = conn.read_response();
    assert!(
        r.head.starts_with("HTTP/1.1 200") && r.framing == Framing::ContentLength,
        "{name}: {}",
        r.head
    );
    assert_eq!(r.text(), body, "{name}");
}
