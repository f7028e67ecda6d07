//! A worker, right after fork: restore signal defaults, change directory, drop privileges,
//! start CPython and import the app (unless the master preloaded it), then run a
//! current-thread tokio runtime that serves until SIGTERM or until it recycles itself
//! (`--max-requests`, `--max-rss`, counted by `lifecycle` around the service); `stop` walks it
//! through its stop (a drain first when the whole server stops). Returns the process exit code.

mod lifecycle;
mod orphan;
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
use crate::sys::{self, BootPipe, SharedSlots, Slot};
use crate::wsgi::{self, AppSpec, LoadError, Runner};
use crate::{access_log, heartbeat, logging};
use lifecycle::{Counted, Lifecycle};

/// What the master hands a freshly forked worker.
pub struct Context<'a> {
    pub config: &'a Config,
    pub boot: &'a BootPipe,
    pub slot: &'static Slot,
    /// Every worker's slot (this one's among them), to compare connection counts.
    pub slots: &'static SharedSlots,
    /// The app, when the master imported it before forking (`--preload`).
    pub preloaded: Option<wsgi::App>,
    /// gunicorn's `worker.age`: the how-manieth worker the master started.
    pub age: u64,
}

pub fn run(ctx: Context<'_>, listeners: Vec<Listener>) -> i32 {
    let config = ctx.config;
    let pid = sys::getpid();
    // The master speaks to systemd; the app must not (READY=1 from a worker would be a lie).
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        std::env::remove_var(var);
    }
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
    sys::set_process_title(&format!("pyrite: worker [{}]", config.proc_name));
    crate::metrics::install(ctx.slot, ctx.slots);
    heartbeat::install(
        ctx.slot,
        config.timeout.filter(|_| config.app.is_some()),
        wsgi::interrupt_thread,
    );
    // A preloaded app's master installed the timeout handler before forking (inherited).
    let install_handler =
        ctx.preloaded.is_none() && config.app.is_some() && config.timeout.is_some();
    let hook_ctx = config
        .hooks
        .as_ref()
        .map(|_| hook_context(config, sys::getppid(), ctx.age));
    let hook_file = config.hooks.as_ref().zip(hook_ctx.as_ref());
    let mut worker_hooks = None;
    let app = match (ctx.preloaded, &config.app) {
        (Some(app), Some(spec)) => {
            if let Some((file, hctx)) = hook_file {
                match wsgi::hook_preloaded(&app, file, hctx) {
                    Ok(hooks) => worker_hooks = Some(hooks),
                    Err(err) => return report_load_error(spec, err),
                }
            }
            Some(app)
        }
        (Some(app), None) => Some(app),
        (None, Some(spec)) => {
            match wsgi::load_hooked(&config.python, spec, config.workers > 1, hook_file) {
                Ok((app, hooks)) => {
                    worker_hooks = hooks;
                    Some(app)
                }
                Err(err) => return report_load_error(spec, err),
            }
        }
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
        // The inline app's GIL is held from request to request while the loop is busy, and
        // given back whenever it is about to wait (see wsgi::release_held_gil).
        .on_thread_park(wsgi::release_held_gil)
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
        let master = sys::getppid();
        if master == 1 {
            return Ok(());
        }
        orphan::watch(
            master,
            config.drain_timeout.saturating_add(config.graceful_timeout),
        );
        access_log::buffer();
        let housekeeping = lifecycle.clone();
        let log_settings = config.logging.clone();
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(heartbeat::BEAT_EVERY);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        heartbeat::beat();
                        // However busy the loop stays (it may never park under a flood that
                        // runs no app call), the app's own threads get the GIL once a beat.
                        wsgi::release_held_gil();
                        access_log::flush();
                        housekeeping.check_memory();
                        housekeeping.check_stuck();
                    }
                    _ = usr1.recv() => logging::reopen(&log_settings),
                }
            }
        });
        // Counted among the workers that share new connections from the moment it says it is
        // up: its accept loops start in this same turn, and a worker that booted a moment
        // earlier must not take a whole burst for want of a second sharer.
        crate::metrics::accepting(true);
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
    access_log::flush();
    if let Some(hooks) = &worker_hooks {
        hooks.worker_exit();
    }
    match served {
        Ok(()) => 0,
        Err(err) => {
            tracing::error!(pid, error = %err, "worker failed");
            EXIT_BOOT_ERROR
        }
    }
}

/// `--check-config`: imports the app as a worker would (in the working directory it would
/// use), in this process, which then exits; returns the exit code (0, or 4 when it cannot be
/// imported, 3 when the interpreter cannot start).
pub fn check(config: &Config) -> i32 {
    if let Some(dir) = &config.chdir {
        if let Err(err) = std::env::set_current_dir(dir) {
            logging::stderr_line(format_args!(
                "pyrite: error: --chdir '{}': {err}",
                dir.display()
            ));
            return EXIT_BOOT_ERROR;
        }
    }
    let Some(spec) = &config.app else {
        println!("configuration OK (no app)");
        return 0;
    };
    match wsgi::load(&config.python, spec, config.workers > 1) {
        Ok(_) => {
            println!("configuration OK; app {spec} imported");
            0
        }
        Err(LoadError::Interpreter(why)) => {
            logging::stderr_line(format_args!(
                "pyrite: error: the Python interpreter could not start: {why}"
            ));
            EXIT_BOOT_ERROR
        }
        Err(LoadError::Import { traceback, summary }) => {
            if !traceback.is_empty() {
                logging::stderr_line(format_args!("{traceback}"));
            }
            logging::stderr_line(format_args!(
                "pyrite: error: failed to load the app {spec}: {summary}"
            ));
            EXIT_APP_LOAD_ERROR
        }
        Err(LoadError::Hook { hook, traceback }) => {
            logging::stderr_line(format_args!(
                "{traceback}\npyrite: error: the {hook} hook raised"
            ));
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
        // As gunicorn: a worker whose post_fork or post_worker_init raises did not boot.
        LoadError::Hook { hook, traceback } => {
            tracing::error!(
                pid,
                "the {hook} hook raised; the worker cannot boot\n{traceback}"
            );
            EXIT_BOOT_ERROR
        }
    }
}

/// What the hooks' `server` and `worker` objects say (`server.cfg` by gunicorn's names).
pub fn hook_context(config: &Config, master_pid: sys::Pid, age: u64) -> wsgi::HookContext {
    let address: Vec<String> = config.binds.iter().map(|b| b.to_string()).collect();
    let secs = |d: Option<std::time::Duration>| d.map_or(0, |d| d.as_secs());
    let cfg = serde_json::json!({
        "bind": address,
        "workers": config.workers,
        "threads": config.threads,
        "timeout": secs(config.timeout),
        "graceful_timeout": config.graceful_timeout.as_secs(),
        "keepalive": config.http.keep_alive.as_secs(),
        "max_requests": config.max_requests.unwrap_or(0),
        "max_requests_jitter": config.max_requests_jitter,
        "worker_connections": config.http.max_connections,
        "preload_app": config.preload,
        "proc_name": config.proc_name,
        "wsgi_app": config.app.as_ref().map(|a| a.to_string()),
        "pythonpath": config.python.pythonpath,
        "chdir": config.chdir,
        "loglevel": config.logging.level,
    });
    wsgi::HookContext {
        master_pid,
        age,
        num_workers: config.workers,
        address,
        proc_name: config.proc_name.clone(),
        cfg_json: cfg.to_string(),
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
