//! Helpers shared by the `supervision_*` tests, on top of `common`: a request stream that
//! records failures instead of panicking, pid files, /proc readings, apps written into temp
//! dirs, and a bare process wrapper for launches the harness cannot express (a shell wrapper
//! for systemd socket activation, log files instead of stderr).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::http::get;
use crate::common::json::Value;
use crate::common::{self, kill, pid_alive, wait_pid_gone, Captured};

/// The number in a JSON answer's member `key`, as a pid/uid/etc.
pub fn num(v: &Value, key: &str) -> i64 {
    match v.at(key) {
        Value::Num(n) => *n as i64,
        other => panic!("{key} is not a number: {other:?}"),
    }
}

/// GET `target` on a fresh connection, expect 200 with JSON.
pub fn get_json(addr: &str, target: &str) -> Value {
    let r = get(addr, target);
    assert_eq!(r.status, 200, "GET {target}: {} {}", r.status, r.text());
    r.json()
}

/// The pid of the worker that answered `GET /` (apps answer `{"pid": ...}`).
pub fn answering_pid(addr: &str) -> i32 {
    num(&get_json(addr, "/"), "pid") as i32
}

/// One request on a fresh connection that never panics: `Ok((status, body))` or a description
/// of what went wrong (refused, reset, cut short, unparseable).
pub fn try_get(addr: &str, target: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(common::http::IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(common::http::IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read: {e} (after {} bytes)", raw.len()))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete head in {text:?}"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    if let Some(len) = length {
        if body.len() != len {
            return Err(format!("body cut short: {} of {len} bytes", body.len()));
        }
    }
    Ok((status, body.to_string()))
}

/// The pid in a JSON body, if there is one.
pub fn pid_in(body: &str) -> Option<i32> {
    match common::json::parse(body).ok()?.get("pid")? {
        Value::Num(n) => Some(*n as i32),
        _ => None,
    }
}

/// What one request of a [`Stream`] gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<(u16, String), String>,
    pub at: Instant,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        matches!(&self.result, Ok((200, _)))
    }

    pub fn pid(&self) -> Option<i32> {
        self.result.as_ref().ok().and_then(|(_, b)| pid_in(b))
    }
}

/// A client thread sending sequential `GET target` requests, each on a fresh connection,
/// until stopped.
pub struct Stream {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Outcome>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Stream {
    pub fn start(addr: &str, target: &str, pause: Duration) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handle = {
            let (stop, seen) = (stop.clone(), seen.clone());
            let (addr, target) = (addr.to_string(), target.to_string());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let result = try_get(&addr, &target);
                    seen.lock().unwrap().push(Outcome {
                        result,
                        at: Instant::now(),
                    });
                    if !pause.is_zero() {
                        thread::sleep(pause);
                    }
                }
            })
        };
        Stream {
            stop,
            seen,
            handle: Some(handle),
        }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn snapshot(&self) -> Vec<Outcome> {
        self.seen.lock().unwrap().clone()
    }

    /// Stops the thread and returns every outcome in order.
    pub fn finish(mut self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("stream thread panicked");
        }
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Panics listing every failed request of a stream.
pub fn assert_all_ok(outcomes: &[Outcome], what: &str) {
    let failed: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.ok())
        .map(|(i, o)| match &o.result {
            Ok((status, body)) => format!("#{i}: status {status}: {body}"),
            Err(e) => format!("#{i}: {e}"),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{what}: {} of {} requests failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}

/// Sends SIGTERM to a process the test did not spawn itself (a re-executed master) when
/// dropped, then SIGKILL if it lingers.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 && pid_alive(self.0) {
            kill(self.0, libc::SIGTERM);
            if !wait_pid_gone(self.0, Duration::from_secs(5)) {
                kill(self.0, libc::SIGKILL);
            }
        }
    }
}

/// The pid in a pid file, if it exists and holds one.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `/proc/PID/cmdline` with NULs shown as spaces.
pub fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// The parent pid from `/proc/PID/stat`.
pub fn ppid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A `KEY:  N kB` field of `/proc/PID/smaps_rollup`, in KiB.
pub fn smaps_rollup_kib(pid: i32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/smaps_rollup: {e}"));
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no {key} in smaps_rollup of {pid}:\n{text}"))
}

