//! One builder per concern, each turning the raw flags of its concern into the settings type
//! of the module that uses them (checked; every error names its flag). `Config::from_args`
//! calls them in turn.

use std::path::PathBuf;
use std::time::Duration;

use super::args::Args;
use super::error::ConfigError;
use super::parse::{
    absolute, check_venv, existing_dir, parse_bind, parse_log_level, parse_script_name,
    parse_static, parse_umask,
};
use crate::http::forwarded::AllowList;
use crate::http::parse::{Limits, MAX_FIELDS};
use crate::listener::BindAddr;
use crate::router::Mounts;

/// The largest delta-seconds a cache must understand (RFC 9111 §1.2.2).
const MAX_DELTA_SECONDS: u64 = 2_147_483_648;

/// `--bind`, else `0.0.0.0:$PORT`, else `127.0.0.1:8888`.
pub fn binds(args: &Args) -> Result<Vec<BindAddr>, ConfigError> {
    if args.bind.is_empty() {
        let default = match std::env::var("PORT") {
            Ok(port) if !port.is_empty() => format!("0.0.0.0:{port}"),
            _ => "127.0.0.1:8888".to_owned(),
        };
        return Ok(vec![parse_bind(&default)?]);
    }
    args.bind.iter().map(|b| parse_bind(b)).collect()
}

/// The most workers one master runs: its table of liveness slots holds 1024, room for twice
/// this many while a reload's new generation boots beside the old one.
pub const MAX_WORKERS: usize = 512;
/// The most app threads per worker.
pub const MAX_THREADS: usize = 1024;

/// The most connections per worker: no process can hold more descriptors than the kernel's
/// default `fs.nr_open`.
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// `--workers` (default: `$WEB_CONCURRENCY` as in gunicorn, else the number of CPUs) and
/// `--threads`, within [`MAX_WORKERS`],
/// [`MAX_THREADS`] and what the machine allows: every worker's threads (its app threads, the
/// I/O thread and the watchdog), twice over for a reload, must fit in the tasks the kernel lets
/// this user run (`sys::task_limit`).
pub fn processes(args: &Args) -> Result<(usize, usize), ConfigError> {
    let workers = match args.workers {
        Some(0) => return Err(ConfigError::Workers),
        Some(n) if n > MAX_WORKERS => {
            return Err(ConfigError::TooMany("--workers", n as u64, MAX_WORKERS))
        }
        Some(n) => n,
        None => match std::env::var("WEB_CONCURRENCY") {
            Ok(n) if !n.trim().is_empty() => match n.trim().parse::<usize>() {
                Ok(n) if n > MAX_WORKERS => {
                    return Err(ConfigError::TooMany(
                        "WEB_CONCURRENCY",
                        n as u64,
                        MAX_WORKERS,
                    ))
                }
                Ok(n) if n > 0 => n,
                _ => return Err(ConfigError::WebConcurrency(n)),
            },
            _ => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(MAX_WORKERS),
        },
    };
    if args.threads == 0 {
        return Err(ConfigError::Threads);
    }
    if args.threads > MAX_THREADS {
        return Err(ConfigError::TooMany(
            "--threads",
            args.threads as u64,
            MAX_THREADS,
        ));
    }
    let tasks = (workers as u64) * (args.threads as u64 + 2) * 2;
    if let Some(limit) = crate::sys::task_limit().filter(|&limit| tasks > limit) {
        return Err(ConfigError::Machine {
            workers,
            threads: args.threads,
            tasks,
            limit,
        });
    }
    Ok((workers, args.threads))
}

/// `--pythonpath`, `--venv` and `--script-name` (default `$SCRIPT_NAME`), with `--chdir`.
/// `$VIRTUAL_ENV` as `--venv`'s default is the entry's choice (the binary adopts it; the Python
/// package serves from the venv it runs in), settled before the flags get here.
pub fn python(args: &Args) -> Result<(crate::wsgi::Settings, Option<PathBuf>), ConfigError> {
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
    let venv = args.venv.as_deref().map(check_venv).transpose()?;
    let script_name = match &args.script_name {
        Some(prefix) => Some(prefix.clone()),
        None => std::env::var("SCRIPT_NAME").ok(),
    };
    let script_name = parse_script_name(script_name.as_deref().unwrap_or(""))?;
    let settings = crate::wsgi::Settings {
        pythonpath,
        venv,
        script_name,
    };
    Ok((settings, chdir))
}

