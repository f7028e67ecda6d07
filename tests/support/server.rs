//! The server under test: the real `pyrite` executable started with a builder (arguments,
//! environment, working directory), ready once its "listening on" and "booted worker" log
//! lines have appeared (no sleeps), its stdout and stderr captured, and on drop stopped
//! (SIGTERM, then SIGKILL for it and every worker it booted) and reaped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::capture::Captured;
use super::fixture::{apps_dir, bin};
use super::process::{kill, pid_alive, wait_exit};

/// How long a server may take to bind and boot its workers (a debug build imports Python).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on every wait for a log line or an exit, so a bug fails a test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);
/// A longer bound, for waits that include back-off or a re-exec.
pub const LONG_WAIT: Duration = Duration::from_secs(20);

pub const LISTENING: &str = "listening on addr=";
pub const BOOTED: &str = "booted worker pid=";
pub const EXITED: &str = "worker exited pid=";

type PreExec = Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>;

/// What to run: `pyrite -b 127.0.0.1:0 -w 1 ARGS…` unless the arguments (or their `PYRITE_*`
/// twins) say otherwise.
#[derive(Clone, Default)]
pub struct Builder {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    launcher: Vec<String>,
    pre_exec: Option<PreExec>,
    no_default_bind: bool,
    hang_up_logs: bool,
    /// Workers to wait for when no `-w` is given (set by `without_defaults`).
    workers: Option<usize>,
}

pub fn pyrite() -> Builder {
    Builder::default()
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

    /// `--access-logfile -`: the access log (off by default) on stdout.
    pub fn access_log(self) -> Self {
        self.args(&["--access-logfile", "-"])
    }

    /// `--pythonpath tests/apps APP`: one of the apps under `tests/apps`, with any flags given
    /// before it.
    pub fn app(self, app: &str) -> Self {
        self.args(&["--pythonpath", &apps_dir(), app])
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

    /// Runs `PROGRAM ARGS… pyrite …` instead (e.g. a shell that sets up the environment and
    /// `exec`s pyrite, so the pid is still pyrite's), with no default `-b`: the listener comes
    /// from the launcher.
    pub fn launched_by(mut self, program: &str, args: &[&str]) -> Self {
        self.launcher = std::iter::once(program)
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect();
        self.no_default_bind = true;
        self
    }

    /// Whoever reads the server's output goes away once it has booted (`pyrite … 2>&1 | head`):
    /// stdout is closed at once, stderr after the "listening on" and "booted worker" lines
    /// [`Builder::start`] waits for. Every later write of the server meets a closed pipe.
    pub fn hang_up_logs(mut self) -> Self {
        self.hang_up_logs = true;
        self
    }

    /// Adds neither `-b` nor `-w` (a configuration file or the environment gives them); the
    /// server is ready once `workers` workers booted.
    pub fn without_defaults(mut self, workers: usize) -> Self {
        self.no_default_bind = true;
        self.workers = Some(workers);
        self
    }

    /// Runs `f` in the child between fork and exec (async-signal-safe calls only).
    pub fn pre_exec(mut self, f: impl Fn() -> std::io::Result<()> + Send + Sync + 'static) -> Self {
        self.pre_exec = Some(Arc::new(f));
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
        if !self.no_default_bind
            && !has_flag(&self.args, "-b", "--bind")
            && self.env_value("PYRITE_BIND").is_none()
        {
            args.extend(["-b".to_string(), "127.0.0.1:0".to_string()]);
        }
        if !has_flag(&self.args, "-w", "--workers")
            && self.env_value("PYRITE_WORKERS").is_none()
            && self.workers.is_none()
        {
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
            .or(self.workers)
            .unwrap_or(1)
    }

    fn command(&self) -> Command {
        let mut cmd = match self.launcher.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(bin());
                cmd
            }
            None => Command::new(bin()),
        };
        cmd.args(self.full_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The test environment must not leak configuration into the server under test.
        cmd.env_remove("RUST_LOG").env_remove("VIRTUAL_ENV");
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("PYRITE_") || key.starts_with("LISTEN_") {
                cmd.env_remove(&*key);
            }
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if let Some(f) = self.pre_exec.clone() {
            // SAFETY: the closures given to `pre_exec` above make only async-signal-safe calls.
            unsafe {
                cmd.pre_exec(move || f());
            }
        }
        cmd
    }

    /// Spawns without waiting for anything (for startup failures, or logs sent to a file).
    pub fn spawn(&self) -> Server {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin().display()));
        let (out, err) = if self.hang_up_logs {
            let (listeners, workers) = (self.expected_listeners(), self.expected_workers());
            let booted = move |text: &str| {
                text.matches(LISTENING).count() >= listeners
                    && text.matches(BOOTED).count() >= workers
            };
            drop(child.stdout.take());
            (
                Captured::hung_up(),
                Captured::pump_until(child.stderr.take().unwrap(), booted),
            )
        } else {
            (
                Captured::pump(child.stdout.take().unwrap()),
                Captured::pump(child.stderr.take().unwrap()),
            )
        };
        Server {
            child,
            addrs: Vec::new(),
            addr: String::new(),
            out,
            err,
            status: None,
        }
    }

    /// Spawns, then waits for every listener and every worker to be up.
    pub fn start(&self) -> Server {
        let mut server = self.spawn();
        let listeners = self.expected_listeners();
        let workers = self.expected_workers();
        for (needle, count, what) in [(LISTENING, listeners, "listen"), (BOOTED, workers, "boot")] {
            if !server.wait_for_stderr(needle, count, STARTUP_TIMEOUT) {
                panic!(
                    "pyrite did not {what} {count} time(s)\nargs: {:?}\nstderr:\n{}",
                    self.full_args(),
                    server.stderr()
                );
            }
        }
        server.addrs = server
            .stderr()
            .lines()
            .filter_map(|l| l.split(LISTENING).nth(1))
            .map(|rest| first_word(rest).trim_matches('"').to_string())
            .collect();
        server.addr = server
            .addrs
            .iter()
            .find(|a| !a.starts_with("unix:"))
            .or(server.addrs.first())
            .cloned()
            .unwrap_or_default();
        server
    }

    /// Runs to completion (bounded by `timeout`, then killed).
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

