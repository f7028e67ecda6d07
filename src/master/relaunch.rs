//! What USR2 executes to start the new master: the same entry again — the binary itself, or
//! `VENV/bin/python -m pyrite` under the Python package. The entry says which; the master only
//! runs it, with the listening sockets inherited.

use std::ffi::OsString;
use std::path::PathBuf;

/// The command a USR2 upgrade executes.
#[derive(Debug, Clone)]
pub struct Relaunch {
    /// The executable.
    pub program: PathBuf,
    /// The whole argv, `argv[0]` first.
    pub args: Vec<OsString>,
}
