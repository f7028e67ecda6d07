//! The standalone `pyrite` binary, which links libpython; everything it does is
//! [`pyrite::entry::run`], shared with the Python package's `pyrite` command.

use std::process::ExitCode;

use pyrite::entry::{self, Host};

fn main() -> ExitCode {
    ExitCode::from(entry::run(std::env::args_os().collect(), Host::Binary))
}
