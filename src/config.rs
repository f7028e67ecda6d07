//! The command line (clap derive, each flag with a `PYRITE_*` environment twin) and its
//! validation into [`Config`], done once in the master before anything is bound or forked.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

/// The Python X.Y that libpython was linked against at build time.
pub const PYTHON_VERSION: &str = env!("PYRITE_PYTHON_VERSION");

#[derive(Debug, Parser)]
#[command(
    name = "pyrite",
    version,
    about = "Serves static files and Python WSGI applications."
)]
pub struct Args {
    /// The WSGI app as `module:callable` (callable defaults to `application`; `module:factory()`
    /// calls a factory). Omit it to serve files only.
    #[arg(env = "PYRITE_APP", value_name = "APP")]
    pub app: Option<String>,

    /// Address to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N (repeatable).
    /// Default 127.0.0.1:8888, or 0.0.0.0:$PORT when PORT is set.
    #[arg(
        short = 'b',
        long = "bind",
        env = "PYRITE_BIND",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub bind: Vec<String>,

    /// Number of worker processes (default: the number of CPUs).
    #[arg(short = 'w', long, env = "PYRITE_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Python threads per worker calling the app. 1 (the default) calls it on the I/O thread
    /// itself; more use a pool, for apps that wait on databases or other services.
    #[arg(long, env = "PYRITE_THREADS", value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// Directory put first on sys.path (repeatable).
    #[arg(
        long,
        env = "PYRITE_PYTHONPATH",
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub pythonpath: Vec<PathBuf>,

    /// Change to this directory before loading the app.
    #[arg(long, env = "PYRITE_CHDIR", value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Virtual environment whose packages the app imports (default: $VIRTUAL_ENV).
    #[arg(long, env = "PYRITE_VENV", value_name = "DIR")]
    pub venv: Option<PathBuf>,

    /// Serve existing files under DIR; every other path goes to the app.
    #[arg(long, env = "PYRITE_DOCROOT", value_name = "DIR")]
    pub docroot: Option<PathBuf>,