fn has_flag(args: &[String], short: &str, long: &str) -> bool {
    args.iter().any(|a| {
        a == short
            || a == long
            || a.starts_with(&format!("{long}="))
            || (a.starts_with(short) && a.len() > 2 && !a.starts_with("--"))
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

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// How a run to completion ended.
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

    /// An app from `tests/apps` with one worker.
    pub fn app(app: &str) -> Server {
        pyrite().app(app).start()
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
        first_word(rest).parse().unwrap()
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

    /// Workers that booted and are still running (a recycled worker is not logged as exited).
    pub fn live_workers(&self) -> Vec<i32> {
        self.all_worker_pids()
            .into_iter()
            .filter(|&p| pid_alive(p))
            .collect()
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

    /// Waits for the master to exit, bounded; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, &mut self.status, timeout)
    }

    /// Like `wait_exit`, but panics (naming `why`) if the master does not exit.
    pub fn expect_exit(&mut self, timeout: Duration, why: &str) -> ExitStatus {
        self.wait_exit(timeout)
            .unwrap_or_else(|| panic!("master did not exit within {timeout:?} after {why}"))
    }

    /// SIGTERM and wait (bounded) for the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        self.wait_exit(WAIT)
    }

    fn kill_all(&mut self, sig: i32) {
        self.signal(sig);
        // Workers should die with the master; make sure ours do even if that is broken.
        for pid in self.live_workers() {
            kill(pid, sig);
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
        for pid in self.live_workers() {
            kill(pid, libc::SIGKILL);
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
