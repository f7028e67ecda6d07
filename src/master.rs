//! The master: binds every listener, forks the workers, then only supervises. Pure Rust — no
//! Python, no tokio, no threads — so forking is always sound and no app code can take it down.
//! Signals become a lifecycle [`Phase`]; `waitpid` becomes a respawn.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::listener::Listener;
use crate::sys::{self, BootPipe, ExitStatus, Fork, Pid, SignalPipe};
use crate::worker;

/// A worker that could not start its interpreter.
pub const EXIT_BOOT_ERROR: i32 = 3;
/// A worker whose app could not be imported (gunicorn uses the same code).
pub const EXIT_APP_LOAD_ERROR: i32 = 4;

/// A worker that dies sooner than this after being forked counts as a crash loop.
const QUICK_DEATH: Duration = Duration::from_secs(1);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// The supervision loop wakes at least this often.
const TICK: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot fork a worker: {0}")]
    Fork(std::io::Error),
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
    forked: Instant,
    booted: bool,
}

struct Master {
    config: Config,
    listeners: Vec<Listener>,
    boot: BootPipe,
    workers: HashMap<Pid, WorkerInfo>,
    generation: u64,
    phase: Phase,
    quick_deaths: u32,
    respawn_at: Option<Instant>,
}

/// Runs the server until it is stopped; returns the process exit code.
pub fn run(config: Config) -> Result<u8, MasterError> {
    let mut listeners = Vec::with_capacity(config.binds.len());
    for addr in &config.binds {
        let listener = Listener::bind(addr).map_err(|source| MasterError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| addr.to_string());
        tracing::info!(addr = %bound, "listening on");
        listeners.push(listener);
    }
    let signals = SignalPipe::install(&sys::MASTER_SIGNALS).map_err(MasterError::Signals)?;
    let boot = BootPipe::new().map_err(MasterError::Signals)?;
    tracing::info!(pid = sys::getpid(), workers = config.workers, app = ?config.app.as_ref().map(|a| a.to_string()), "master started");
    let mut master = Master {
        config,
        listeners,
        boot,
        workers: HashMap::new(),
        generation: 0,
        phase: Phase::Running,
        quick_deaths: 0,
        respawn_at: None,
    };
    let result = master.supervise(&signals);
    for listener in &master.listeners {
        listener.cleanup();
    }
    result
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
        match sig {
            sys::SIGTERM | sys::SIGINT => {
                tracing::info!(signal = sys::signal_name(sig), "graceful stop");
                self.begin_stop(self.config.graceful_timeout, 0);
            }
            sys::SIGQUIT => {
                tracing::info!(signal = "SIGQUIT", "fast stop");
                self.begin_stop(Duration::ZERO, 0);
            }
            sys::SIGHUP if self.phase == Phase::Running => {
                tracing::info!("reloading: booting a new generation of workers");
                self.generation += 1;
                self.phase = Phase::Reloading;
            }
            _ => {}
        }
    }

    /// Closes the master's copies of the listeners and asks every worker to finish up.
    fn begin_stop(&mut self, grace: Duration, exit_code: u8) {
        let deadline = Instant::now() + grace;
        let deadline = match self.phase {
            Phase::Stopping { deadline: old, .. } => old.min(deadline),
            _ => deadline,
        };
        let exit_code = match self.phase {
            Phase::Stopping { exit_code: old, .. } if old != 0 => old,
            _ => exit_code,
        };
        if !matches!(self.phase, Phase::Stopping { .. }) {
            for listener in self.listeners.drain(..) {
                listener.cleanup();
            }
            for &pid in self.workers.keys() {
                sys::kill(pid, sys::SIGTERM);
            }
        }
        self.phase = Phase::Stopping {
            deadline,
            exit_code,
        };
    }

    fn on_booted(&mut self, pid: Pid) {
        if let Some(info) = self.workers.get_mut(&pid) {
            info.booted = true;
        }
        if self.phase != Phase::Reloading {
            return;
        }
        let current = self.generation;
        let new_ready = self
            .workers
            .values()
            .filter(|w| w.generation == current && w.booted)
            .count();
        if new_ready < self.config.workers {
            return;
        }
        for (&pid, info) in &self.workers {
            if info.generation != current {
                tracing::info!(pid, "stopping old worker");
                sys::kill(pid, sys::SIGTERM);
            }
        }
        tracing::info!(generation = current, "reload complete");
        self.phase = Phase::Running;
    }

    /// Handles a dead child. Returns an exit code when the whole server must stop.
    fn on_exit(&mut self, pid: Pid, status: ExitStatus) -> Option<u8> {
        let info = self.workers.remove(&pid)?;
        let expected =
            matches!(self.phase, Phase::Stopping { .. }) || info.generation != self.generation;
        if expected && status == ExitStatus::Code(0) {
            tracing::info!(pid, "worker exited");
            return None;
        }
        tracing::warn!(pid, status = %status, "worker exited");
        if matches!(self.phase, Phase::Stopping { .. }) || info.generation != self.generation {
            return None;
        }
        let load_failed = matches!(
            status,
            ExitStatus::Code(EXIT_APP_LOAD_ERROR | EXIT_BOOT_ERROR)
        );
        if load_failed && !info.booted {
            if self.phase == Phase::Reloading {
                tracing::error!(
                    "reload failed: the app no longer loads; the old workers keep serving"
                );
                self.abandon_reload();
                return None;
            }
            let ExitStatus::Code(code) = status else {
                return None;
            };
            tracing::error!(
                exit_code = code,
                "app failed to load in worker {pid}; stopping (see the traceback above)"
            );
            return Some(code as u8);
        }
        if info.forked.elapsed() < QUICK_DEATH {
            self.quick_deaths += 1;
            let delay = BACKOFF_START
                .saturating_mul(1 << self.quick_deaths.min(16))
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
        for (&pid, info) in &self.workers {
            if info.generation == current {
                sys::kill(pid, sys::SIGKILL);
            }
        }
        self.generation -= 1;
        self.phase = Phase::Running;
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

    fn spawn(&mut self) -> Result<(), MasterError> {
        match sys::fork().map_err(MasterError::Fork)? {
            Fork::Parent(pid) => {
                let info = WorkerInfo {
                    generation: self.generation,
                    forked: Instant::now(),
                    booted: false,
                };
                self.workers.insert(pid, info);
                Ok(())
            }
            Fork::Child => {
                let listeners = std::mem::take(&mut self.listeners);
                let code = worker::run(&self.config, listeners, &self.boot);
                sys::exit_now(code)
            }
        }
    }
}
