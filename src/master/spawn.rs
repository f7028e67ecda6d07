//! How the master starts workers: each one forked into a free shared-memory slot (reset
//! first), with the listeners, the configuration and the preloaded app, if any; `--preload`
//! imports the app here before the first fork.

use std::time::Instant;

use super::error::MasterError;
use super::policy;
use super::supervisor::{Master, WorkerInfo};
use crate::sys::{self, StopKind};
use crate::{exit, worker, wsgi};

impl Master {
    /// Forks workers of the current generation until there are `--workers` of them.
    pub(super) fn spawn_missing(&mut self) -> Result<(), MasterError> {
        let now = Instant::now();
        if self.respawn_at.is_some_and(|at| now < at) {
            return Ok(());
        }
        self.respawn_at = None;
        let current = self.generation;
        let running = self
            .workers
            .values()
            .filter(|w| w.generation == current)
            .count();
        for _ in 0..policy::to_spawn(running, self.config.workers, None, now) {
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

    pub(super) fn spawn(&mut self) -> Result<(), MasterError> {
        self.spawned += 1;
        let age = self.spawned;
        self.hook(
            "pre_fork",
            serde_json::json!({"worker": {"pid": null, "age": age}}),
            None,
        );
        let slot = self.free_slot();
        self.slots.mark_used(slot);
        let s = self.slots.get(slot);
        s.beat.store(0, std::sync::atomic::Ordering::Relaxed);
        for counter in &s.counters {
            counter.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        s.in_app_since
            .store(0, std::sync::atomic::Ordering::Relaxed);
        s.ask_stop(StopKind::Retire);
        // Asked once, here, so that each worker does not fork to ask.
        sys::uring_allowed();
        match wsgi::fork().map_err(MasterError::Fork)? {
            sys::Fork::Parent(pid) => {
                let info = WorkerInfo {
                    generation: self.generation,
                    slot,
                    forked: Instant::now(),
                    booted: false,
                    aborted: None,
                    age,
                };
                self.workers.insert(pid, info);
                Ok(())
            }
            sys::Fork::Child => {
                // The master's own sockets close in the worker.
                self.exporter = None;
                self.statsd = None;
                self.hook_process = None;
                let listeners = std::mem::take(&mut self.listeners);
                let ctx = worker::Context {
                    config: &self.config,
                    boot: &self.boot,
                    slot: self.slots.get(slot),
                    slots: self.slots,
                    preloaded: self.preloaded.take(),
                    age: self.spawned,
                };
                let code = worker::run(ctx, listeners);
                sys::exit_now(code)
            }
        }
    }

    /// `--preload`: imports the app here, before any fork. Returns an exit code if it fails.
    pub(super) fn preload(&mut self) -> Option<u8> {
        let spec = self.config.app.clone()?;
        match wsgi::load(&self.config.python, &spec, self.config.workers > 1) {
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
                Some(exit::APP_LOAD_ERROR)
            }
        }
    }
}
