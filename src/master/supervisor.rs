//! The master's supervision loop: it waits on the signal and boot pipes (and a 100 ms tick),
//! asks `policy` what each signal, boot, death and heartbeat means, and carries the answer out —
//! fork, kill, close the listeners (refusing new connections first when the server stops for
//! good), re-execute.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::error::MasterError;
use super::exporter::Exporter;
use super::policy::{self, Action, Ask, Death, Fate, Hung, Phase, Record};
use super::relaunch::Relaunch;
use super::stats::{Restart, Statsd, Totals};
use crate::config::Config;
use crate::heartbeat;
use crate::listener::{self, Listener};
use crate::sys::{self, BootPipe, ExitStatus, Pid, SharedSlots, SignalPipe, StopKind};
use crate::{exit, wsgi};

/// Set in the environment of a master started by USR2, naming the master it replaces.
pub(super) const UPGRADE_ENV: &str = "PYRITE_UPGRADE_FROM";
/// The supervision loop wakes at least this often.
const TICK: Duration = Duration::from_millis(100);

pub(super) struct WorkerInfo {
    pub(super) generation: u64,
    pub(super) slot: usize,
    pub(super) forked: Instant,
    pub(super) booted: bool,
    pub(super) aborted: Option<Instant>,
    /// gunicorn's `worker.age`.
    pub(super) age: u64,
}

pub(super) struct Master {
    pub(super) config: Config,
    pub(super) listeners: Vec<Listener>,
    pub(super) boot: BootPipe,
    pub(super) slots: &'static SharedSlots,
    pub(super) workers: HashMap<Pid, WorkerInfo>,
    pub(super) generation: u64,
    pub(super) phase: Phase,
    /// The crash-loop counters (`policy::fate`).
    pub(super) record: Record,
    pub(super) respawn_at: Option<Instant>,
    /// The new master started by USR2, while it takes over.
    pub(super) upgrade_child: Option<Pid>,
    /// The old master this one replaces (USR2), stopped once our workers serve.
    pub(super) upgrade_from: Option<Pid>,
    /// A USR2 that came before this master took over from `upgrade_from`: carried out then.
    pub(super) upgrade_later: bool,
    pub(super) reloader: Option<Pid>,
    /// The app imported in the master (`--preload`).
    pub(super) preloaded: Option<wsgi::App>,
    /// How USR2 starts the new master: the same entry again.
    pub(super) relaunch: Relaunch,
    /// systemd's `NOTIFY_SOCKET`.
    pub(super) notify: super::notify::Notifier,
    /// `READY=1` was sent (every worker of the first generation serves).
    pub(super) ready: bool,
    pub(super) exporter: Option<Exporter>,
    pub(super) statsd: Option<Statsd>,
    /// What gone workers counted, and restarts by reason.
    pub(super) totals: Totals,
    /// Workers started so far (gunicorn's `worker.age` of the last one).
    pub(super) spawned: u64,
    /// The configuration file's master hooks, run in a helper process.
    pub(super) hook_process: Option<wsgi::HookProcess>,
}

