//! The `pyrite` binary: command line → validated `Config` → logging → master.
//! Exit codes (`exit`): 0 after a stop, 1 when the master cannot run, 2 for a bad flag or
//! value, 3 when a worker cannot boot, 4 when the app cannot be imported.

use std::process::ExitCode;

use clap::Parser;
use pyrite::config::{Args, Config};
use pyrite::exit;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => return report_cli_error(err),
    };
    let config = match Config::from_args(args) {
        Ok(config) => config,
        Err(err) => {
            pyrite::logging::stderr_line(format_args!("pyrite: error: {err}"));
            return ExitCode::from(exit::USAGE);
        }
    };
    pyrite::logging::reopen(&config.logging);
    pyrite::logging::init(&config.logging.level);
    match pyrite::master::run(config) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let err = anyhow::Error::from(err);
            tracing::error!(error = format!("{err:#}"), "master failed");
            ExitCode::from(exit::FAILED)
        }
    }
}

/// `--help` and `--version` print as usual; any other parse error becomes one line naming the
/// flag (clap's own message, without its usage block) and exit code 2.
fn report_cli_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    pyrite::logging::stderr_line(format_args!("pyrite: error: {first}"));
    ExitCode::from(exit::USAGE)
}
