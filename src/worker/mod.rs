//! A worker, right after fork: restore signal defaults, change directory, drop privileges,
//! start CPython and import the app (unless the master preloaded it), then run a
//! current-thread tokio runtime that serves until SIGTERM or until it recycles itself
//! (`--max-requests`, `--max-rss`, counted by `lifecycle` around the service); `stop` walks it
//! through its stop (a drain first when the whole server stops). Returns the process exit code.

mod lifecycle;
mod stop;

use std::rc::Rc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::config::Config;
use crate::exit::{
    WORKER_APP_LOAD_ERROR as EXIT_APP_LOAD_ERROR, WORKER_BOOT_ERROR as EXIT_BOOT_ERROR,
};
use crate::http::{server, Phase};
use crate::listener::Listener;
use crate::negotiate::Front;
use crate::router::Router;
use crate::service::{Dispatcher, Health};
use crate::sys::{self, BootPipe, Slot};
use crate::wsgi::{self, AppSpec, LoadError, Runner};
use crate::{heartbeat, logging};
use lifecycle::{Counted, Lifecycle};

/// What the master hands a freshly forked worker.
pub struct Context<'a> {
    pub config: &'a Config,
    pub boot: &'a BootPipe,
    pub slot: &'static Slot,
    /// The app, when the master imported it before forking (`--preload`).
    pub preloaded: Option<wsgi::App>,
}

pub fn run(ctx: Context<'_>, listeners: Vec<Listener>) -> i32 {
    let config = ctx.config;
    let pid = sys::getpid();
    if let Err(err) = sys::prepare_worker_signals() {
        tracing::error!(pid, error = %err, "cannot set up worker signals");
        return EXIT_BOOT_ERROR;
    }
    if let Some(dir) = &config.chdir {
        if let Err(err) = std::env::set_current_dir(dir) {
            tracing::error!(pid, dir = %dir.display(), error = %err, "cannot change directory");
            return EXIT_BOOT_ERROR;
        }
    }
    let gid = config.group.or(config.user.map(|(_, gid)| gid));
    if let Err(err) = sys::drop_privileges(config.user.map(|(uid, _)| uid), gid) {
        tracing::error!(pid, error = %err, "cannot switch user or group");
        return EXIT_BOOT_ERROR;
    }
    let app_name = config
        .app
        .as_ref()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "static".into());
    sys::set_process_title(&format!("pyrite: worker [{app_name}]"));
    heartbeat::install(
        ctx.slot,
        config.timeout.filter(|_| config.app.is_some()),
        wsgi::interrupt_thread,
    );
    // A preloaded app's master installed the timeout handler before forking (inherited).
    let install_handler =
        ctx.preloaded.is_none() && config.app.is_some() && config.timeout.is_some();
    let app = match (ctx.preloaded, &config.app) {
        (Some(app), _) => Some(app),
        (None, Some(spec)) => match wsgi::load(&config.python, spec, config.workers > 1) {
            Ok(app) => Some(app),
            Err(err) => return report_load_error(spec, err),
        },
        (None, None) => None,
    };
    if install_handler {
        if let Err(err) = wsgi::install_timeout_handler() {
            tracing::warn!(pid, error = %err, "cannot install the request-timeout handler");
        }
    }
    let max_requests = config
        .max_requests
        .map(|n| n.saturating_add(jitter(config.max_requests_jitter)));
    let (phase, phase_rx) = watch::channel(Phase::Serving);
    let lifecycle = Rc::new(Lifecycle::new(max_requests, config.max_rss, phase.clone()));
    let timeout = config.timeout;
    let runner = match app
        .map(|app| Runner::new(app, config.threads, timeout))
        .transpose()
    {
        Ok(runner) => runner,
        Err(err) => {
            tracing::error!(pid, error = %err, "cannot start the app threads");
            return EXIT_BOOT_ERROR;
        }
    };
    let service = Counted {
        inner: Dispatcher::new(
            Router::new(config.mounts.clone(), runner.is_some()),
            config.static_files.clone(),
            runner,
            config.service.clone(),
            Health::new(config.service.health_path.clone(), phase_rx.clone()),
        ),
        lifecycle: lifecycle.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(pid, error = %err, "cannot start the runtime");
            return EXIT_BOOT_ERROR;
        }
    };
    let local = tokio::task::LocalSet::new();
    let served = local.block_on(&runtime, async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut usr1 = signal(SignalKind::user_defined1())?;
        // The master may have died between fork and here (PDEATHSIG not yet armed).
        if sys::getppid() == 1 {
            return Ok(());
        }
        logging::buffer_access();
        let housekeeping = lifecycle.clone();
        let log_settings = config.logging.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(heartbeat::BEAT_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        heartbeat::beat();
                        logging::flush_access();
                        housekeeping.check_memory();
                        housekeeping.check_stuck();
                    }
                    _ = usr1.recv() => logging::reopen(&log_settings),
                }
            }
        });
        ctx.boot.announce();
        tracing::info!(pid, "booted worker");
        let term = async move {
            term.recv().await;
        };
        tokio::task::spawn_local(stop::on_term(phase, ctx.slot, config.drain_timeout, term));
        let http = config.http.clone();
        // Plain HTTP/1.1 alone runs the accept loop without the protocol layer.
        let served: std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>>>> =
            if config.protocols.needed() {
                let front = Front::new(config.protocols.clone());
                Box::pin(server::run_with(listeners, http, service, front, phase_rx))
            } else {
                Box::pin(server::run(listeners, http, service, phase_rx))
            };
        // With an app thread stuck, the worker closes like a recycling one; its other requests
        // get --graceful-timeout to finish, then it exits (the stuck thread with it) and the
        // master replaces it.
        let stuck = lifecycle.stuck();
        let drain_limit = async {
            stuck.await;
            tokio::time::sleep(config.graceful_timeout).await;
        };
        tokio::select! {
            served = served => served,
            _ = drain_limit => {
                tracing::warn!(pid, "graceful timeout passed with an app thread stuck; exiting");
                Ok(())
            }
        }
    });
    logging::flush_access();
    match served {
        Ok(()) => 0,
        Err(err) => {
            tracing::error!(pid, error = %err, "worker failed");
            EXIT_BOOT_ERROR
        }
    }
}

/// Prints an app that would not load (traceback, then one summary line); returns the exit code.
pub fn report_load_error(spec: &AppSpec, err: LoadError) -> i32 {
    let pid = sys::getpid();
    match err {
        LoadError::Interpreter(why) => {
            tracing::error!(pid, error = %why, "the Python interpreter could not start");
            EXIT_BOOT_ERROR
        }
        LoadError::Import { traceback, summary } => {
            if !traceback.is_empty() {
                logging::stderr_line(format_args!("{traceback}"));
            }
            tracing::error!(pid, app = %spec, "failed to load the app: {summary}");
            EXIT_APP_LOAD_ERROR
        }
    }
}

/// A number in 0..=max that differs from worker to worker.
fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let seed = (sys::getpid() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ sys::monotonic_ms().rotate_left(17);
    let mixed = (seed ^ (seed >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (mixed ^ (mixed >> 29)) % max.saturating_add(1)
}