/// `--docroot`, `--static`, `--app-suffix`, and how files are served.
pub fn routing(args: &Args) -> Result<(Mounts, crate::static_files::Options), ConfigError> {
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
    if let Some(max_age) = args.static_max_age {
        if max_age > MAX_DELTA_SECONDS {
            return Err(ConfigError::StaticMaxAge(max_age));
        }
    }
    let mounts = Mounts {
        docroot,
        statics,
        app_suffix: args.app_suffix.clone(),
    };
    let options = crate::static_files::Options::new(
        args.static_max_age,
        args.static_dotfiles,
        args.static_autoindex,
    );
    Ok((mounts, options))
}

/// The connection's limits, timeouts and trusted proxies (`http`), and what the app's
/// requests are held to (`service`).
pub fn connections(
    args: &Args,
) -> Result<(crate::http::Settings, crate::service::Settings), ConfigError> {
    if args.max_connections == 0 {
        return Err(ConfigError::Limit(
            "--max-connections",
            "must be at least 1",
        ));
    }
    if args.max_connections > MAX_CONNECTIONS {
        return Err(ConfigError::TooMany(
            "--max-connections",
            args.max_connections as u64,
            MAX_CONNECTIONS,
        ));
    }
    if args.limit_request_fields > MAX_FIELDS {
        return Err(ConfigError::Limit(
            "--limit-request-fields",
            "must be at most 32768",
        ));
    }
    let forwarded_allow =
        AllowList::parse(&args.forwarded_allow_ips).map_err(ConfigError::ForwardedAllowIps)?;
    let body_memory =
        usize::try_from(args.body_memory.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let health_path = args.health_path.as_deref().map(health_path).transpose()?;
    let service = crate::service::Settings {
        limit_request_body: (args.limit_request_body > 0).then_some(args.limit_request_body),
        body_memory,
        health_path,
    };
    let http = crate::http::Settings {
        limits: Limits {
            request_line: args.limit_request_line,
            fields: match args.limit_request_fields {
                0 => MAX_FIELDS,
                n => n,
            },
            field_size: args.limit_request_field_size,
        },
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        body_min_rate: args.body_min_rate,
        keep_alive: args.keep_alive,
        write_timeout: args.write_timeout,
        server_header: !args.no_server_header,
        forwarded_allow,
        proxy_protocol: args.proxy_protocol,
        max_connections: args.max_connections,
        graceful_timeout: seconds(args.graceful_timeout),
    };
    Ok((http, service))
}

/// `--health-path`: an origin-form path (RFC 9112 §3.2.1) without a query, as requests carry it.
fn health_path(raw: &str) -> Result<String, ConfigError> {
    let fine = raw.starts_with('/')
        && raw
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if fine {
        Ok(raw.to_owned())
    } else {
        Err(ConfigError::HealthPath(raw.to_owned()))
    }
}

/// `--log-level`, `--error-log-json`, `--access-logfile` and `--error-logfile` (`-` is the
/// standard stream).
pub fn logging(args: &Args) -> Result<crate::logging::Settings, ConfigError> {
    let level = parse_log_level(&args.log_level)?;
    Ok(crate::logging::Settings {
        level,
        json: args.error_log_json,
        error_logfile: log_file("--error-logfile", &args.error_logfile)?,
    })
}

/// `--access-logfile` (`-`: stdout; none: no access log), `--access-logformat`,
/// `--access-log-json`.
pub fn access_log(args: &Args) -> Result<crate::access_log::Settings, ConfigError> {
    use crate::access_log::{Format, Target, DEFAULT};
    let target = match &args.access_logfile {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Target::Stdout),
        Some(_) => log_file("--access-logfile", &args.access_logfile)?.map(Target::File),
    };
    let format = args.access_logformat.as_deref().unwrap_or(DEFAULT);
    Ok(crate::access_log::Settings {
        target,
        format: Format::compile(format).map_err(ConfigError::AccessLogFormat)?,
        json: args.access_log_json,
    })
}

