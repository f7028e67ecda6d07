//! The master: binds every listener, forks the workers, then only supervises. Pure Rust — no
//! Python (unless `--preload`), no tokio, no threads — so forking is always sound and no app
//! code can take it down. Signals become a lifecycle [`Phase`]; `waitpid` becomes a respawn;
//! the workers' shared-memory slots become hung-worker kills.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::entry::Relaunch;
use crate::heartbeat::{self, Verdict};
use crate::listener::Listener;
use crate::sys::{self, BootPipe, ExitStatus, Pid, SharedSlots, SignalPipe};
use crate::{reloader, worker, wsgi};

/// A worker that could not start its interpreter, or no worker could boot at all.
pub const EXIT_BOOT_ERROR: i32 = 3;
/// A worker whose app could not be imported (gunicorn uses the same code).
pub const EXIT_APP_LOAD_ERROR: i32 = 4;

/// A worker that dies sooner than this after being forked counts as a crash loop.
const QUICK_DEATH: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Workers dying before they boot this many times in a row means none ever will.
const MAX_BOOT_FAILURES: u32 = 5;
/// After SIGABRT, how long a hung worker gets before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(1);
/// The supervision loop wakes at least this often.
const TICK: Duration = Duration::from_millis(100);
/// Shared-memory slots for workers (an upper bound on `--workers` plus a reload's overlap).
const SLOTS: usize = 1024;
/// Set in the environment of a master started by USR2, naming the master it replaces.
const UPGRADE_ENV: &str = "PYRITE_UPGRADE_FROM";

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("inherited sockets (LISTEN_FDS): {0}")]
    Inherit(std::io::Error),
    #[error("cannot set up the master: {0}")]
    Setup(std::io::Error),
    #[error("cannot fork a worker: {0}")]
    Fork(std::io::Error),
    #[error("cannot write the pid file {path}: {source}")]
    PidFile {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// HUP: a new generation boots; the old one is stopped once it all serves.
    Reloading,
    /// Stop accepting, let in-flight requests finish until `deadline`, then SIGKILL.
    Stopping {
        deadline: Instant,
        exit_code: u8,
    },
}

struct WorkerInfo {
    generation: u64,
    slot: usize,
    forked: Instant,
    booted: bool,
    aborted: Option<Instant>,
}

struct Master {
    config: Config,
    listeners: Vec<Listener>,
    boot: BootPipe,
    slots: &'static SharedSlots,
    workers: HashMap<Pid, WorkerInfo>,
    generation: u64,
    phase: Phase,
    quick_deaths: u32,
    boot_failures: u32,
    respawn_at: Option<Instant>,
    /// The new master started by USR2, while it takes over.
    upgrade_child: Option<Pid>,
    /// The old master this one replaces (USR2), stopped once our workers serve.
    upgrade_from: Option<Pid>,
    reloader: Option<Pid>,
    /// The app imported in the master (`--preload`).
    preloaded: Option<wsgi::App>,
    /// How USR2 starts the new master: the same entry again.
    relaunch: Relaunch,
}

/// Runs the server until it is stopped; returns the process exit code.
pub fn run(config: Config, relaunch: Relaunch) -> Result<u8, MasterError> {
    if let Some(mask) = config.umask {
        sys::set_umask(mask);
    }
    let listeners = open_listeners(&config)?;
    for listener in &listeners {
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into());
        tracing::info!(addr = %bound, "listening on");
    }
    if let Some(path) = &config.pid_file {
        std::fs::write(path, format!("{}\n", sys::getpid())).map_err(|source| {
            MasterError::PidFile {
                path: path.display().to_string(),
                source,
            }
        })?;
    }
    let signals = SignalPipe::install(&sys::MASTER_SIGNALS).map_err(MasterError::Setup)?;
    let boot = BootPipe::new().map_err(MasterError::Setup)?;
    let slots: &'static SharedSlots = Box::leak(Box::new(
        SharedSlots::new(SLOTS).map_err(MasterError::Setup)?,
    ));
    let app_name = config
        .app
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "static".into());
    sys::set_process_title(&format!("pyrite: master [{app_name}]"));
    tracing::info!(pid = sys::getpid(), workers = config.workers, app = %app_name, "master started");
    let upgrade_from = std::env::var(UPGRADE_ENV).ok().and_then(|p| p.parse().ok());
    std::env::remove_var(UPGRADE_ENV);
    let mut master = Master {
        config,
        listeners,
        boot,
        slots,
        workers: HashMap::new(),
        generation: 0,
        phase: Phase::Running,
        quick_deaths: 0,
        boot_failures: 0,
        respawn_at: None,
        upgrade_child: None,
        upgrade_from,
        reloader: None,
        preloaded: None,
        relaunch,
    };
    if master.config.preload {
        if let Some(code) = master.preload() {
            return Ok(code);
        }
    }
    if master.config.reload {
        master.reloader = reloader::spawn(&master.config).map_err(MasterError::Fork)?;
    }
    let result = master.supervise(&signals);
    master.cleanup();
    result
}