    /// Serve everything under PREFIX from DIR, or 404 (repeatable).
    #[arg(
        long = "static",
        env = "PYRITE_STATIC",
        value_name = "PREFIX=DIR",
        value_delimiter = ','
    )]
    pub statics: Vec<String>,

    /// Only paths ending in SUFFIX (e.g. `.py`) go to the app; the rest are files or 404.
    #[arg(long, env = "PYRITE_APP_SUFFIX", value_name = "SUFFIX")]
    pub app_suffix: Option<String>,

    /// Seconds in-flight requests get to finish on a graceful stop before workers are killed.
    #[arg(
        long,
        env = "PYRITE_GRACEFUL_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    pub graceful_timeout: u64,

    /// Largest request body accepted, in bytes; larger → 413 (0 = no limit).
    #[arg(
        long,
        env = "PYRITE_LIMIT_REQUEST_BODY",
        value_name = "BYTES",
        default_value_t = 0
    )]
    pub limit_request_body: u64,

    /// Seconds one request may spend in the app before it is interrupted (504); a worker
    /// stuck past that plus a grace period is killed and replaced. 0 = no limit.
    #[arg(
        long,
        env = "PYRITE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    pub timeout: u64,

    /// Recycle a worker (gracefully) after it has served this many requests. 0 = never.
    #[arg(
        long,
        env = "PYRITE_MAX_REQUESTS",
        value_name = "N",
        default_value_t = 0
    )]
    pub max_requests: u64,

    /// Add a random 0..=J to each worker's --max-requests, so workers do not recycle together.
    #[arg(
        long,
        env = "PYRITE_MAX_REQUESTS_JITTER",
        value_name = "J",
        default_value_t = 0
    )]
    pub max_requests_jitter: u64,

    /// Recycle a worker (gracefully) once its resident memory exceeds MIB mebibytes. 0 = never.
    #[arg(long, env = "PYRITE_MAX_RSS", value_name = "MIB", default_value_t = 0)]
    pub max_rss: u64,

    /// Import the app in the master before forking, so workers share its memory.
    #[arg(long, env = "PYRITE_PRELOAD")]
    pub preload: bool,

    /// Restart the workers when a Python file under --chdir or --pythonpath changes.
    #[arg(long, env = "PYRITE_RELOAD")]
    pub reload: bool,

    /// Write the master's pid to FILE (removed on exit).
    #[arg(long, env = "PYRITE_PID", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Run the workers as this user (name or uid), after binding.
    #[arg(long, env = "PYRITE_USER", value_name = "USER")]
    pub user: Option<String>,

    /// Run the workers with this group (name or gid), after binding.
    #[arg(long, env = "PYRITE_GROUP", value_name = "GROUP")]
    pub group: Option<String>,

    /// File mode creation mask, in octal (e.g. 022).
    #[arg(long, env = "PYRITE_UMASK", value_name = "MODE")]
    pub umask: Option<String>,

    /// Write the access log to FILE instead of stdout (reopened on SIGUSR1).
    #[arg(long, env = "PYRITE_ACCESS_LOGFILE", value_name = "FILE")]
    pub access_logfile: Option<PathBuf>,

    /// Write the error log to FILE instead of stderr (reopened on SIGUSR1).
    #[arg(long, env = "PYRITE_ERROR_LOGFILE", value_name = "FILE")]
    pub error_logfile: Option<PathBuf>,
    /// URL prefix the app is mounted at: it becomes SCRIPT_NAME, the rest of the path PATH_INFO,
    /// and paths outside it are 404 (default: $SCRIPT_NAME, as in gunicorn).
    #[arg(long, env = "PYRITE_SCRIPT_NAME", value_name = "PREFIX")]
    pub script_name: Option<String>,
    /// Send `Cache-Control: public, max-age=SECONDS` with static files (`immutable` too for
    /// names carrying a content hash).
    #[arg(long, env = "PYRITE_STATIC_MAX_AGE", value_name = "SECONDS")]
    pub static_max_age: Option<u64>,

    /// Serve files and directories whose names start with `.` (default: 404). As an
    /// environment variable: 1/0, true/false, yes/no, on/off.
    #[arg(
        long,
        env = "PYRITE_STATIC_DOTFILES",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub static_dotfiles: bool,

    /// Show an HTML listing of a directory that has no index.html (default: 404).
    #[arg(
        long,
        env = "PYRITE_STATIC_AUTOINDEX",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub static_autoindex: bool,
    /// Longest request line, in bytes (0 = unlimited); longer → 414.
    #[arg(
        long,
        env = "PYRITE_LIMIT_REQUEST_LINE",
        value_name = "BYTES",
        default_value_t = 4094
    )]
    pub limit_request_line: usize,

    /// Most header fields in a request (at most 32768; 0 = that maximum); more → 431.
    #[arg(
        long,
        env = "PYRITE_LIMIT_REQUEST_FIELDS",
        value_name = "N",
        default_value_t = 100
    )]
    pub limit_request_fields: usize,

    /// Longest header field line, in bytes (0 = unlimited); longer → 431.
    #[arg(
        long,
        env = "PYRITE_LIMIT_REQUEST_FIELD_SIZE",
        value_name = "BYTES",
        default_value_t = 8190
    )]
    pub limit_request_field_size: usize,

    /// Seconds a request head may take to arrive, from its first byte (a new connection:
    /// from accept); later → 408 and close.
    #[arg(long, env = "PYRITE_HEADER_TIMEOUT", value_name = "SECONDS", default_value = "10", value_parser = parse_seconds)]
    pub header_timeout: Duration,

    /// Seconds a request body read may stall; longer → 408 and close.
    #[arg(long, env = "PYRITE_BODY_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub body_timeout: Duration,

    /// Seconds an idle keep-alive connection is kept open (0 = no keep-alive).
    #[arg(long, env = "PYRITE_KEEP_ALIVE", value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    pub keep_alive: Duration,

    /// Seconds a response write may stall on a client that stopped reading; then close.
    #[arg(long, env = "PYRITE_WRITE_TIMEOUT", value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub write_timeout: Duration,

    /// Do not add a `Server` header to responses.
    #[arg(long, env = "PYRITE_NO_SERVER_HEADER")]
    pub no_server_header: bool,

    /// Peers whose X-Forwarded-*/Forwarded headers (and PROXY protocol headers) are believed:
    /// addresses or networks, comma-separated, or `*` for any.
    #[arg(
        long,
        env = "PYRITE_FORWARDED_ALLOW_IPS",
        value_name = "IPS",
        value_delimiter = ',',
        default_value = "127.0.0.1,::1"
    )]
    pub forwarded_allow_ips: Vec<String>,

    /// Connections each worker serves at once; further ones wait in the listen backlog.
    #[arg(
        long,
        env = "PYRITE_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 4096
    )]
    pub max_connections: usize,

    /// Expect a PROXY protocol (v1 or v2) header on connections from --forwarded-allow-ips.
    #[arg(long, env = "PYRITE_PROXY_PROTOCOL")]
    pub proxy_protocol: bool,

    /// Log filter for stderr: error, warn, info, debug, trace.
    #[arg(
        long,
        env = "PYRITE_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
}