/// A log file flag: `-` (or none) is the standard stream; a file must open for appending now
/// (created if missing), so a missing directory or a read-only place is a start-up error,
/// not logs silently lost.
fn log_file(flag: &'static str, path: &Option<PathBuf>) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = path.as_ref().filter(|p| p.as_os_str() != "-") else {
        return Ok(None);
    };
    let path = absolute(path);
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .mode(0o644)
        .create(true)
        .append(true)
        .open(&path);
    match opened {
        Ok(_) => Ok(Some(path)),
        Err(err) => Err(ConfigError::Path {
            flag,
            path: path.display().to_string(),
            why: err.to_string(),
        }),
    }
}

/// Who the workers run as, and the umask: `(user, group, umask)`.
pub type Identity = (Option<(u32, u32)>, Option<u32>, Option<u32>);

/// `--user`, `--group`, `--umask`.
pub fn identity(args: &Args) -> Result<Identity, ConfigError> {
    let user = match &args.user {
        Some(name) => {
            Some(crate::sys::lookup_user(name).ok_or_else(|| ConfigError::User(name.clone()))?)
        }
        None => None,
    };
    let group = match &args.group {
        Some(name) => {
            Some(crate::sys::lookup_group(name).ok_or_else(|| ConfigError::Group(name.clone()))?)
        }
        None => None,
    };
    let umask = args.umask.as_deref().map(parse_umask).transpose()?;
    Ok((user, group, umask))
}

/// `--timeout`, `--max-requests`, `--max-rss`: 0 means none.
pub fn nonzero(n: u64) -> Option<u64> {
    (n > 0).then_some(n)
}

/// `--graceful-timeout`.
pub fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `-e KEY=VALUE` (gunicorn's `raw_env`): each must hold a `=` after a non-empty key.
pub fn raw_env(args: &Args) -> Result<Vec<(String, String)>, ConfigError> {
    args.raw_env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((key, value))
                if !key.is_empty() && !key.contains('\0') && !value.contains('\0') =>
            {
                Ok((key.to_owned(), value.to_owned()))
            }
            _ => Err(ConfigError::Env(kv.clone())),
        })
        .collect()
}

/// `--backlog` and `--reuse-port`.
pub fn listen(args: &Args) -> Result<crate::listener::Options, ConfigError> {
    if args.backlog == 0 {
        return Err(ConfigError::Backlog);
    }
    Ok(crate::listener::Options {
        backlog: args.backlog.min(i32::MAX as u32) as i32,
        reuse_port: args.reuse_port,
    })
}

/// `--reload-extra-file`: files that need not exist yet, made absolute.
pub fn reload_extra_files(args: &Args) -> Result<Vec<PathBuf>, ConfigError> {
    args.reload_extra_file
        .iter()
        .map(|p| {
            if p.as_os_str().is_empty() {
                return Err(ConfigError::ReloadExtraFile {
                    path: String::new(),
                    why: "empty path".into(),
                });
            }
            Ok(absolute(p))
        })
        .collect()
}

/// `--metrics-bind HOST:PORT` (a host alone means port 8000, as for `--bind`).
pub fn metrics_bind(args: &Args) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let Some(raw) = &args.metrics_bind else {
        return Ok(None);
    };
    match parse_bind(raw) {
        Ok(BindAddr::Tcp(addr)) => Ok(Some(addr)),
        Ok(_) => Err(ConfigError::MetricsBind(
            raw.clone(),
            "expected HOST:PORT".into(),
        )),
        Err(ConfigError::Bind(_, why)) => Err(ConfigError::MetricsBind(raw.clone(), why)),
        Err(err) => Err(err),
    }
}

/// `--statsd-host HOST:PORT` and `--statsd-prefix`.
pub fn statsd(args: &Args) -> Result<Option<(std::net::SocketAddr, String)>, ConfigError> {
    let Some(raw) = &args.statsd_host else {
        return Ok(None);
    };
    let addr = match parse_bind(raw) {
        Ok(BindAddr::Tcp(addr)) => addr,
        Ok(_) => {
            return Err(ConfigError::StatsdHost(
                raw.clone(),
                "expected HOST:PORT".into(),
            ))
        }
        Err(ConfigError::Bind(_, why)) => return Err(ConfigError::StatsdHost(raw.clone(), why)),
        Err(err) => return Err(err),
    };
    let prefix = match args.statsd_prefix.as_deref() {
        Some(p) if !p.is_empty() => format!("{}.", p.trim_end_matches('.')),
        _ => String::new(),
    };
    Ok(Some((addr, prefix)))
}
