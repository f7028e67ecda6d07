//! Logging: lifecycle and errors go to stderr through `tracing` (plain lines, or JSON objects
//! with `--error-log-json`); the access log is one plain line per request, written by
//! [`access`] to stdout or to its own file — never to the descriptor the app's `print()` uses.
//! Workers buffer access lines and write them at least once a second (and whenever 32 KiB
//! gather), so a busy worker spends one `write` on many requests instead of one each. The
//! app's Python `logging` records reach the error log at their own level through [`python`].

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Where logs go and how much of them.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--log-level` as a `tracing` filter (`info`, `warn`, `pyrite=debug`).
    pub level: String,
    /// `--error-log-json`: one JSON object per error-log line.
    pub json: bool,
    /// `--access-logfile` (stdout when `None`).
    pub access_logfile: Option<PathBuf>,
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

/// Access lines not yet written.
static ACCESS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// `--access-logfile FILE`, opened for appending (stdout when `None`). A descriptor of its
/// own: the app's `print()` writes to stdout and must never land in the access log.
static ACCESS_FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);
static BUFFERED: AtomicBool = AtomicBool::new(false);
/// Past this many buffered bytes, lines are written at once.
const ACCESS_FLUSH_AT: usize = 32 * 1024;

/// Buffers access lines from now on; the caller must then call [`flush_access`] regularly
/// and before exiting.
pub fn buffer_access() {
    BUFFERED.store(true, Ordering::Relaxed);
}

/// One request, as the access log shows it.
pub struct AccessLine<'a> {
    pub peer: &'a str,
    /// `None`: the request line is shown as `-`.
    pub method: Option<&'a str>,
    pub target: &'a str,
    pub version: &'a str,
    pub status: u16,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Adds one access-log line: `PEER "METHOD TARGET VERSION" STATUS BYTES DURATION`.
pub fn access(line: AccessLine<'_>) {
    let micros = line.elapsed.as_micros().min(u128::from(u64::MAX)) as u64;
    let Ok(mut buf) = ACCESS.lock() else { return };
    // Put together by hand: `write!` costs more than the rest of a static file hit's logging.
    buf.extend_from_slice(line.peer.as_bytes());
    match line.method {
        Some(method) => {
            buf.extend_from_slice(b" \"");
            buf.extend_from_slice(method.as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(line.target.as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(line.version.as_bytes());
            buf.push(b'"');
        }
        None => buf.extend_from_slice(b" \"-\""),
    }
    buf.push(b' ');
    buf.extend_from_slice(crate::text::decimal(u64::from(line.status), &mut [0; 20]));
    buf.push(b' ');
    buf.extend_from_slice(crate::text::decimal(line.bytes, &mut [0; 20]));
    buf.push(b' ');
    buf.extend_from_slice(crate::text::decimal(micros / 1000, &mut [0; 20]));
    buf.push(b'.');
    let frac = micros % 1000;
    buf.extend_from_slice(&[
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
    buf.extend_from_slice(b"ms\n");
    if !BUFFERED.load(Ordering::Relaxed) || buf.len() >= ACCESS_FLUSH_AT {
        write_out(&mut buf);
    }
}

/// Writes the buffered access lines.
pub fn flush_access() {
    if let Ok(mut buf) = ACCESS.lock() {
        write_out(&mut buf);
    }
}

fn write_out(buf: &mut Vec<u8>) {
    if buf.is_empty() {
        return;
    }
    match ACCESS_FILE.lock().as_deref_mut() {
        Ok(Some(file)) => {
            let _ = file.write_all(buf);
        }
        _ => {
            let _ = std::io::stdout().lock().write_all(buf);
        }
    }
    buf.clear();
}

/// Opens `--access-logfile` (for appending, into a descriptor of its own) and points stderr at
/// `--error-logfile`; called at start-up and again on SIGUSR1, which picks up a rotated file.
pub fn reopen(settings: &Settings) {
    flush_access();
    if let Some(path) = &settings.access_logfile {
        match crate::sys::open_append(path) {
            Ok(file) => {
                if let Ok(mut sink) = ACCESS_FILE.lock() {
                    *sink = Some(file);
                }
            }
            Err(err) => {
                tracing::error!(path = %path.display(), error = %err, "cannot open the log file")
            }
        }
    }
    if let Some(path) = &settings.error_logfile {
        if let Err(err) = crate::sys::redirect_to_file(2, path) {
            tracing::error!(path = %path.display(), error = %err, "cannot open the log file");
        }
    }
}
