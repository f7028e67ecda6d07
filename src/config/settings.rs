//! The validated configuration: each lower module's settings type, built from the raw flags
//! by `build` (one builder per concern).

use std::path::PathBuf;
use std::time::Duration;

use super::args::Args;
use super::build;
use super::error::ConfigError;
use super::parse;
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
    /// `--log-level`, `--error-log-json`, `--error-logfile`.
    pub logging: crate::logging::Settings,
    /// `--access-logfile`, `--access-logformat`, `--access-log-json`.
    pub access_log: crate::access_log::Settings,
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
    /// `-e KEY=VALUE`: set in the master's environment before anything starts.
    pub env: Vec<(String, String)>,
    /// `--backlog`, `--reuse-port`.
    pub listen: crate::listener::Options,
    /// The name in process titles (`-n`, else the APP, else `static`).
    pub proc_name: String,
    /// `--reload-extra-file`.
    pub reload_extra_files: Vec<PathBuf>,
    /// `--metrics-bind`: where the master serves `/metrics`.
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// `--statsd-host` and the prefix of every name (`--statsd-prefix`, with its dot).
    pub statsd: Option<(std::net::SocketAddr, String)>,
    /// Hooks defined in a Python configuration file (`-c gunicorn.conf.py`).
    pub hooks: Option<crate::wsgi::HookFile>,
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
        let access_log = build::access_log(&args)?;
        let (http, service) = build::connections(&args)?;
        let protocols = super::protocols::protocols(&args)?;
        if app.is_none() && mounts.docroot.is_none() && mounts.statics.is_empty() {
            return Err(ConfigError::NothingToServe);
        }
        let (user, group, umask) = build::identity(&args)?;
        if args.preload && app.is_none() {
            return Err(ConfigError::Preload);
        }
        let proc_name = match (&args.name, &app) {
            (Some(name), _) if !name.is_empty() => name.clone(),
            (_, Some(app)) => app.to_string(),
            _ => "static".to_owned(),
        };
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
            access_log,
            timeout: build::nonzero(args.timeout).map(Duration::from_secs),
            max_requests: build::nonzero(args.max_requests),
            max_requests_jitter: args.max_requests_jitter,
            max_rss: build::nonzero(args.max_rss).map(|mib| mib.saturating_mul(1024 * 1024)),
            preload: args.preload,
            reload: args.reload,
            pid_file: args.pid.as_ref().map(|p| parse::absolute(p)),
            user,
            group,
            umask,
            env: build::raw_env(&args)?,
            listen: build::listen(&args)?,
            proc_name,
            reload_extra_files: build::reload_extra_files(&args)?,
            metrics_bind: build::metrics_bind(&args)?,
            statsd: build::statsd(&args)?,
            hooks: None,
        })
    }
}