/// A listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// `fd://N`: a socket already bound and listening, inherited from the parent.
    Fd(i32),
}

impl std::fmt::Display for BindAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindAddr::Tcp(addr) => write!(f, "{addr}"),
            BindAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            BindAddr::Fd(fd) => write!(f, "fd://{fd}"),
        }
    }
}

/// `module:callable`, split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub module: String,
    /// Attribute path inside the module (`application`, `app.wsgi_app`).
    pub attr: String,
    /// `module:factory()`: call the attribute to obtain the app.
    pub factory: bool,
}

impl std::fmt::Display for AppSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = if self.factory { "()" } else { "" };
        write!(f, "{}:{}{}", self.module, self.attr, call)
    }
}

/// `--static PREFIX=DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMount {
    /// Always starts and ends with `/`.
    pub prefix: String,
    pub dir: PathBuf,
}

/// How request paths are split between files and the app (DESIGN.md "Routing").
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    pub docroot: Option<PathBuf>,
    pub statics: Vec<StaticMount>,
    pub app_suffix: Option<String>,
    /// How files are served (`--static-max-age`, `--static-dotfiles`, `--static-autoindex`).
    pub static_options: crate::static_files::Options,
}

/// The validated configuration shared by the master and (after fork) the workers.
#[derive(Debug, Clone)]
pub struct Config {
    pub app: Option<AppSpec>,
    pub binds: Vec<BindAddr>,
    pub workers: usize,
    pub threads: usize,
    pub pythonpath: Vec<PathBuf>,
    pub chdir: Option<PathBuf>,
    pub venv: Option<PathBuf>,
    pub mounts: Mounts,
    pub graceful_timeout: Duration,
    /// `None` means unlimited.
    pub limit_request_body: Option<u64>,
    /// Request limits, timeouts and response options of every connection.
    pub http: crate::http::conn::Settings,
    pub log_level: String,
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
    pub access_logfile: Option<PathBuf>,
    pub error_logfile: Option<PathBuf>,
    /// `--script-name` without its trailing `/` ("" when the app is at the root).
    pub script_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--bind '{0}': {1}")]
    Bind(String, String),
    #[error("APP '{0}': expected module:callable (e.g. myapp.wsgi:application)")]
    App(String),
    #[error("--workers must be at least 1")]
    Workers,
    #[error("--threads must be at least 1")]
    Threads,
    #[error("{flag} '{path}': {why}")]
    Path {
        flag: &'static str,
        path: String,
        why: String,
    },
    #[error("--static '{0}': expected PREFIX=DIR with PREFIX starting with '/'")]
    Static(String),
    #[error("--app-suffix '{0}': must not be empty")]
    AppSuffix(String),
    #[error("--venv '{path}': {why}")]
    Venv { path: String, why: String },
    #[error("--static-max-age '{0}': at most 2147483648 seconds (RFC 9111 §1.2.2)")]
    StaticMaxAge(u64),
    #[error("{0}: {1}")]
    Limit(&'static str, &'static str),
    #[error("--forwarded-allow-ips: {0}")]
    ForwardedAllowIps(String),
    #[error("--log-level '{0}': not a log filter")]
    LogLevel(String),
    #[error("--script-name '{0}': expected a path starting with '/' (e.g. /app)")]
    ScriptName(String),
    #[error("nothing to serve: give an APP, --docroot or --static")]
    NothingToServe,
    #[error("--user '{0}': no such user")]
    User(String),
    #[error("--group '{0}': no such group")]
    Group(String),
    #[error("--umask '{0}': expected an octal mode such as 022")]
    Umask(String),
    #[error("--preload needs an APP")]
    Preload,
}