impl Master {
    pub(super) fn supervise(&mut self, signals: &SignalPipe) -> Result<u8, MasterError> {
        self.spawn_missing()?;
        loop {
            let mut fds = vec![signals.fd(), self.boot.fd()];
            if let Some(exporter) = &self.exporter {
                fds.extend(exporter.fds());
            }
            sys::poll_readable(&fds, TICK);
            self.notify.tick();
            self.report_metrics();
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
                    drained,
                    deadline,
                    exit_code,
                } => {
                    if !self.listeners.is_empty() && Instant::now() >= drained {
                        self.close_listeners();
                    }
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
        match policy::on_signal(sig, stopping, self.config.workers) {
            Action::GracefulStop => {
                tracing::info!(signal = "SIGTERM", "graceful stop");
                self.begin_stop(self.config.graceful_timeout, 0);
            }
            Action::FastStop => {
                tracing::info!(signal = sys::signal_name(sig), "fast stop");
                self.begin_stop(Duration::ZERO, 0);
            }
            Action::Reload => self.begin_reload(),
            Action::OneMore => {
                self.config.workers += 1;
                tracing::info!(workers = self.config.workers, "one worker more (TTIN)");
                let event =
                    serde_json::json!({"new": self.config.workers, "old": self.config.workers - 1});
                self.hook("nworkers_changed", event, None);
            }
            Action::OneLess => {
                self.config.workers -= 1;
                tracing::info!(workers = self.config.workers, "one worker less (TTOU)");
                let event =
                    serde_json::json!({"new": self.config.workers, "old": self.config.workers + 1});
                self.hook("nworkers_changed", event, None);
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
            Action::ReopenLogs => {
                tracing::info!("reopening log files (USR1)");
                crate::logging::reopen(&self.config.logging);
                for &pid in self.workers.keys() {
                    sys::kill(pid, sys::SIGUSR1);
                }
            }
            Action::Upgrade => {
                let taking_over = self.upgrade_from.is_some();
                match policy::upgrade(taking_over, self.upgrade_child.is_some()) {
                    policy::Upgrade::Start => self.upgrade(),
                    policy::Upgrade::Later => {
                        tracing::info!("upgrade (USR2) deferred until this master's workers serve");
                        self.upgrade_later = true;
                    }
                    policy::Upgrade::Busy => tracing::warn!("an upgrade is already in progress"),
                }
            }
            Action::Ignore => {}
        }
    }

    fn begin_reload(&mut self) {
        if self.phase == Phase::Reloading {
            return;
        }
        tracing::info!("reloading: booting a new generation of workers");
        self.notify.reloading();
        self.hook("on_reload", serde_json::json!({}), None);
        // Renewed certificates are read now; the new workers serve them.
        match self.config.protocols.reload_tls() {
            Ok(true) => tracing::info!("reloaded the TLS certificates"),
            Ok(false) => {}
            Err(err) => {
                tracing::error!(error = %err, "cannot reload the TLS certificates; keeping the current ones")
            }
        }
        self.generation += 1;
        self.phase = Phase::Reloading;
    }

    /// Stops one worker gracefully; it is not replaced (it belongs to no generation any more).
    fn retire(&mut self, pid: Pid) {
        if let Some(info) = self.workers.get_mut(&pid) {
            info.generation = u64::MAX;
            self.slots.get(info.slot).ask_stop(StopKind::Retire);
        }
        sys::kill(pid, sys::SIGTERM);
    }

    /// USR2: starts the same entry again (the binary, or `python -m pyrite`) with the listening
    /// sockets inherited. The new master stops this one once its own workers serve.
    fn upgrade(&mut self) {
        let fds: Vec<RawFd> = self.listeners.iter().map(Listener::raw_fd).collect();
        self.hook("pre_exec", serde_json::json!({}), None);
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
                crate::logging::stderr_line(format_args!(
                    "pyrite: cannot re-execute for the upgrade: {err}"
                ));
                sys::exit_now(1)
            }
            Err(err) => tracing::error!(error = %err, "cannot fork for the upgrade"),
        }
    }

    /// Asks every worker to finish up: the whole server stops (drain, then refuse new
    /// connections), unless a new master (USR2) serves on the same sockets now, in which case
    /// the workers just retire. The master's own copies of the listeners close once the drain
    /// is over (at once without one; see `supervise`).
    pub(super) fn begin_stop(&mut self, grace: Duration, exit_code: u8) {
        let drain = self.config.drain_timeout;
        let stop = policy::stop(self.phase, Instant::now(), drain, grace, exit_code);
        self.phase = stop.phase;
        if stop.first && self.upgrade_child.is_none() {
            // After a USR2 upgrade the new master is the service now: it is not stopping.
            self.notify.stopping();
        }
        if stop.first {
            if let Some(pid) = self.reloader.take() {
                sys::kill(pid, sys::SIGKILL);
            }
        }
        if let Phase::Stopping { drained, .. } = self.phase {
            if Instant::now() >= drained {
                self.close_listeners();
            }
        }
        let sig = match stop.ask {
            Some(Ask::Finish) => sys::SIGTERM,
            Some(Ask::Kill) => sys::SIGKILL,
            None => return,
        };
        let kind = if self.upgrade_child.is_some() {
            StopKind::Retire
        } else {
            StopKind::ServerStops
        };
        for (&pid, info) in &self.workers {
            self.slots.get(info.slot).ask_stop(kind);
            sys::kill(pid, sig);
        }
    }