/// systemd socket activation (`LISTEN_FDS` for our pid, fds from 3), the sockets of a
/// re-executed master, or `--bind` (which may itself name `fd://N`).
fn open_listeners(config: &Config) -> Result<Vec<Listener>, MasterError> {
    let inherited = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<RawFd>().ok());
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<Pid>().ok())
        == Some(sys::getpid());
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDNAMES");
    if let (Some(n), true) = (inherited, for_us) {
        let ours = std::env::var_os(UPGRADE_ENV).is_some();
        return (3..3 + n)
            .map(|fd| {
                sys::adopt_fd(fd)
                    .and_then(|fd| Listener::adopt(fd, ours))
                    .map_err(MasterError::Inherit)
            })
            .collect();
    }
    config
        .binds
        .iter()
        .map(|addr| {
            Listener::bind(addr).map_err(|source| MasterError::Bind {
                addr: addr.to_string(),
                source,
            })
        })
        .collect()
}

impl Master {
    fn supervise(&mut self, signals: &SignalPipe) -> Result<u8, MasterError> {
        self.spawn_missing()?;
        loop {
            sys::poll_readable(&[signals.fd(), self.boot.fd()], TICK);
            for sig in signals.drain() {
                self.on_signal(sig);
            }
            for pid in self.boot.drain() {
                self.on_booted(pid);
            }
            while let Some((pid, status)) = sys::try_wait_any() {
                if let Some(code) = self.on_exit(pid, status) {
                    self.begin_stop(Duration::ZERO, code);
                }
            }
            self.check_hung();
            match self.phase {
                Phase::Stopping {
                    deadline,
                    exit_code,
                } => {
                    if self.workers.is_empty() {
                        tracing::info!(exit_code, "master stopped");
                        return Ok(exit_code);
                    }
                    if Instant::now() >= deadline {
                        for &pid in self.workers.keys() {
                            tracing::warn!(pid, "graceful timeout passed, killing worker");
                            sys::kill(pid, sys::SIGKILL);
                        }
                    }
                }
                Phase::Running | Phase::Reloading => self.spawn_missing()?,
            }
        }
    }

    fn on_signal(&mut self, sig: i32) {
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        match sig {
            sys::SIGTERM => {
                tracing::info!(signal = "SIGTERM", "graceful stop");
                self.begin_stop(self.config.graceful_timeout, 0);
            }
            sys::SIGINT | sys::SIGQUIT => {
                tracing::info!(signal = sys::signal_name(sig), "fast stop");
                self.begin_stop(Duration::ZERO, 0);
            }
            sys::SIGHUP if !stopping => self.begin_reload(),
            sys::SIGTTIN if !stopping => {
                self.config.workers += 1;
                tracing::info!(workers = self.config.workers, "one worker more (TTIN)");
            }
            sys::SIGTTOU if !stopping && self.config.workers > 1 => {
                self.config.workers -= 1;
                tracing::info!(workers = self.config.workers, "one worker less (TTOU)");
                let current = self.generation;
                let oldest = self
                    .workers
                    .iter()
                    .filter(|(_, w)| w.generation == current)
                    .min_by_key(|(_, w)| w.forked);
                if let Some((&pid, _)) = oldest {
                    self.retire(pid);
                }
            }
            sys::SIGUSR1 => {
                tracing::info!("reopening log files (USR1)");
                crate::logging::reopen(&self.config);
                for &pid in self.workers.keys() {
                    sys::kill(pid, sys::SIGUSR1);
                }
            }
            sys::SIGUSR2 if !stopping => self.upgrade(),
            _ => {}
        }
    }

    fn begin_reload(&mut self) {
        if self.phase == Phase::Reloading {
            return;
        }
        tracing::info!("reloading: booting a new generation of workers");
        self.generation += 1;
        self.phase = Phase::Reloading;
    }

    /// Stops one worker gracefully; it is not replaced (it belongs to no generation any more).
    fn retire(&mut self, pid: Pid) {
        if let Some(info) = self.workers.get_mut(&pid) {
            info.generation = u64::MAX;
        }
        sys::kill(pid, sys::SIGTERM);
    }