impl Config {
    /// Validates parsed arguments; every error names the flag it comes from.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let app = args.app.as_deref().map(parse_app).transpose()?;
        let binds = if args.bind.is_empty() {
            let default = match std::env::var("PORT") {
                Ok(port) if !port.is_empty() => format!("0.0.0.0:{port}"),
                _ => "127.0.0.1:8888".to_owned(),
            };
            vec![parse_bind(&default)?]
        } else {
            args.bind
                .iter()
                .map(|b| parse_bind(b))
                .collect::<Result<_, _>>()?
        };
        let workers = match args.workers {
            Some(0) => return Err(ConfigError::Workers),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        };
        if args.threads == 0 {
            return Err(ConfigError::Threads);
        }
        let pythonpath = args
            .pythonpath
            .iter()
            .map(|p| existing_dir("--pythonpath", p))
            .collect::<Result<_, _>>()?;
        let chdir = args
            .chdir
            .as_deref()
            .map(|p| existing_dir("--chdir", p))
            .transpose()?;
        let docroot = args
            .docroot
            .as_deref()
            .map(|p| existing_dir("--docroot", p))
            .transpose()?;
        let statics = args
            .statics
            .iter()
            .map(|s| parse_static(s))
            .collect::<Result<_, _>>()?;
        if let Some(suffix) = &args.app_suffix {
            if suffix.is_empty() {
                return Err(ConfigError::AppSuffix(suffix.clone()));
            }
        }
        // `$VIRTUAL_ENV` as the default is the entry's choice (`entry::Host`).
        let venv = args.venv.as_deref().map(check_venv).transpose()?;
        if tracing_subscriber::EnvFilter::try_new(&args.log_level).is_err() {
            return Err(ConfigError::LogLevel(args.log_level));
        }
        let script_name = match args.script_name {
            Some(prefix) => Some(prefix),
            None => std::env::var("SCRIPT_NAME").ok(),
        };
        let script_name = parse_script_name(script_name.as_deref().unwrap_or(""))?;
        if let Some(max_age) = args.static_max_age {
            if max_age > MAX_DELTA_SECONDS {
                return Err(ConfigError::StaticMaxAge(max_age));
            }
        }
        if args.max_connections == 0 {
            return Err(ConfigError::Limit(
                "--max-connections",
                "must be at least 1",
            ));
        }
        if args.limit_request_fields > crate::http::head::MAX_FIELDS {
            return Err(ConfigError::Limit(
                "--limit-request-fields",
                "must be at most 32768",
            ));
        }
        let mounts = Mounts {
            docroot,
            statics,
            app_suffix: args.app_suffix,
            static_options: crate::static_files::Options::new(
                args.static_max_age,
                args.static_dotfiles,
                args.static_autoindex,
            ),
        };
        if app.is_none() && mounts.docroot.is_none() && mounts.statics.is_empty() {
            return Err(ConfigError::NothingToServe);
        }
        let user = match &args.user {
            Some(name) => {
                Some(crate::sys::lookup_user(name).ok_or_else(|| ConfigError::User(name.clone()))?)
            }
            None => None,
        };
        let group = match &args.group {
            Some(name) => Some(
                crate::sys::lookup_group(name).ok_or_else(|| ConfigError::Group(name.clone()))?,
            ),
            None => None,
        };
        let umask = args.umask.as_deref().map(parse_umask).transpose()?;
        if args.preload && app.is_none() {
            return Err(ConfigError::Preload);
        }
        let nonzero = |n: u64| (n > 0).then_some(n);
        Ok(Config {
            timeout: nonzero(args.timeout).map(Duration::from_secs),
            max_requests: nonzero(args.max_requests),
            max_requests_jitter: args.max_requests_jitter,
            max_rss: nonzero(args.max_rss).map(|mib| mib * 1024 * 1024),
            preload: args.preload,
            reload: args.reload,
            pid_file: args.pid.map(|p| absolute(&p)),
            user,
            group,
            umask,
            access_logfile: args
                .access_logfile
                .filter(|p| p.as_os_str() != "-")
                .map(|p| absolute(&p)),
            error_logfile: args
                .error_logfile
                .filter(|p| p.as_os_str() != "-")
                .map(|p| absolute(&p)),
            app,
            binds,
            workers,
            threads: args.threads,
            pythonpath,
            chdir,
            venv,
            mounts,
            graceful_timeout: Duration::from_secs(args.graceful_timeout),
            limit_request_body: (args.limit_request_body > 0).then_some(args.limit_request_body),
            http: crate::http::conn::Settings {
                limits: crate::http::head::Limits {
                    request_line: args.limit_request_line,
                    fields: match args.limit_request_fields {
                        0 => crate::http::head::MAX_FIELDS,
                        n => n,
                    },
                    field_size: args.limit_request_field_size,
                },
                header_timeout: args.header_timeout,
                body_timeout: args.body_timeout,
                keep_alive: args.keep_alive,
                write_timeout: args.write_timeout,
                server_header: !args.no_server_header,
                forwarded_allow: crate::http::forwarded::AllowList::parse(
                    &args.forwarded_allow_ips,
                )
                .map_err(ConfigError::ForwardedAllowIps)?,
                proxy_protocol: args.proxy_protocol,
                max_connections: args.max_connections,
            },
            log_level: args.log_level,
            script_name,
        })
    }
}

