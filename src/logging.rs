//! Logging: lifecycle and errors go to stderr through `tracing` (the access log, one line per
//! request, is `access_log`'s).

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Where logs go and how much of them.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--log-level`: a `tracing` filter (`info`, `debug`, `pyrite=debug`).
    pub level: String,
    /// `--error-logfile` (stderr when `None`).
    pub error_logfile: Option<PathBuf>,
}

/// Installs the stderr subscriber. `level` is a `tracing` filter (`info`, `debug`, `pyrite=debug`).
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Points stderr at `--error-logfile` (opened for appending), and reopens the access log;
/// called at start-up and again on SIGUSR1, which picks up a rotated file.
pub fn reopen(settings: &Settings) {
    crate::access_log::reopen();
    if let Some(path) = &settings.error_logfile {
        if let Err(err) = crate::sys::redirect_to_file(2, path) {
            tracing::error!(path = %path.display(), error = %err, "cannot open the log file");
        }
    }
}
