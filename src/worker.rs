//! A worker, right after fork: restore signal defaults, change directory, start CPython and
//! import the app (only when there is one), then run a current-thread tokio runtime that
//! serves until SIGTERM. Returns the process exit code.

use std::rc::Rc;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::http::server;
use crate::http::service::Service;
use crate::listener::Listener;
use crate::master::{EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR};
use crate::router::Router;
use crate::sys::{self, BootPipe};
use crate::wsgi::{self, Executor, LoadError};

pub fn run(config: &Config, listeners: Vec<Listener>, boot: &BootPipe) -> i32 {
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
    let executor = match &config.app {
        Some(spec) => match wsgi::load(config, spec) {
            Ok(app) => Some(Executor::new(app)),
            Err(LoadError::Interpreter(why)) => {
                tracing::error!(pid, error = %why, "the Python interpreter could not start");
                return EXIT_BOOT_ERROR;
            }
            Err(LoadError::Import { traceback, summary }) => {
                if !traceback.is_empty() {
                    eprintln!("{traceback}");
                }
                tracing::error!(pid, app = %spec, "failed to load the app: {summary}");
                return EXIT_APP_LOAD_ERROR;
            }
        },
        None => None,
    };
    let service = Rc::new(Service {
        router: Router::new(config.mounts.clone(), executor.is_some()),
        executor,
        limit_request_body: config.limit_request_body,
        http: config.http.clone(),
    });
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
        // The master may have died between fork and here (PDEATHSIG not yet armed).
        if sys::getppid() == 1 {
            return Ok(());
        }
        boot.announce();
        tracing::info!(pid, "booted worker");
        server::run(listeners, service, async move {
            term.recv().await;
        })
        .await
    });
    match served {
        Ok(()) => 0,
        Err(err) => {
            tracing::error!(pid, error = %err, "worker failed");
            EXIT_BOOT_ERROR
        }
    }
}