/// The largest delta-seconds a cache must understand (RFC 9111 §1.2.2).
const MAX_DELTA_SECONDS: u64 = 2_147_483_648;
/// A number of seconds, fractions allowed (`0.5`), at most a day.
fn parse_seconds(raw: &str) -> Result<Duration, String> {
    match raw.trim().parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("expected a number of seconds from 0 to 86400".to_owned()),
    }
}

fn parse_app(raw: &str) -> Result<AppSpec, ConfigError> {
    let err = || ConfigError::App(raw.to_owned());
    let (module, attr) = match raw.split_once(':') {
        Some((m, a)) => (m, a),
        None => (raw, "application"),
    };
    let (attr, factory) = match attr.strip_suffix("()") {
        Some(name) => (name, true),
        None => (attr, false),
    };
    let dotted_ok = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
    if !dotted_ok(module) || !dotted_ok(attr) {
        return Err(err());
    }
    Ok(AppSpec {
        module: module.to_owned(),
        attr: attr.to_owned(),
        factory,
    })
}

/// `--script-name`: empty, or a path starting with `/` with no `?`, `#` or control character;
/// a trailing `/` is dropped (`/app/` and `/app` mount the same).
fn parse_script_name(raw: &str) -> Result<String, ConfigError> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    if !raw.starts_with('/') || raw.contains(['?', '#']) || raw.chars().any(char::is_control) {
        return Err(ConfigError::ScriptName(raw.to_owned()));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A path made absolute against the starting directory, so `--chdir` does not move it.
fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn parse_umask(raw: &str) -> Result<u32, ConfigError> {
    let digits = raw.trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mask) if mask <= 0o777 && !digits.is_empty() => Ok(mask),
        _ => Err(ConfigError::Umask(raw.to_owned())),
    }
}

fn parse_bind(raw: &str) -> Result<BindAddr, ConfigError> {
    let err = |why: &str| ConfigError::Bind(raw.to_owned(), why.to_owned());
    if let Some(fd) = raw.strip_prefix("fd://") {
        return match fd.parse::<i32>() {
            Ok(fd) if fd >= 0 => Ok(BindAddr::Fd(fd)),
            _ => Err(err("expected fd://N with N a file descriptor number")),
        };
    }
    if let Some(path) = raw.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(err("empty socket path"));
        }
        return Ok(BindAddr::Unix(PathBuf::from(path)));
    }
    let (_, port) = raw
        .rsplit_once(':')
        .ok_or_else(|| err("expected HOST:PORT or unix:PATH"))?;
    if port.parse::<u16>().is_err() {
        return Err(err("the port must be a number from 0 to 65535"));
    }
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Ok(BindAddr::Tcp(addr));
    }
    let mut addrs = raw.to_socket_addrs().map_err(|e| err(&e.to_string()))?;
    addrs
        .next()
        .map(BindAddr::Tcp)
        .ok_or_else(|| err("the host resolves to no address"))
}

