//! Why a command line is refused: one variant per kind of mistake, each message naming the flag
//! (printed as one line, exit code 2).

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
    #[error("{0} {1}: at most {2}")]
    TooMany(&'static str, u64, usize),
    #[error("--workers {workers} with --threads {threads}: up to {tasks} processes and threads (twice over during a reload), more than this machine allows ({limit}: the least of kernel.threads-max, kernel.pid_max and RLIMIT_NPROC)")]
    Machine {
        workers: usize,
        threads: usize,
        tasks: u64,
        limit: u64,
    },
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
    #[error("--access-logformat: {0}")]
    AccessLogFormat(String),
    #[error("--log-level '{0}': expected debug, info, warning (or warn), error or critical")]
    LogLevel(String),
    #[error("--health-path '{0}': expected a path starting with '/' (e.g. /healthz), without query or spaces")]
    HealthPath(String),
    #[error("WEB_CONCURRENCY '{0}': expected a number of workers, at least 1")]
    WebConcurrency(String),
    #[error("--env '{0}': expected KEY=VALUE")]
    Env(String),
    #[error("--backlog must be at least 1")]
    Backlog,
    #[error("--metrics-bind '{0}': {1}")]
    MetricsBind(String, String),
    #[error("--statsd-host '{0}': {1}")]
    StatsdHost(String, String),
    #[error("--reload-extra-file '{path}': {why}")]
    ReloadExtraFile { path: String, why: String },
    #[error("{0}")]
    File(String),
    /// The entry refused a setting (e.g. a `--venv` the Python package does not run in).
    #[error("{0}")]
    Entry(String),
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
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    TlsFlags(String),
    #[error("--cert-reqs '{0}': expected none, optional or required")]
    CertReqs(String),
    #[error("--http '{0}': expected 1, 2 or auto")]
    Http(String),
}
