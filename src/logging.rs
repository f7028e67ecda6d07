//! Logging: lifecycle and errors go to stderr through `tracing`; the access log is one plain
//! line per request on stdout, written by [`access`].

use std::io::Write;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Installs the stderr subscriber. `level` is a `tracing` filter (`info`, `debug`, `pyrite=debug`).
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

/// Writes one access-log line: `PEER "METHOD TARGET VERSION" STATUS BYTES DURATION`.
pub fn access(peer: &str, request_line: &str, status: u16, bytes: u64, elapsed: Duration) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let line = format!("{peer} \"{request_line}\" {status} {bytes} {ms:.3}ms\n");
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// Points stdout and stderr at `--access-logfile` and `--error-logfile` (opened for appending);
/// called at start-up and again on SIGUSR1, which picks up a rotated file.
pub fn reopen(config: &crate::config::Config) {
    for (fd, path) in [(1, &config.access_logfile), (2, &config.error_logfile)] {
        if let Some(path) = path {
            if let Err(err) = crate::sys::redirect_to_file(fd, path) {
                tracing::error!(path = %path.display(), error = %err, "cannot open the log file");
            }
        }
    }
}