fn parse_static(raw: &str) -> Result<StaticMount, ConfigError> {
    let (prefix, dir) = raw
        .split_once('=')
        .ok_or_else(|| ConfigError::Static(raw.to_owned()))?;
    if !prefix.starts_with('/') || dir.is_empty() {
        return Err(ConfigError::Static(raw.to_owned()));
    }
    let dir = existing_dir("--static", Path::new(dir))?;
    let mut prefix = prefix.to_owned();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(StaticMount { prefix, dir })
}

/// Resolves a directory flag against the starting directory, so `--chdir` cannot change what
/// it names.
fn existing_dir(flag: &'static str, path: &Path) -> Result<PathBuf, ConfigError> {
    let err = |why: String| ConfigError::Path {
        flag,
        path: path.display().to_string(),
        why,
    };
    let canonical = path.canonicalize().map_err(|e| err(e.to_string()))?;
    if !canonical.is_dir() {
        return Err(err("not a directory".to_owned()));
    }
    Ok(canonical)
}

/// A venv must hold a `pyvenv.cfg` naming the same Python X.Y that pyrite links, and a
/// `bin/python` that becomes `sys.executable`.
fn check_venv(dir: &Path) -> Result<PathBuf, ConfigError> {
    let err = |why: String| ConfigError::Venv {
        path: dir.display().to_string(),
        why,
    };
    let dir = dir.canonicalize().map_err(|e| err(e.to_string()))?;
    let cfg = std::fs::read_to_string(dir.join("pyvenv.cfg"))
        .map_err(|e| err(format!("cannot read pyvenv.cfg: {e}")))?;
    let version =
        venv_version(&cfg).ok_or_else(|| err("pyvenv.cfg names no Python version".into()))?;
    if version != PYTHON_VERSION {
        return Err(err(format!(
            "the venv is for Python {version}, but pyrite is built with Python {PYTHON_VERSION}"
        )));
    }
    if !dir.join("bin/python").exists() {
        return Err(err("bin/python is missing".into()));
    }
    Ok(dir)
}

/// The X.Y of `version = X.Y.Z` (or `version_info`) in a pyvenv.cfg.
fn venv_version(cfg: &str) -> Option<String> {
    cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if !matches!(key.trim(), "version" | "version_info") {
            return None;
        }
        let mut parts = value.trim().split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_specs() {
        let spec = parse_app("pkg.mod:app").unwrap();
        assert_eq!(
            (spec.module.as_str(), spec.attr.as_str(), spec.factory),
            ("pkg.mod", "app", false)
        );
        let spec = parse_app("mod").unwrap();
        assert_eq!(spec.attr, "application");
        assert!(parse_app("mod:create_app()").unwrap().factory);
        for bad in [
            "",
            ":app",
            "mod:",
            "1mod:app",
            "mod:app-x",
            "a..b:c",
            "mod:a b",
        ] {
            assert!(parse_app(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binds() {
        assert_eq!(
            parse_bind("127.0.0.1:80").unwrap(),
            BindAddr::Tcp("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            parse_bind("[::1]:0").unwrap(),
            BindAddr::Tcp("[::1]:0".parse().unwrap())
        );
        assert_eq!(
            parse_bind("unix:/tmp/s").unwrap(),
            BindAddr::Unix("/tmp/s".into())
        );
        for bad in ["127.0.0.1", "127.0.0.1:99999", "unix:", "host:port"] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn venv_versions() {
        assert_eq!(
            venv_version("home = /x\nversion = 3.11.7\n").as_deref(),
            Some("3.11")
        );
        assert_eq!(
            venv_version("version_info = 3.12.1.final.0").as_deref(),
            Some("3.12")
        );
        assert_eq!(venv_version("home = /x"), None);
    }

    #[test]
    fn umasks() {
        assert_eq!(parse_umask("022").unwrap(), 0o22);
        assert_eq!(parse_umask("0o077").unwrap(), 0o77);
        for bad in ["", "8", "1000", "abc"] {
            assert!(parse_umask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_names() {
        assert_eq!(parse_script_name("").unwrap(), "");
        assert_eq!(parse_script_name("/").unwrap(), "");
        assert_eq!(parse_script_name("/app/").unwrap(), "/app");
        assert_eq!(parse_script_name("/a/b").unwrap(), "/a/b");
        for bad in ["app", "/a?b", "/a\nb"] {
            assert!(parse_script_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_a1"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier(""));
    }
}