    /// Drops the master's sockets. When the server stops for good, new connection requests
    /// are refused first, so that whatever the kernel queued is left for the workers to take
    /// rather than reset when the last copy closes (`listener::refuse_new`). A unix socket's
    /// file goes too. Neither when a new master (USR2) serves on them now.
    fn close_listeners(&mut self) {
        let handed_over = self.upgrade_child.is_some();
        for listener in self.listeners.drain(..) {
            if handed_over {
                continue;
            }
            if let Listener::Tcp(socket, true) = &listener {
                if let Err(err) = listener::refuse_new(socket) {
                    tracing::warn!(error = %err, "cannot refuse new connections");
                }
            }
            listener.cleanup();
        }
    }

    pub(super) fn cleanup(&mut self) {
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
            self.record.boot_failures = 0;
        }
        let current = self.generation;
        let ready = self
            .workers
            .values()
            .filter(|w| w.generation == current && w.booted)
            .count();
        if !policy::serves_in_full(ready, self.config.workers) {
            return;
        }
        if !self.ready {
            self.ready = true;
            self.notify.ready(ready);
        }
        if let Some(old) = self.upgrade_from.take() {
            tracing::info!(old_master = old, "new master serving; stopping the old one");
            sys::kill(old, sys::SIGTERM);
            if std::mem::take(&mut self.upgrade_later) {
                tracing::info!("carrying out the deferred upgrade (USR2)");
                self.upgrade();
            }
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
            self.totals.restarted(Restart::Reload);
            self.retire(pid);
        }
        tracing::info!(generation = current, "reload complete");
        self.notify.ready(ready);
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
        if self.hook_process.as_ref().is_some_and(|h| h.pid() == pid) {
            tracing::warn!(pid, status = %status, "the hook process exited; master hooks are no longer called");
            self.hook_process = None;
            return None;
        }
        let info = self.workers.remove(&pid)?;
        let slot = self.slots.get(info.slot);
        self.totals.retire(slot);
        let recycled =
            slot.counters[crate::metrics::at::RECYCLED].load(std::sync::atomic::Ordering::Relaxed);
        slot.pid.store(0, std::sync::atomic::Ordering::Relaxed);
        let death = Death {
            status,
            booted: info.booted,
            lived: info.forked.elapsed(),
            stopping: matches!(self.phase, Phase::Stopping { .. }),
            replaced: info.generation != self.generation,
            reloading: self.phase == Phase::Reloading,
        };
        // A clean exit is news only from a worker that never booted (`os._exit(0)` at import).
        let expected = info.booted || death.stopping || death.replaced;
        if status != ExitStatus::Code(0) || !expected {
            tracing::warn!(pid, status = %status, "worker exited");
        }
        let event = serde_json::json!({"worker": {"pid": pid, "age": info.age}});
        self.hook("child_exit", event, None);
        let fate = policy::fate(&death, &mut self.record);
        if let Some(why) = policy::restart_reason(&death, fate, info.aborted.is_some(), recycled) {
            self.totals.restarted(why);
        }
        match fate {
            Fate::Exited => tracing::info!(pid, "worker exited"),
            Fate::Recycled => tracing::info!(pid, "worker recycled"),
            Fate::Gone => {}
            Fate::AbandonReload => {
                tracing::error!(
                    "reload failed: the app no longer loads; the old workers keep serving"
                );
                self.abandon_reload();
            }
            Fate::AppFailed { code } => {
                tracing::error!(
                    exit_code = code,
                    "app failed to load in worker {pid}; stopping (see the traceback above)"
                );
                return Some(code);
            }
            Fate::CannotBoot { attempts } => {
                tracing::error!(attempts, "no worker can boot; stopping");
                return Some(exit::BOOT_ERROR);
            }
            Fate::Respawn {
                backoff: Some(delay),
            } => {
                tracing::warn!(
                    delay_ms = delay.as_millis() as u64,
                    "worker died right after boot; backing off"
                );
                self.respawn_at = Some(Instant::now() + delay);
            }
            Fate::Respawn { backoff: None } => {}
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
        self.notify
            .send("READY=1\nSTATUS=reload failed: the app no longer loads");
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
            let verdict = heartbeat::judge(self.slots.get(info.slot), timeout, now);
            match policy::hung(verdict, info.aborted, Instant::now()) {
                Hung::Abort { stuck_ms } => {
                    tracing::error!(pid, stuck_ms, "worker timed out; aborting it");
                    sys::kill(pid, sys::SIGABRT);
                    info.aborted = Some(Instant::now());
                }
                Hung::Kill => sys::kill(pid, sys::SIGKILL),
                Hung::Leave => {}
            }
        }
    }
}
