//! The process exit codes, in one place: what the binary returns, and what a worker returns to
//! the master (which reads a worker's code to tell a crash from an app that cannot load).

/// A graceful or fast stop.
pub const STOPPED: u8 = 0;
/// The master cannot run (a port already in use, a pid file it cannot write).
pub const FAILED: u8 = 1;
/// A bad flag or value.
pub const USAGE: u8 = 2;
/// A worker could not start its interpreter, or no worker could boot at all.
pub const BOOT_ERROR: u8 = 3;
/// The app could not be imported (gunicorn uses the same code).
pub const APP_LOAD_ERROR: u8 = 4;

/// [`BOOT_ERROR`] as a worker's exit status, which the master reads back with waitpid.
pub const WORKER_BOOT_ERROR: i32 = BOOT_ERROR as i32;
/// [`APP_LOAD_ERROR`] as a worker's exit status.
pub const WORKER_APP_LOAD_ERROR: i32 = APP_LOAD_ERROR as i32;