/// Poll (bounded) until the file at `path` contains `needle`.
pub fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> bool {
    common::eventually(timeout, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

/// A small app, written into `dir` as `MODULE.py`, answering `{"version": VERSION, "pid": ...}`.
pub fn versioned_app(version: &str) -> String {
    format!(
        r#"import json
import os

VERSION = "{version}"


def application(environ, start_response):
    out = json.dumps({{"version": VERSION, "pid": os.getpid()}}).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
"#
    )
}

/// Source that no longer imports (a syntax error), with a recognisable marker in it.
pub const BROKEN_APP: &str = "import os\n\ndef application(environ, start_response:\n    return [b'never']  # broken-on-purpose\n";

/// A temp dir holding `MODULE.py` with `source`.
pub fn app_dir(name: &str, module: &str, source: &str) -> PathBuf {
    let dir = common::tmpdir(name);
    write_module(&dir, module, source);
    dir
}

/// (Re)writes `MODULE.py` in `dir` and drops any cached bytecode for it, so the next import
/// compiles the new source whatever the file's mtime granularity.
pub fn write_module(dir: &Path, module: &str, source: &str) {
    let _ = std::fs::remove_dir_all(dir.join("__pycache__"));
    let tmp = dir.join(format!(".{module}.py.tmp"));
    std::fs::write(&tmp, source).expect("write app source");
    std::fs::rename(&tmp, dir.join(format!("{module}.py"))).expect("move app source in place");
}

/// The `"version"` a versioned app answers with, or None on any failure.
pub fn version_at(addr: &str) -> Option<String> {
    let (status, body) = try_get(addr, "/").ok()?;
    if status != 200 {
        return None;
    }
    common::json::parse(&body)
        .ok()?
        .get("version")?
        .as_str()
        .map(str::to_string)
}

/// A pyrite process started from a caller-built `Command` (for launches the harness cannot
/// express). Stderr is captured; the process is stopped and reaped on drop.
pub struct BareServer {
    child: Child,
    err: Arc<Captured>,
    status: Option<ExitStatus>,
}

impl BareServer {
    /// `program args...` with the same environment hygiene as the harness, and `pre_exec`
    /// run in the child before exec.
    pub fn spawn(
        program: &str,
        args: &[String],
        envs: &[(&str, String)],
        pre_exec: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> BareServer {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.env_remove("RUST_LOG").env_remove("VIRTUAL_ENV");
        for (key, _) in std::env::vars() {
            if key.starts_with("PYRITE_") || key.starts_with("LISTEN_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        // SAFETY: the closure only makes async-signal-safe calls (dup2).
        unsafe {
            cmd.pre_exec(pre_exec);
        }
        let mut child = cmd.spawn().expect("spawn");
        let err = Captured::new();
        err.clone().pump(child.stderr.take().unwrap());
        BareServer {
            child,
            err,
            status: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr(&self) -> String {
        self.err.text()
    }

    pub fn wait_for_stderr(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.err.wait_for(needle, count, timeout)
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        crate::common::wait_exit(&mut self.child, &mut self.status, timeout)
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if self.status.is_none() {
            kill(self.pid(), libc::SIGTERM);
            if self.wait_exit(Duration::from_secs(5)).is_none() {
                kill(self.pid(), libc::SIGKILL);
                let _ = self.child.wait();
            }
        }
        if thread::panicking() {
            eprintln!("---- pyrite stderr ----\n{}", self.stderr());
        }
    }
}

/// Clears FD_CLOEXEC so a child inherits `fd` under the same number.
pub fn clear_cloexec(fd: i32) {
    // SAFETY: fcntl on a descriptor the caller owns; the result is checked.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    assert_eq!(rc, 0, "fcntl(F_SETFD) on {fd}");
}

/// Bounded wait for the master's exit; panics with its stderr if it does not exit.
pub fn expect_exit(server: &mut common::Server, timeout: Duration, why: &str) -> ExitStatus {
    match server.wait_exit(timeout) {
        Some(status) => status,
        None => panic!("master did not exit within {timeout:?} after {why}"),
    }
}

/// A longer bound than `common::WAIT`, for waits that include back-off or a re-exec.
pub const LONG_WAIT: Duration = Duration::from_secs(20);

/// A uid/gid lookup through libc (name → (uid, primary gid)).
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam returns NULL or a pointer to a static record, read at once.
    unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        (!pw.is_null()).then(|| ((*pw).pw_uid, (*pw).pw_gid))
    }
}

/// A group's gid through libc.
pub fn group_id(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: getgrnam returns NULL or a pointer to a static record, read at once.
    unsafe {
        let gr = libc::getgrnam(cname.as_ptr());
        (!gr.is_null()).then(|| (*gr).gr_gid)
    }
}

/// True when running as root (privilege tests skip otherwise).
pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Workers that booted and are still running (recycled workers are not logged as "exited").
pub fn live_workers(server: &common::Server) -> Vec<i32> {
    server
        .all_worker_pids()
        .into_iter()
        .filter(|&p| pid_alive(p))
        .collect()
}
