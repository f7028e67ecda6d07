//! Shared helpers for the `http_*` integration tests: start the real binary with a small WSGI
//! app written into a temporary directory (it appends one line per call to a marker file, so a
//! test can prove the app was never called), and talk raw bytes to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(10);

/// The test app: `/env` answers selected environ keys as `KEY=value` lines, `/stream` streams a
/// generator, anything else echoes the request body (or says hello). Every call is recorded.
const APP: &str = r#"
import os
import time
MARK = os.environ["HTTP_TEST_MARK"]

def application(environ, start_response):
    with open(MARK, "a") as f:
        f.write(environ["REQUEST_METHOD"] + " " + environ["PATH_INFO"] + "\n")
    path = environ["PATH_INFO"]
    if path == "/env":
        keys = ["REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "HTTP_X_FORWARDED_FOR",
                "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED", "SERVER_NAME"]
        out = "".join("%s=%s\n" % (k, environ.get(k, "")) for k in keys).encode("latin-1")
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part%d\n" % i for i in range(3))
    elif path == "/fail":
        def failing():
            yield b"first"
            raise RuntimeError("body failed on purpose")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return failing()
    elif path == "/slow":
        time.sleep(0.5)
        out = b"slow"
    elif path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(2048))
    elif path == "/bad-header":
        start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
        return [b"no"]
    else:
        body = environ["wsgi.input"].read()
        out = body if body else b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
"#;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pyrite")
}

pub fn tmpdir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("http-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test tmpdir");
    dir
}

/// Lines captured from one of the child's pipes.
#[derive(Default)]
struct Captured {
    text: Mutex<String>,
    changed: Condvar,
}

impl Captured {
    fn pump(self: Arc<Self>, pipe: impl Read + Send + 'static) {
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                self.text.lock().unwrap().push_str(&line);
                self.changed.notify_all();
                line.clear();
            }
        });
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut text = self.text.lock().unwrap();
        while !text.contains(needle) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            text = self.changed.wait_timeout(text, deadline - now).unwrap().0;
        }
        true
    }
}

/// A running `pyrite -w 1` serving the test app on an ephemeral port.
pub struct Server {
    child: Child,
    pub addr: String,
    pub mark: PathBuf,
    pub dir: PathBuf,
    err: Arc<Captured>,
    out: Arc<Captured>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let dir = tmpdir("app");
        std::fs::write(dir.join("strictapp.py"), APP).expect("write app");
        let mark = dir.join("calls.log");
        let mut child = Command::new(bin())
            .args(["-b", "127.0.0.1:0", "-w", "1", "--pythonpath"])
            .arg(&dir)
            .args(extra)
            .arg("strictapp:application")
            .env("HTTP_TEST_MARK", &mark)
            .env_remove("RUST_LOG")
            .env_remove("VIRTUAL_ENV")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pyrite");
        let err = Arc::new(Captured::default());
        let out = Arc::new(Captured::default());
        err.clone().pump(child.stderr.take().unwrap());
        out.clone().pump(child.stdout.take().unwrap());
        let mut server = Server {
            child,
            addr: String::new(),
            mark,
            dir,
            err,
            out,
        };
        assert!(
            server
                .err
                .wait_for("booted worker pid=", Duration::from_secs(30)),
            "pyrite did not boot:\n{}",
            server.stderr()
        );
        let text = server.stderr();
        server.addr = text
            .split("listening on addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("")
            .trim_matches('"')
            .to_owned();
        server
    }

    /// Asks the master for a graceful stop (SIGTERM).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits (bounded) for the master to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn stderr(&self) -> String {
        self.err.text.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.out.text.lock().unwrap().clone()
    }

    /// How many times the app has been called.
    pub fn app_calls(&self) -> usize {
        std::fs::read_to_string(&self.mark)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        stream
    }

    /// Sends `request` on a fresh connection and reads until the server closes it (or `WAIT`).
    pub fn exchange(&self, request: &[u8]) -> Exchange {
        let mut stream = self.connect();
        // The server may close before everything is written; that is not an error here.
        let _ = stream.write_all(request);
        read_to_close(&mut stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!("---- pyrite stderr ----\n{}", self.stderr());
        }
    }
}

/// Everything the server sent, and whether it closed the connection.
pub struct Exchange {
    pub bytes: Vec<u8>,
    pub closed: bool,
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

    pub fn has_header(&self, name: &str, value: &str) -> bool {
        let head = self.text();
        let head = head.split("\r\n\r\n").next().unwrap_or("");
        head.lines().any(|l| {
            l.split_once(':').is_some_and(|(n, v)| {
                n.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case(value)
            })
        })
    }
}

pub fn read_to_close(stream: &mut TcpStream) -> Exchange {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                return Exchange {
                    bytes,
                    closed: true,
                }
            }
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Exchange {
                    bytes,
                    closed: true,
                }
            }
            Err(_) => {
                return Exchange {
                    bytes,
                    closed: false,
                }
            }
        }
    }
}

/// Reads one response with a Content-Length body (enough for the keep-alive checks).
pub fn read_response(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return String::from_utf8_lossy(&head).into_owned(),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let len = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = stream.read_exact(&mut body);
    text + &String::from_utf8_lossy(&body)
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
pub fn check_rejections(server: &Server, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let calls_before = server.app_calls();
        let mut bytes = case.bytes.clone();
        bytes.extend_from_slice(FOLLOWER);
        let got = server.exchange(&bytes);
        let called = server.app_calls() > calls_before;
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
pub fn check_accepted(server: &Server, name: &str, bytes: &[u8], body: &str) {
    let mut stream = server.connect();
    stream.write_all(bytes).unwrap();
    let response = read_response(&mut stream);
    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with(body),
        "{name}: {response:?}"
    );
}