    /// USR2: starts the same entry again (the binary, or `python -m pyrite`) with the listening
    /// sockets inherited. The new master stops this one once its own workers serve.
    fn upgrade(&mut self) {
        if self.upgrade_child.is_some() {
            tracing::warn!("an upgrade is already in progress");
            return;
        }
        let fds: Vec<RawFd> = self.listeners.iter().map(Listener::raw_fd).collect();
        match sys::fork() {
            Ok(sys::Fork::Parent(pid)) => {
                tracing::info!(pid, command = ?self.relaunch.args, "upgrading: started a new master");
                self.upgrade_child = Some(pid);
            }
            Ok(sys::Fork::Child) => {
                let err = sys::exec_with_listeners(
                    &self.relaunch.program,
                    &self.relaunch.args,
                    &fds,
                    &[(UPGRADE_ENV, sys::getppid().to_string())],
                );
                eprintln!("pyrite: cannot re-execute for the upgrade: {err}");
                sys::exit_now(1)
            }
            Err(err) => tracing::error!(error = %err, "cannot fork for the upgrade"),
        }
    }

    /// Closes the master's copies of the listeners and asks every worker to finish up.
    fn begin_stop(&mut self, grace: Duration, exit_code: u8) {
        let deadline = Instant::now() + grace;
        let (deadline, exit_code) = match self.phase {
            Phase::Stopping {
                deadline: old,
                exit_code: old_code,
            } => (
                old.min(deadline),
                if old_code != 0 { old_code } else { exit_code },
            ),
            _ => (deadline, exit_code),
        };
        let first = !matches!(self.phase, Phase::Stopping { .. });
        self.phase = Phase::Stopping {
            deadline,
            exit_code,
        };
        if first {
            self.close_listeners();
            if let Some(pid) = self.reloader.take() {
                sys::kill(pid, sys::SIGKILL);
            }
        }
        let sig = if grace.is_zero() {
            sys::SIGKILL
        } else {
            sys::SIGTERM
        };
        if first || grace.is_zero() {
            for &pid in self.workers.keys() {
                sys::kill(pid, sig);
            }
        }
    }

    /// Drops the master's sockets; a unix socket's file goes too, unless a new master (USR2)
    /// serves on it now.
    fn close_listeners(&mut self) {
        let handed_over = self.upgrade_child.is_some();
        for listener in self.listeners.drain(..) {
            if !handed_over {
                listener.cleanup();
            }
        }
    }

