//! The `pyrite` binary: command line (+ environment + configuration file) → validated
//! `Config` → logging → master; or `--print-config` / `--check-config` and exit.
//! Exit codes (`exit`): 0 after a stop, 1 when the master cannot run, 2 for a bad flag or
//! value, 3 when a worker cannot boot, 4 when the app cannot be imported.

use std::process::ExitCode;

use pyrite::config::{LoadError, Loaded};
use pyrite::exit;

fn main() -> ExitCode {
    let loaded = match pyrite::config::load(std::env::args_os().collect()) {
        Ok(loaded) => loaded,
        Err(LoadError::Cli(err)) => return report_cli_error(err),
        Err(LoadError::Config(err)) => {
            eprintln!("pyrite: error: {err}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let Loaded {
        config,
        warnings,
        check_config,
        print,
    } = loaded;
    if let Some(text) = print {
        for warning in &warnings {
            eprintln!("pyrite: warning: {warning}");
        }
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    // gunicorn's `-e`: for the master, and so for every worker it forks.
    for (key, value) in &config.env {
        std::env::set_var(key, value);
    }
    if check_config {
        for warning in &warnings {
            eprintln!("pyrite: warning: {warning}");
        }
        return ExitCode::from(pyrite::worker::check(&config) as u8);
    }
    pyrite::logging::reopen(&config.logging);
    pyrite::logging::init(&config.logging);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    if std::env::var_os("GUNICORN_CMD_ARGS").is_some() {
        tracing::warn!("GUNICORN_CMD_ARGS is set and ignored: use PYRITE_* variables or -c FILE");
    }
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
    eprintln!("pyrite: error: {first}");
    ExitCode::from(exit::USAGE)
}
