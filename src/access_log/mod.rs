//! The access log, as a gunicorn user knows it: off unless `--access-logfile FILE` (or `-`,
//! stdout) asks for it; one line per request in `--access-logformat` (gunicorn's atoms,
//! Apache's combined format by default), or one JSON object per line with
//! `--access-log-json`. The format is compiled once (`format`); a line is rendered (`render`)
//! into a buffer that a worker writes at least once a second and whenever 32 KiB gather, so a
//! busy worker spends one `write` on many requests. The file is opened by the master (workers
//! inherit it) and reopened on SIGUSR1, for log rotation. App output never lands in it: it has
//! a descriptor of its own, not stdout.

mod format;
mod render;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

pub use format::{Atom, Format, DEFAULT};
pub use render::{Entry, Request};

/// Where the access log goes and how its lines look (`config` builds it).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--access-logfile`: `None` means no access log.
    pub target: Option<Target>,
    /// `--access-logformat`, compiled.
    pub format: Format,
    /// `--access-log-json`.
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    File(PathBuf),
}

struct Log {
    format: Format,
    json: bool,
    target: Target,
    state: Mutex<State>,
}

struct State {
    buf: Vec<u8>,
    /// `None`: stdout.
    file: Option<File>,
    /// `t` for the second it was made in.
    time: (i64, String),
}

static LOG: OnceLock<Log> = OnceLock::new();
static BUFFERED: AtomicBool = AtomicBool::new(false);
/// Past this many buffered bytes, lines are written at once.
const FLUSH_AT: usize = 32 * 1024;

/// Turns the access log on (when `settings` has a target), opening its file: called once, by
/// the master before it forks, so that workers inherit the descriptor.
pub fn init(settings: &Settings) -> std::io::Result<()> {
    let Some(target) = settings.target.clone() else {
        return Ok(());
    };
    let file = open(&target)?;
    let _ = LOG.set(Log {
        format: settings.format.clone(),
        json: settings.json,
        target,
        state: Mutex::new(State {
            buf: Vec::new(),
            file,
            time: (i64::MIN, String::new()),
        }),
    });
    Ok(())
}

fn open(target: &Target) -> std::io::Result<Option<File>> {
    match target {
        Target::Stdout => Ok(None),
        Target::File(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Some),
    }
}

/// The compiled format, when the access log is on (what a line will need).
#[inline]
pub fn format() -> Option<&'static Format> {
    LOG.get().map(|log| &log.format)
}

/// Buffers lines from now on; the caller must then call [`flush`] regularly and before exiting.
pub fn buffer() {
    BUFFERED.store(true, Ordering::Relaxed);
}

/// Adds one line.
pub fn write(entry: Entry<'_>) {
    let Some(log) = LOG.get() else { return };
    let Ok(mut state) = log.state.lock() else {
        return;
    };
    let state = &mut *state;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if state.time.0 != now {
        state.time = (now, apache_time(now));
    }
    let time = &state.time.1;
    if log.json {
        render::json(&log.format, &entry, time, &mut state.buf);
    } else {
        render::text(&log.format, &entry, time, &mut state.buf);
    }
    if !BUFFERED.load(Ordering::Relaxed) || state.buf.len() >= FLUSH_AT {
        write_out(state);
    }
}

/// Writes the buffered lines.
pub fn flush() {
    if let Some(Ok(mut state)) = LOG.get().map(|log| log.state.lock()) {
        write_out(&mut state);
    }
}

fn write_out(state: &mut State) {
    if state.buf.is_empty() {
        return;
    }
    // A log that cannot be written (a full disk, a closed pipe) costs its lines, never the
    // server.
    let _ = match &mut state.file {
        Some(file) => file.write_all(&state.buf),
        None => std::io::stdout().lock().write_all(&state.buf),
    };
    state.buf.clear();
}

/// Reopens the file (SIGUSR1, after a rotation): what is buffered goes to the old one first.
pub fn reopen() {
    let Some(log) = LOG.get() else { return };
    let Ok(mut state) = log.state.lock() else {
        return;
    };
    write_out(&mut state);
    match open(&log.target) {
        Ok(file) => state.file = file,
        Err(err) => {
            tracing::error!(error = %err, "cannot reopen the access log");
        }
    }
}

/// `[10/Oct/2000:13:55:36 -0700]` in local time (Apache's and gunicorn's `t`).
fn apache_time(secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(t) = crate::sys::local_time(secs) else {
        return "[-]".to_owned();
    };
    let month = MONTHS[(t.month as usize).clamp(1, 12) - 1];
    let sign = if t.utc_offset < 0 { '-' } else { '+' };
    let offset = t.utc_offset.unsigned_abs() / 60;
    format!(
        "[{:02}/{month}/{}:{:02}:{:02}:{:02} {sign}{:02}{:02}]",
        t.day,
        t.year,
        t.hour,
        t.minute,
        t.second,
        offset / 60,
        offset % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn apache_time_shape() {
        let t = super::apache_time(1_000_000_000);
        assert_eq!(t.len(), "[09/Sep/2001:01:46:40 +0000]".len(), "{t}");
        assert!(t.starts_with('[') && t.ends_with(']'));
    }
}
