//! Harness for the integration tests: start the real `pyrite` binary, wait for its
//! "listening on" and "booted worker" log lines (no sleeps), capture stdout/stderr, and
//! SIGTERM → SIGKILL → reap it on drop. HTTP helpers live in `http.rs`, a tiny JSON reader
//! for the apps' answers in `json.rs`.
#![allow(dead_code)]

pub mod http;
pub mod json;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to bind and boot its workers (a debug build imports Python).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on every wait for a log line or an exit, so a bug fails a test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

pub const LISTENING: &str = "listening on addr=";
pub const BOOTED: &str = "booted worker pid=";
pub const EXITED: &str = "worker exited pid=";

/// The server under test: this build's binary, or the executable `PYRITE_TEST_BIN` names (a
/// wheel-installed `pyrite`, see `scripts/test-wheels`).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("PYRITE_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pyrite").into())
    })
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/apps`, the folder of one-behaviour WSGI apps; pass it as `--pythonpath`.
pub fn apps_dir() -> String {
    manifest_dir()
        .join("tests")
        .join("apps")
        .to_string_lossy()
        .into_owned()
}

/// A fresh, empty directory under cargo's per-target temp dir, unique per call and process.
pub fn tmpdir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test tmpdir");
    dir
}

/// Text captured from one of the child's pipes, appended line by line by a reader thread.
pub struct Captured {
    state: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Captured {
    pub fn new() -> Arc<Self> {
        Arc::new(Captured {
            state: Mutex::new((String::new(), false)),
            changed: Condvar::new(),
        })
    }

    /// Appends what `pipe` yields, a line at a time, on a thread of its own.
    pub fn pump(self: Arc<Self>, pipe: impl Read + Send + 'static) -> thread::JoinHandle<()> {
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let mut state = self.state.lock().unwrap();
                        state.0.push_str(&String::from_utf8_lossy(&line));
                        self.changed.notify_all();
                    }
                }
            }
            self.state.lock().unwrap().1 = true;
            self.changed.notify_all();
        })
    }

    pub fn text(&self) -> String {
        self.state.lock().unwrap().0.clone()
    }

    /// Wait until `needle` occurs at least `count` times; false on timeout or pipe closed.
    pub fn wait_for(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if state.0.matches(needle).count() >= count {
                return true;
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Wait until the pipe is closed (the process and every holder of the pipe are gone).
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        while !state.1 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
        true
    }
}

/// What to run: arguments, environment, working directory.
#[derive(Clone, Default)]
pub struct Builder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
}

pub fn pyrite() -> Builder {
    Builder::default()
}

fn has_flag(args: &[String], short: &str, long: &str) -> bool {
    args.iter().any(|a| {
        a == short || a == long || a.starts_with(&format!("{long}=")) || {
            short.len() == 2 && a.starts_with(short) && a.len() > 2 && !a.starts_with("--")
        }
    })
}

fn flag_value(args: &[String], short: &str, long: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == short || a == long {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(&format!("{long}=")) {
            return Some(v.to_string());
        }
    }
    None
}

impl Builder {
    pub fn arg(mut self, arg: impl AsRef<str>) -> Self {
        self.args.push(arg.as_ref().to_string());
        self
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<str>) -> Self {
        self.envs
            .push((key.to_string(), value.as_ref().to_string()));
        self
    }

    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    fn env_value(&self, key: &str) -> Option<&str> {
        self.envs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The final argv: `-b 127.0.0.1:0` and `-w 1` are added unless given (by flag or env).
    fn full_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !has_flag(&self.args, "-b", "--bind") && self.env_value("PYRITE_BIND").is_none() {
            args.extend(["-b".to_string(), "127.0.0.1:0".to_string()]);
        }
        if !has_flag(&self.args, "-w", "--workers") && self.env_value("PYRITE_WORKERS").is_none() {
            args.extend(["-w".to_string(), "1".to_string()]);
        }
        args.extend(self.args.iter().cloned());
        args
    }

    fn expected_listeners(&self) -> usize {
        let binds = self
            .args
            .iter()
            .filter(|a| *a == "-b" || *a == "--bind" || a.starts_with("--bind="))
            .count();
        binds.max(1)
    }

    fn expected_workers(&self) -> usize {
        flag_value(&self.args, "-w", "--workers")
            .or_else(|| self.env_value("PYRITE_WORKERS").map(str::to_string))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(self.full_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The test environment must not leak configuration into the server under test.
        cmd.env_remove("RUST_LOG").env_remove("VIRTUAL_ENV");
        for (key, _) in std::env::vars() {
            if key.starts_with("PYRITE_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Spawn without waiting for anything (for tests of startup failures).
    pub fn spawn(&self) -> Server {
        let mut child = self.command().spawn().expect("spawn pyrite");
        let out = Captured::new();
        let err = Captured::new();
        out.clone().pump(child.stdout.take().unwrap());
        err.clone().pump(child.stderr.take().unwrap());
        Server {
            child,
            addrs: Vec::new(),
            addr: String::new(),
            out,
            err,
            status: None,
        }
    }

    /// Spawn, then wait for every listener and every worker to be up.
    pub fn start(&self) -> Server {
        let mut server = self.spawn();
        let listeners = self.expected_listeners();
        let workers = self.expected_workers();
        if !server.err.wait_for(LISTENING, listeners, STARTUP_TIMEOUT) {
            panic!(
                "pyrite did not log {listeners} x {LISTENING:?}\nargs: {:?}\nstderr:\n{}",
                self.full_args(),
                server.stderr()
            );
        }
        server.addrs = server
            .stderr()
            .lines()
            .filter_map(|l| l.split(LISTENING).nth(1))
            .map(|rest| {
                rest.split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"')
                    .to_string()
            })
            .collect();
        server.addr = server
            .addrs
            .iter()
            .find(|a| !a.starts_with("unix:"))
            .or(server.addrs.first())
            .cloned()
            .unwrap_or_default();
        if !server.err.wait_for(BOOTED, workers, STARTUP_TIMEOUT) {
            panic!(
                "pyrite did not boot {workers} worker(s)\nargs: {:?}\nstderr:\n{}",
                self.full_args(),
                server.stderr()
            );
        }
        server
    }

    /// Run to completion (bounded by `timeout`); `None` exit code means it had to be killed.
    pub fn run_to_exit(&self, timeout: Duration) -> Exited {
        let mut server = self.spawn();
        let status = server.wait_exit(timeout);
        if status.is_none() {
            server.kill_all(libc::SIGKILL);
            let _ = server.child.wait();
        }
        // Both pipes close once the master and its workers are gone.
        server.out.wait_closed(WAIT);
        server.err.wait_closed(WAIT);
        Exited {
            code: status.and_then(|s| s.code()),
            stdout: server.stdout(),
            stderr: server.stderr(),
        }
    }
}

pub struct Exited {
    /// None if it did not exit within the timeout (or died from a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// A running pyrite master.
pub struct Server {
    child: Child,
    /// Every `listening on addr=` value, in log order (`127.0.0.1:PORT`, `[::1]:PORT`, `unix:PATH`).
    pub addrs: Vec<String>,
    /// The first TCP address (or the first address if there is no TCP one).
    pub addr: String,
    out: Arc<Captured>,
    err: Arc<Captured>,
    status: Option<ExitStatus>,
}

impl Server {
    /// `pyrite -b 127.0.0.1:0 -w 1 ARGS...`, started and ready.
    pub fn start(args: &[&str]) -> Server {
        pyrite().args(args).start()
    }

    /// Start an app from `tests/apps` with one worker.
    pub fn app(app: &str) -> Server {
        pyrite().args(&["--pythonpath", &apps_dir(), app]).start()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stdout(&self) -> String {
        self.out.text()
    }

    pub fn stderr(&self) -> String {
        self.err.text()
    }

    pub fn wait_for_stderr(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.err.wait_for(needle, count, timeout)
    }

    pub fn wait_for_stdout(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.out.wait_for(needle, count, timeout)
    }

    /// The byte count of the access-log line `"GET TARGET HTTP/1.1" STATUS BYTES …`, once it
    /// is written.
    pub fn logged_bytes(&self, target: &str, status: u16) -> u64 {
        let needle = format!("\"GET {target} HTTP/1.1\" {status} ");
        assert!(
            self.wait_for_stdout(&needle, 1, WAIT),
            "no {needle:?} in the access log:\n{}",
            self.stdout()
        );
        let log = self.stdout();
        let rest = log.split(&needle).nth(1).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }

    /// Pids of workers that booted and have not been reported as exited, in boot order.
    pub fn worker_pids(&self) -> Vec<i32> {
        let text = self.stderr();
        let exited = pids_after(&text, EXITED);
        pids_after(&text, BOOTED)
            .into_iter()
            .filter(|p| !exited.contains(p))
            .collect()
    }

    /// Every worker pid ever booted.
    pub fn all_worker_pids(&self) -> Vec<i32> {
        pids_after(&self.stderr(), BOOTED)
    }

    /// The path of a `unix:PATH` listener, if any.
    pub fn unix_path(&self) -> Option<PathBuf> {
        self.addrs
            .iter()
            .find_map(|a| a.strip_prefix("unix:"))
            .map(PathBuf::from)
    }

    pub fn signal(&self, sig: i32) {
        if self.status.is_none() {
            kill(self.pid(), sig);
        }
    }

    /// Wait for the master to exit, bounded; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, &mut self.status, timeout)
    }

    /// SIGTERM and wait (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        self.wait_exit(WAIT)
    }

    fn kill_all(&mut self, sig: i32) {
        if self.status.is_none() {
            kill(self.pid(), sig);
        }
        if sig == libc::SIGKILL {
            // Workers should die with the master; make sure ours do even if that is broken.
            for pid in self.all_worker_pids() {
                if pid_alive(pid) {
                    kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.signal(libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                self.kill_all(libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        for pid in self.all_worker_pids() {
            if pid_alive(pid) {
                kill(pid, libc::SIGKILL);
            }
        }
        if thread::panicking() {
            eprintln!(
                "---- pyrite stderr ----\n{}\n---- pyrite stdout ----\n{}",
                self.stderr(),
                self.stdout()
            );
        }
    }
}

fn pids_after(text: &str, marker: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| l.split(marker).nth(1))
        .filter_map(|rest| {
            rest.trim_start_matches('"')
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
        })
        .collect()
}

pub fn kill(pid: i32, sig: i32) {
    assert!(pid > 0, "refusing to signal pid {pid}");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is one we spawned.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => !matches!(
            stat.rsplit(')').next().map(str::trim_start),
            Some(s) if s.starts_with('Z') || s.starts_with('X')
        ),
        Err(_) => false,
    }
}

/// Poll (bounded) until `pid` is gone.
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Poll `check` (bounded) until it returns true.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Assert that stderr carries no sign of a wsgiref.validate complaint or app failure.
pub fn assert_no_validator_complaints(stderr: &str) {
    for bad in [
        "AssertionError",
        "WSGIWarning",
        "without being closed",
        "Traceback",
    ] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}:\n{stderr}");
    }
}

/// Waits for `child` to exit, bounded, remembering its status in `status` (a child is reaped
/// once); `None` if it is still running after `timeout`.
pub fn wait_exit(
    child: &mut Child,
    status: &mut Option<ExitStatus>,
    timeout: Duration,
) -> Option<ExitStatus> {
    if status.is_some() {
        return *status;
    }
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(exited)) => {
                *status = Some(exited);
                return *status;
            }
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}