    fn cleanup(&mut self) {
        self.close_listeners();
        if let Some(path) = &self.config.pid_file {
            // A new master (USR2) may have written its own pid there already.
            let ours =
                std::fs::read_to_string(path).is_ok_and(|s| s.trim() == sys::getpid().to_string());
            if ours {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn on_booted(&mut self, pid: Pid) {
        if let Some(info) = self.workers.get_mut(&pid) {
            info.booted = true;
            self.boot_failures = 0;
        }
        let current = self.generation;
        let ready = self
            .workers
            .values()
            .filter(|w| w.generation == current && w.booted)
            .count();
        if ready < self.config.workers {
            return;
        }
        if let Some(old) = self.upgrade_from.take() {
            tracing::info!(old_master = old, "new master serving; stopping the old one");
            sys::kill(old, sys::SIGTERM);
        }
        if self.phase != Phase::Reloading {
            return;
        }
        let old: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation != current)
            .map(|(&p, _)| p)
            .collect();
        for pid in old {
            tracing::info!(pid, "stopping old worker");
            self.retire(pid);
        }
        tracing::info!(generation = current, "reload complete");
        self.phase = Phase::Running;
    }

    /// Handles a dead child. Returns an exit code when the whole server must stop.
    fn on_exit(&mut self, pid: Pid, status: ExitStatus) -> Option<u8> {
        if self.upgrade_child == Some(pid) {
            tracing::warn!(pid, status = %status, "the new master (USR2) exited; this one keeps serving");
            self.upgrade_child = None;
            return None;
        }
        if self.reloader == Some(pid) {
            tracing::warn!(pid, status = %status, "the file watcher exited");
            self.reloader = None;
            return None;
        }
        let info = self.workers.remove(&pid)?;
        self.slots
            .get(info.slot)
            .pid
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let stopping = matches!(self.phase, Phase::Stopping { .. });
        let replaced = info.generation != self.generation;
        if status == ExitStatus::Code(0) {
            if stopping || replaced {
                tracing::info!(pid, "worker exited");
            } else {
                tracing::info!(pid, "worker recycled");
            }
            return None;
        }
        tracing::warn!(pid, status = %status, "worker exited");
        if stopping || replaced {
            return None;
        }
        if !info.booted {
            if let ExitStatus::Code(code @ (EXIT_APP_LOAD_ERROR | EXIT_BOOT_ERROR)) = status {
                if self.phase == Phase::Reloading {
                    tracing::error!(
                        "reload failed: the app no longer loads; the old workers keep serving"
                    );
                    self.abandon_reload();
                    return None;
                }
                tracing::error!(
                    exit_code = code,
                    "app failed to load in worker {pid}; stopping (see the traceback above)"
                );
                return Some(code as u8);
            }
            self.boot_failures += 1;
            if self.boot_failures >= MAX_BOOT_FAILURES {
                tracing::error!(
                    attempts = self.boot_failures,
                    "no worker can boot; stopping"
                );
                return Some(EXIT_BOOT_ERROR as u8);
            }
        }
        if info.forked.elapsed() < QUICK_DEATH {
            self.quick_deaths += 1;
            let delay = BACKOFF_START
                .saturating_mul(1 << (self.quick_deaths - 1).min(16))
                .min(BACKOFF_CAP);
            tracing::warn!(
                delay_ms = delay.as_millis() as u64,
                "worker died right after boot; backing off"
            );
            self.respawn_at = Some(Instant::now() + delay);
        } else {
            self.quick_deaths = 0;
        }
        None
    }

    fn abandon_reload(&mut self) {
        let current = self.generation;
        for (&pid, info) in self.workers.iter_mut() {
            if info.generation == current {
                info.generation = u64::MAX;
                sys::kill(pid, sys::SIGKILL);
            }
        }
        self.generation -= 1;
        self.phase = Phase::Running;
    }

    /// `--timeout`: a worker stuck in one app call (or whose loop stopped) past the timeout and
    /// the grace period gets SIGABRT, then SIGKILL; waitpid then brings a replacement.
    fn check_hung(&mut self) {
        let Some(timeout) = self.config.timeout else {
            return;
        };
        let now = sys::monotonic_ms();
        for (&pid, info) in self.workers.iter_mut() {
            if !info.booted {
                continue;
            }
            match (
                heartbeat::judge(self.slots.get(info.slot), timeout, now),
                info.aborted,
            ) {
                (Verdict::Stuck { for_ms }, None) => {
                    tracing::error!(pid, stuck_ms = for_ms, "worker timed out; aborting it");
                    sys::kill(pid, sys::SIGABRT);
                    info.aborted = Some(Instant::now());
                }
                (_, Some(at)) if at.elapsed() > ABORT_GRACE => {
                    sys::kill(pid, sys::SIGKILL);
                }
                _ => {}
            }
        }
    }

    /// Forks workers of the current generation until there are `--workers` of them.
    fn spawn_missing(&mut self) -> Result<(), MasterError> {
        if let Some(at) = self.respawn_at {
            if Instant::now() < at {
                return Ok(());
            }
            self.respawn_at = None;
        }
        let current = self.generation;
        let running = self
            .workers
            .values()
            .filter(|w| w.generation == current)
            .count();
        for _ in running..self.config.workers {
            self.spawn()?;
        }
        Ok(())
    }

    fn free_slot(&self) -> usize {
        let used: std::collections::HashSet<usize> =
            self.workers.values().map(|w| w.slot).collect();
        (0..self.slots.len())
            .find(|i| !used.contains(i))
            .unwrap_or(0)
    }

    fn spawn(&mut self) -> Result<(), MasterError> {
        let slot = self.free_slot();
        let s = self.slots.get(slot);
        s.beat.store(0, std::sync::atomic::Ordering::Relaxed);
        s.in_app_since
            .store(0, std::sync::atomic::Ordering::Relaxed);
        match wsgi::fork().map_err(MasterError::Fork)? {
            sys::Fork::Parent(pid) => {
                let info = WorkerInfo {
                    generation: self.generation,
                    slot,
                    forked: Instant::now(),
                    booted: false,
                    aborted: None,
                };
                self.workers.insert(pid, info);
                Ok(())
            }
            sys::Fork::Child => {
                let listeners = std::mem::take(&mut self.listeners);
                let ctx = worker::Context {
                    config: &self.config,
                    boot: &self.boot,
                    slot: self.slots.get(slot),
                    preloaded: self.preloaded.take(),
                };
                let code = worker::run(ctx, listeners);
                sys::exit_now(code)
            }
        }
    }

    /// `--preload`: imports the app here, before any fork. Returns an exit code if it fails.
    fn preload(&mut self) -> Option<u8> {
        let spec = self.config.app.clone()?;
        match wsgi::load(&self.config, &spec) {
            Ok(app) => {
                if self.config.timeout.is_some() {
                    if let Err(err) = wsgi::install_timeout_handler() {
                        tracing::warn!(error = %err, "cannot install the request-timeout handler");
                    }
                }
                tracing::info!(app = %spec, "app preloaded in the master");
                self.preloaded = Some(app);
                None
            }
            Err(err) => {
                worker::report_load_error(&spec, err);
                Some(EXIT_APP_LOAD_ERROR as u8)
            }
        }
    }
}
