//! The configuration, validated once in the master before anything is bound or forked: the
//! raw flags (`args`, clap with a `PYRITE_*` twin per flag) go through one builder per concern
//! (`build`, with `parse` for single values) into [`Config`], which holds each lower module's
//! own settings type. Nothing below the master and the worker reads `Config`.

mod args;
mod build;
mod error;
mod parse;
mod protocols;

use std::path::PathBuf;
use std::time::Duration;

pub use args::Args;
pub use error::ConfigError;
pub use parse::PYTHON_VERSION;

use crate::listener::BindAddr;
use crate::router::Mounts;
use crate::wsgi::AppSpec;

/// The validated configuration shared by the master and (after fork) the workers.
#[derive(Debug, Clone)]
pub struct Config {
    pub app: Option<AppSpec>,
    pub binds: Vec<BindAddr>,
    pub workers: usize,
    pub threads: usize,
    /// Where the app is imported from (`--pythonpath`, `--venv`, `--script-name`).
    pub python: crate::wsgi::Settings,
    pub chdir: Option<PathBuf>,
    pub mounts: Mounts,
    /// How files are served (`--static-max-age`, `--static-dotfiles`, `--static-autoindex`).
    pub static_files: crate::static_files::Options,
    pub graceful_timeout: Duration,
    /// How long a stopping server keeps serving before it stops taking connections.
    pub drain_timeout: Duration,
    /// `--limit-request-body` and `--forwarded-allow-ips`, for the app's requests.
    pub service: crate::service::Settings,
    /// Request limits, timeouts and response options of every connection.
    pub http: crate::http::Settings,
    /// TLS listeners and certificates, `--http`, the HTTP/2 limits.
    pub protocols: crate::negotiate::Settings,
    /// `--log-level`, `--access-logfile`, `--error-logfile`.
    pub logging: crate::logging::Settings,
    /// `None` means no limit.
    pub timeout: Option<Duration>,
    pub max_requests: Option<u64>,
    pub max_requests_jitter: u64,
    /// Bytes; `None` means no limit.
    pub max_rss: Option<u64>,
    pub preload: bool,
    pub reload: bool,
    pub pid_file: Option<PathBuf>,
    /// uid (and that user's primary gid) the workers run as.
    pub user: Option<(u32, u32)>,
    pub group: Option<u32>,
    pub umask: Option<u32>,
}

impl Config {
    /// Validates parsed arguments; every error names the flag it comes from.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let app = args.app.as_deref().map(parse::parse_app).transpose()?;
        let binds = build::binds(&args)?;
        let (workers, threads) = build::processes(&args)?;
        let (python, chdir) = build::python(&args)?;
        let (mounts, static_files) = build::routing(&args)?;
        let logging = build::logging(&args)?;
        let (http, service) = build::connections(&args)?;
        let protocols = protocols::protocols(&args)?;
        if app.is_none() && mounts.docroot.is_none() && mounts.statics.is_empty() {
            return Err(ConfigError::NothingToServe);
        }
        let (user, group, umask) = build::identity(&args)?;
        if args.preload && app.is_none() {
            return Err(ConfigError::Preload);
        }
        Ok(Config {
            app,
            binds,
            workers,
            threads,
            python,
            chdir,
            mounts,
            static_files,
            graceful_timeout: build::seconds(args.graceful_timeout),
            drain_timeout: args.drain_timeout,
            service,
            http,
            protocols,
            logging,
            timeout: build::nonzero(args.timeout).map(Duration::from_secs),
            max_requests: build::nonzero(args.max_requests),
            max_requests_jitter: args.max_requests_jitter,
            max_rss: build::nonzero(args.max_rss).map(|mib| mib.saturating_mul(1024 * 1024)),
            preload: args.preload,
            reload: args.reload,
            pid_file: args.pid.map(|p| parse::absolute(&p)),
            user,
            group,
            umask,
        })
    }
}
