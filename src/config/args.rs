//! The command line as clap reads it: every flag, its default and its `PYRITE_*` environment
//! twin, with nothing checked beyond its type. `Config::from_args` validates it (as ripgrep
//! keeps its raw flags apart from the configuration it runs with).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

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

    // The doc comment is also the `--help` text, where `[IPv6]` is not a link.
    #[allow(rustdoc::broken_intra_doc_links)]
    /// Address to listen on: HOST:PORT, HOST (port 8000), [IPv6]:PORT, unix:PATH or fd://N
    /// (repeatable). Default 127.0.0.1:8888, or 0.0.0.0:$PORT when PORT is set. `https://HOST:PORT`
    /// makes that listener TLS and the others plain; with --certfile and no `https://`, all are TLS.
    #[arg(
        short = 'b',
        long = "bind",
        env = "PYRITE_BIND",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub bind: Vec<String>,

    /// Number of worker processes (default: $WEB_CONCURRENCY, else the number of CPUs).
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

    /// Virtual environment whose packages the app imports (default: $VIRTUAL_ENV). The
    /// pip-installed pyrite serves from the venv it is installed in: this may only name it.
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

    /// Seconds a stopping server (SIGTERM) keeps accepting and serving before it stops taking
    /// connections, every response closing its connection and the health probe saying 503,
    /// so a balancer can take it out first. 0 = stop taking connections at once.
    #[arg(long, env = "PYRITE_DRAIN_TIMEOUT", value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub drain_timeout: Duration,

    /// A path the worker answers itself, without the app: 200 while it serves, 503 once it
    /// drains or stops (for balancer health checks and readiness probes). Off by default.
    #[arg(long, env = "PYRITE_HEALTH_PATH", value_name = "PATH")]
    pub health_path: Option<String>,

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
        short = 't',
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
    #[arg(short = 'p', long, env = "PYRITE_PID", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Run the workers as this user (name or uid), after binding.
    #[arg(short = 'u', long, env = "PYRITE_USER", value_name = "USER")]
    pub user: Option<String>,

    /// Run the workers with this group (name or gid), after binding.
    #[arg(short = 'g', long, env = "PYRITE_GROUP", value_name = "GROUP")]
    pub group: Option<String>,

    /// File mode creation mask, in octal (e.g. 022).
    #[arg(short = 'm', long, env = "PYRITE_UMASK", value_name = "MODE")]
    pub umask: Option<String>,

    /// Write an access log to FILE (`-`: stdout), reopened on SIGUSR1. Off unless given.
    #[arg(long, env = "PYRITE_ACCESS_LOGFILE", value_name = "FILE")]
    pub access_logfile: Option<PathBuf>,

    /// The access log's format, with gunicorn's atoms (default: Apache's combined format).
    #[arg(long, env = "PYRITE_ACCESS_LOGFORMAT", value_name = "FORMAT")]
    pub access_logformat: Option<String>,

    /// Write the access log as one JSON object per line, keyed by the format's atoms.
    #[arg(long, env = "PYRITE_ACCESS_LOG_JSON")]
    pub access_log_json: bool,

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

    /// Bytes a second a request body must average over each --body-timeout window; slower →
    /// 408 and close (0 = no minimum).
    #[arg(
        long,
        env = "PYRITE_BODY_MIN_RATE",
        value_name = "BYTES",
        default_value_t = 500
    )]
    pub body_min_rate: u64,

    /// Mebibytes of request bodies one worker holds in memory while reading them; further
    /// bodies are spooled to disk.
    #[arg(
        long,
        env = "PYRITE_BODY_MEMORY",
        value_name = "MIB",
        default_value_t = 32
    )]
    pub body_memory: u64,

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

    /// PEM certificate chain (server certificate first) for TLS listeners; it may also hold
    /// the key.
    #[arg(
        long,
        visible_alias = "ssl-certificate",
        env = "PYRITE_CERTFILE",
        value_name = "FILE"
    )]
    pub certfile: Option<PathBuf>,

    /// PEM private key (PKCS#8, RSA or EC) of --certfile.
    #[arg(
        long,
        visible_alias = "ssl-keyfile",
        env = "PYRITE_KEYFILE",
        value_name = "FILE"
    )]
    pub keyfile: Option<PathBuf>,

    /// PEM CA certificates client certificates are verified against.
    #[arg(long, env = "PYRITE_CA_CERTS", value_name = "FILE")]
    pub ca_certs: Option<PathBuf>,

    /// Client certificates: none, optional or required (or 0, 1, 2, as gunicorn).
    #[arg(
        long,
        env = "PYRITE_CERT_REQS",
        value_name = "MODE",
        default_value = "none"
    )]
    pub cert_reqs: String,

    /// HTTP versions: 1 (HTTP/1.1 only), 2 (HTTP/2 only) or auto (HTTP/2 by ALPN on TLS
    /// listeners and with prior knowledge on plain ones, HTTP/1.1 otherwise).
    #[arg(
        long,
        env = "PYRITE_HTTP",
        value_name = "1|2|auto",
        default_value = "auto"
    )]
    pub http: String,

    /// HTTP/2: streams one connection may have open at once.
    #[arg(
        long,
        env = "PYRITE_HTTP2_MAX_CONCURRENT_STREAMS",
        value_name = "N",
        default_value_t = 100
    )]
    pub http2_max_concurrent_streams: u32,

    /// HTTP/2: largest request header list (decoded), in bytes; larger → 431.
    #[arg(
        long,
        visible_alias = "http2-max-headers-size",
        env = "PYRITE_HTTP2_MAX_HEADER_LIST_SIZE",
        value_name = "BYTES",
        default_value_t = 65536
    )]
    pub http2_max_header_list_size: u32,

    /// HTTP/2: each stream's receive window, in bytes (65535 to 2147483647).
    #[arg(
        long,
        env = "PYRITE_HTTP2_INITIAL_STREAM_WINDOW_SIZE",
        value_name = "BYTES",
        default_value_t = 1048576
    )]
    pub http2_initial_stream_window_size: u32,

    /// HTTP/2: the connection's receive window, in bytes (65535 to 2147483647).
    #[arg(
        long,
        env = "PYRITE_HTTP2_INITIAL_CONNECTION_WINDOW_SIZE",
        value_name = "BYTES",
        default_value_t = 2097152
    )]
    pub http2_initial_connection_window_size: u32,

    /// HTTP/2: largest frame the client may send, in bytes (16384 to 16777215).
    #[arg(
        long,
        env = "PYRITE_HTTP2_MAX_FRAME_SIZE",
        value_name = "BYTES",
        default_value_t = 16384
    )]
    pub http2_max_frame_size: u32,

    /// HTTP/2: response bytes buffered per stream before its body is pulled again.
    #[arg(
        long,
        env = "PYRITE_HTTP2_MAX_SEND_BUFFER_SIZE",
        value_name = "BYTES",
        default_value_t = 409600
    )]
    pub http2_max_send_buffer_size: u32,

    /// HTTP/2: seconds between keep-alive PINGs (0 = none).
    #[arg(long, env = "PYRITE_HTTP2_KEEP_ALIVE_INTERVAL", value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub http2_keep_alive_interval: Duration,

    /// HTTP/2: seconds a keep-alive PING may go unanswered before the connection is closed.
    #[arg(long, env = "PYRITE_HTTP2_KEEP_ALIVE_TIMEOUT", value_name = "SECONDS", default_value = "20", value_parser = parse_seconds)]
    pub http2_keep_alive_timeout: Duration,

    /// HTTP/2: streams a client may reset on one connection in 10 seconds once the server
    /// took them up; one more closes it (rapid reset, CVE-2023-44487).
    #[arg(
        long,
        env = "PYRITE_HTTP2_MAX_RESET_STREAMS",
        value_name = "N",
        default_value_t = 100
    )]
    pub http2_max_reset_streams: u32,

    /// Error-log level: debug, info, warning (or warn), error, critical (gunicorn's words).
    #[arg(
        long,
        env = "PYRITE_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info"
    )]
    pub log_level: String,

    /// Write the error log as JSON, one object per line.
    #[arg(long, env = "PYRITE_ERROR_LOG_JSON")]
    pub error_log_json: bool,

    /// A configuration file: `pyrite.toml` (keys are long flag names) or a gunicorn
    /// `gunicorn.conf.py`. The command line and PYRITE_* variables take precedence over it.
    #[arg(short = 'c', long, env = "PYRITE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration and import the app, then exit (0 good, 2 bad setting, 4 the app
    /// cannot be imported).
    #[arg(long)]
    pub check_config: bool,

    /// Print every effective setting and where it came from, then exit.
    #[arg(long)]
    pub print_config: bool,

    /// Set an environment variable KEY=VALUE for the master and the workers (repeatable).
    #[arg(
        short = 'e',
        long = "env",
        env = "PYRITE_ENV",
        value_name = "KEY=VALUE"
    )]
    pub raw_env: Vec<String>,

    /// Length of each listening socket's queue of pending connections.
    #[arg(long, env = "PYRITE_BACKLOG", value_name = "N", default_value_t = 2048)]
    pub backlog: u32,

    /// Set SO_REUSEPORT on the listening sockets.
    #[arg(long, env = "PYRITE_REUSE_PORT")]
    pub reuse_port: bool,

    /// The name in process titles (`pyrite: master [NAME]`); default: the APP.
    #[arg(short = 'n', long, env = "PYRITE_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// With --reload, also restart the workers when FILE changes (repeatable).
    #[arg(long, env = "PYRITE_RELOAD_EXTRA_FILE", value_name = "FILE")]
    pub reload_extra_file: Vec<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics, from the master (HOST:PORT).
    #[arg(long, env = "PYRITE_METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<String>,

    /// Send metrics to a statsd server at HOST:PORT (UDP), once a second, from the master.
    #[arg(long, env = "PYRITE_STATSD_HOST", value_name = "HOST:PORT")]
    pub statsd_host: Option<String>,

    /// Prefix of the statsd metric names (a `.` is added).
    #[arg(long, env = "PYRITE_STATSD_PREFIX", value_name = "PREFIX")]
    pub statsd_prefix: Option<String>,
}

/// A number of seconds, fractions allowed (`0.5`), at most a day.
fn parse_seconds(raw: &str) -> Result<Duration, String> {
    match raw.trim().parse::<f64>() {
        Ok(secs) if (0.0..=86_400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("expected a number of seconds from 0 to 86400".to_owned()),
    }
}
