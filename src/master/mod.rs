//! The master: binds every listener, forks the workers, then only supervises. Pure Rust — no
//! Python code (unless `--preload`; under the pip-installed entry the interpreter is loaded but
//! idle, its GIL released), no tokio, no threads — so forking is always sound and no app code
//! can take it down. Signals become a lifecycle `Phase`; `waitpid` becomes a respawn;
//! the workers' shared-memory slots become hung-worker kills. `policy` decides (pure functions,
//! unit-tested), `supervisor` carries the decisions out with system calls.

mod error;
mod exporter;
mod notify;
mod observe;
mod policy;
mod relaunch;
mod spawn;
mod stats;
mod supervisor;

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::config::Config;
use crate::listener::Listener;
use crate::reloader;
use crate::sys::{self, BootPipe, Pid, SharedSlots, SignalPipe};
use crate::wsgi;
use policy::{Phase, Record};
use supervisor::{Master, UPGRADE_ENV};

pub use error::MasterError;
pub use relaunch::Relaunch;

/// How long the master waits for the `on_exit` hook.
const ON_EXIT_WAIT: Duration = Duration::from_secs(10);

/// Shared-memory slots for workers (an upper bound on `--workers` plus a reload's overlap).
const SLOTS: usize = 1024;

/// Runs the server until it is stopped; returns the process exit code. `relaunch` is what
/// USR2 executes to start the new master.
pub fn run(config: Config, relaunch: Relaunch) -> Result<u8, MasterError> {
    if let Some(mask) = config.umask {
        sys::set_umask(mask);
    }
    let mut hook_process = match &config.hooks {
        Some(file) => wsgi::HookProcess::spawn(
            file,
            &wsgi::executable(&config.python),
            &config.python.pythonpath,
            config.chdir.as_deref(),
            &crate::worker::hook_context(&config, sys::getpid(), 0),
        )
        .map_err(MasterError::Fork)?,
        None => None,
    };
    // gunicorn calls on_starting before binding and when_ready once bound; either raising
    // stops the start.
    let event = serde_json::json!({ "num_workers": config.workers });
    if let Some(hooks) = &mut hook_process {
        hooks
            .call("on_starting", event.clone(), Some(Duration::ZERO))
            .map_err(MasterError::Hook)?;
    }
    let listeners = open_listeners(&config)?;
    let mut config = config;
    // What was bound (port 0 resolved, inherited sockets named), for the hooks' server.address.
    let bound: Vec<_> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    if bound.len() == listeners.len() {
        config.binds = bound;
    }
    let event = serde_json::json!({
        "num_workers": config.workers,
        "address": config.binds.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
    });
    for (i, listener) in listeners.iter().enumerate() {
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| "?".into());
        let tls = config.protocols.is_tls(i);
        tracing::info!(addr = %bound, tls, "listening on");
    }
    if let Some(path) = &config.pid_file {
        std::fs::write(path, format!("{}\n", sys::getpid())).map_err(|source| {
            MasterError::PidFile {
                path: path.display().to_string(),
                source,
            }
        })?;
    }
    let exporter = match config.metrics_bind {
        Some(addr) => {
            let exporter = exporter::Exporter::bind(addr).map_err(|source| MasterError::Bind {
                addr: format!("--metrics-bind {addr}"),
                source,
            })?;
            let bound = exporter
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            tracing::info!(addr = %bound, "metrics on");
            Some(exporter)
        }
        None => None,
    };
    let statsd = match &config.statsd {
        Some((addr, prefix)) => {
            Some(stats::Statsd::new(*addr, prefix.clone()).map_err(MasterError::Setup)?)
        }
        None => None,
    };
    if let Some(hooks) = &mut hook_process {
        hooks
            .call("when_ready", event, Some(Duration::ZERO))
            .map_err(MasterError::Hook)?;
    }
    let signals = SignalPipe::install(&sys::MASTER_SIGNALS).map_err(MasterError::Setup)?;
    let boot = BootPipe::new().map_err(MasterError::Setup)?;
    let slots: &'static SharedSlots = Box::leak(Box::new(
        SharedSlots::new(SLOTS).map_err(MasterError::Setup)?,
    ));
    let app_name = config.proc_name.clone();
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
        record: Record::default(),
        respawn_at: None,
        upgrade_child: None,
        upgrade_from,
        upgrade_later: false,
        reloader: None,
        preloaded: None,
        relaunch,
        notify: notify::Notifier::from_env(),
        ready: false,
        exporter,
        statsd,
        totals: stats::Totals::default(),
        spawned: 0,
        hook_process,
    };
    if master.config.preload {
        if let Some(code) = master.preload() {
            return Ok(code);
        }
    }
    if master.config.reload {
        let config = &master.config;
        master.reloader = reloader::spawn(
            &config.python.pythonpath,
            config.chdir.as_deref(),
            &config.reload_extra_files,
        )
        .map_err(MasterError::Fork)?;
    }
    let result = master.supervise(&signals);
    master.hook("on_exit", serde_json::json!({}), Some(ON_EXIT_WAIT));
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
            Listener::bind(addr, &config.listen).map_err(|source| MasterError::Bind {
                addr: addr.to_string(),
                source,
            })
        })
        .collect()
}
