//! Helpers shared by the `static_*` integration tests: start the real binary on an ephemeral
//! port (waiting for its "listening on" and "booted worker" lines, no sleeps), speak raw
//! HTTP/1.1 over TCP, and build document roots in fresh temporary directories. Self-contained
//! so these tests build on their own.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(30);

/// A fresh, empty directory under cargo's per-target temp dir.
pub fn tmpdir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("static-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test tmpdir");
    dir
}

/// Text read from a child's pipe by a thread, with waiting for a needle.
#[derive(Default)]
struct Pipe {
    text: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Pipe {
    fn pump(pipe: impl Read + Send + 'static) -> Arc<Pipe> {
        let this = Arc::new(Pipe::default());
        let shared = this.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                shared.text.lock().unwrap().0 += &String::from_utf8_lossy(&line);
                shared.changed.notify_all();
                line.clear();
            }
            shared.text.lock().unwrap().1 = true;
            shared.changed.notify_all();
        });
        this
    }

    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.text.lock().unwrap();
        loop {
            if state.0.contains(needle) {
                return true;
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}

/// A running `pyrite -b 127.0.0.1:0 -w 1 ARGS…`, stopped and reaped on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    pub worker: i32,
    out: Arc<Pipe>,
    err: Arc<Pipe>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    /// `start`, with extra environment variables (`PYRITE_*` twins of flags).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pyrite"));
        // The test environment must not configure the server under test.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PYRITE_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .args(["-b", "127.0.0.1:0", "-w", "1"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("VIRTUAL_ENV")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pyrite");
        let out = Pipe::pump(child.stdout.take().unwrap());
        let err = Pipe::pump(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            addr: String::new(),
            worker: 0,
            out,
            err,
        };
        assert!(
            server.err.wait_for("booted worker pid=", STARTUP),
            "pyrite did not start: {}",
            server.stderr()
        );
        let stderr = server.stderr();
        server.addr = after(&stderr, "listening on addr=")
            .trim_matches('"')
            .to_owned();
        server.worker = after(&stderr, "booted worker pid=").parse().unwrap();
        server
    }

    pub fn stdout(&self) -> String {
        self.out.text.lock().unwrap().0.clone()
    }

    pub fn stderr(&self) -> String {
        self.err.text.lock().unwrap().0.clone()
    }

    /// Waits (bounded) until the access log holds `needle`.
    pub fn wait_for_stdout(&self, needle: &str) -> bool {
        self.out.wait_for(needle, Duration::from_secs(10))
    }

    /// Waits (bounded) until stderr holds `needle`.
    pub fn wait_for_stderr(&self, needle: &str) -> bool {
        self.err.wait_for(needle, Duration::from_secs(10))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    /// One request on a fresh connection, read to the end of the response.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            raw += &format!("{name}: {value}\r\n");
        }
        raw += "\r\n";
        self.raw(raw.as_bytes())
    }

    /// Sends `bytes` as they are and reads until the server closes.
    pub fn raw(&self, bytes: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(bytes).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read response");
        Reply::parse(&response)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on the child we spawned; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.worker > 0 {
            // SAFETY: as above, for the worker the master forked.
            unsafe { libc::kill(self.worker, libc::SIGKILL) };
        }
    }
}

fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.split(marker)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("")
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn parse(raw: &[u8]) -> Reply {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        }
    }

    /// The one value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A process's resident set in KiB, from /proc/PID/status.
pub fn vm_rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}
