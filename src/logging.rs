//! Logging: lifecycle and errors go to stderr through `tracing` (plain lines, or JSON objects
//! with `--error-log-json`); the app's Python `logging` records reach the error log at their
//! own level through [`python`]. The access log, one line per request, is `access_log`'s.

use std::io::Write;

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Where logs go and how much of them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--log-level` as a `tracing` filter (`info`, `warn`, `pyrite=debug`).
    pub level: String,
    /// `--error-log-json`: one JSON object per error-log line.
    pub json: bool,
    /// `--error-logfile` (stderr when `None`).
    pub error_logfile: Option<PathBuf>,
}

/// Installs the stderr subscriber: `settings.level` is a `tracing` filter (`info`, `warn`,
/// `pyrite=debug`); `settings.json` writes one JSON object per event, its fields at the top.
/// A line that cannot be written (its reader went away: EPIPE) is dropped: the server never
/// dies, nor stops serving, because a log reader did (tracing-subscriber would otherwise report
/// the failure with `eprintln!`, which panics on that same broken stderr).
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .log_internal_errors(false);
    if settings.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
}

/// One record of the app's Python `logging` (or a `wsgi.errors` write), at its own level:
/// Python's `levelno` (10 DEBUG … 50 CRITICAL) becomes the nearest `tracing` level.
pub fn python(levelno: i64, logger: &str, message: &str) {
    let pid = std::process::id();
    match levelno {
        n if n >= 40 => tracing::error!(target: "python", pid, logger, "{message}"),
        n if n >= 30 => tracing::warn!(target: "python", pid, logger, "{message}"),
        n if n >= 20 => tracing::info!(target: "python", pid, logger, "{message}"),
        n if n >= 10 => tracing::debug!(target: "python", pid, logger, "{message}"),
        _ => tracing::trace!(target: "python", pid, logger, "{message}"),
    }
}

/// Whether a Python record at `levelno` would be written (so the app side can skip formatting).
pub fn python_enabled(levelno: i64) -> bool {
    match levelno {
        n if n >= 40 => tracing::enabled!(target: "python", tracing::Level::ERROR),
        n if n >= 30 => tracing::enabled!(target: "python", tracing::Level::WARN),
        n if n >= 20 => tracing::enabled!(target: "python", tracing::Level::INFO),
        n if n >= 10 => tracing::enabled!(target: "python", tracing::Level::DEBUG),
        _ => tracing::enabled!(target: "python", tracing::Level::TRACE),
    }
}

/// Writes one line to stderr outside `tracing` (a traceback, a usage error); if nobody reads
/// stderr any more, the line is dropped (`eprintln!` would panic).
pub fn stderr_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Reopens the access log and points stderr at `--error-logfile` (opened for appending);
/// called at start-up and again on SIGUSR1, which picks up a rotated file.
pub fn reopen(settings: &Settings) {
    crate::access_log::reopen();
    if let Some(path) = &settings.error_logfile {
        if let Err(err) = crate::sys::redirect_to_file(2, path) {
            tracing::error!(path = %path.display(), error = %err, "cannot open the log file");
        }
    }
}
