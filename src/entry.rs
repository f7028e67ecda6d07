//! The one way in, shared by both front doors: the standalone binary (`main.rs`, which links
//! libpython) and the Python package's `pyrite` console script (`crates/pyrite-py`, running in
//! the venv's own interpreter). Both hand their command line to [`run`]: flags, environment and
//! configuration file → validated `Config` → logging → master, or `--print-config` /
//! `--check-config` and exit. What differs is the [`Host`]: who starts Python, what
//! `--version` names, where the venv comes from, and how USR2 starts the same entry again.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::config::{self, Args, LoadError, Loaded};
use crate::master::{self, Relaunch};
use crate::{exit, logging, wsgi};

/// pyrite's version, as `--version` and the Python package's `__version__` give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The process pyrite runs in.
pub enum Host {
    /// The `pyrite` binary: CPython is linked in and started by pyrite itself, in each worker
    /// (or in the master under `--preload`); the venv is `--venv` or else `$VIRTUAL_ENV`.
    Binary,
    /// A Python process that imported `pyrite._pyrite`: its interpreter is already running,
    /// and its venv (if any) is the one the app's packages come from.
    Python(PythonHost),
}

/// The interpreter that runs the Python entry.
pub struct PythonHost {
    /// `3.12.1`, the first word of `sys.version`.
    pub version: String,
    /// `sys.executable`: the venv's `bin/python` when run from a venv.
    pub executable: PathBuf,
    /// `sys.prefix`: the venv itself when run from a venv.
    pub prefix: PathBuf,
}

impl Host {
    /// `pyrite 0.2.0 (CPython 3.12.1, /srv/app/.venv)`: pyrite's version and the Python it runs
    /// (the binary: the libpython it links, with that installation's prefix).
    pub fn version_line(&self) -> String {
        format!("pyrite {}", self.version())
    }

    fn version(&self) -> String {
        let (python, prefix) = match self {
            Host::Binary => (
                wsgi::libpython_version(),
                PathBuf::from(env!("PYRITE_PYTHON_PREFIX")),
            ),
            Host::Python(host) => (host.version.clone(), host.prefix.clone()),
        };
        format!("{} (CPython {python}, {})", VERSION, prefix.display())
    }

    /// The binary execs itself again; the Python entry runs `sys.executable -m pyrite ARGS…`,
    /// so the new master has the same interpreter, venv and (possibly upgraded) package.
    fn relaunch(&self, argv: &[OsString]) -> Relaunch {
        match self {
            Host::Binary => Relaunch {
                program: std::env::current_exe()
                    .unwrap_or_else(|_| argv.first().cloned().unwrap_or_default().into()),
                args: argv.to_vec(),
            },
            Host::Python(host) => {
                let mut args: Vec<OsString> =
                    vec![host.executable.clone().into(), "-m".into(), "pyrite".into()];
                args.extend(argv.iter().skip(1).cloned());
                Relaunch {
                    program: host.executable.clone(),
                    args,
                }
            }
        }
    }

    /// The binary adopts `--venv` or `$VIRTUAL_ENV`. Under the Python entry the venv is the
    /// running interpreter's: `$VIRTUAL_ENV` is ignored and `--venv` may only name it.
    fn settle_venv(&self, args: &mut Args) -> Result<(), String> {
        match self {
            Host::Binary => {
                if args.venv.is_none() {
                    args.venv = std::env::var_os("VIRTUAL_ENV")
                        .filter(|v| !v.is_empty())
                        .map(PathBuf::from);
                }
                Ok(())
            }
            Host::Python(host) => {
                let Some(dir) = args.venv.take() else {
                    return Ok(());
                };
                let same = match (dir.canonicalize(), host.prefix.canonicalize()) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => false,
                };
                if same {
                    return Ok(());
                }
                Err(format!(
                    "--venv '{}': this pyrite runs in the Python at {} and serves from its \
                     environment; to use that venv, run its own bin/pyrite",
                    dir.display(),
                    host.prefix.display()
                ))
            }
        }
    }
}

/// Runs pyrite with `argv` (program name first) in `host`; returns the process exit code
/// (`exit`): 0 after a stop, 1 when the master cannot run, 2 for a bad flag or value, 3 when no
/// worker can boot, 4 when the app cannot be imported.
pub fn run(argv: Vec<OsString>, host: Host) -> u8 {
    let relaunch = host.relaunch(&argv);
    let cmd = Args::command().version(host.version());
    let loaded = match config::load(argv, cmd, &|args| host.settle_venv(args)) {
        Ok(loaded) => loaded,
        Err(LoadError::Cli(err)) => return report_cli_error(err),
        Err(LoadError::Config(err)) => {
            logging::stderr_line(format_args!("pyrite: error: {err}"));
            return exit::USAGE;
        }
    };
    let Loaded {
        config,
        warnings,
        check_config,
        print,
    } = loaded;
    let warn_early = || {
        for warning in &warnings {
            logging::stderr_line(format_args!("pyrite: warning: {warning}"));
        }
    };
    if let Some(text) = print {
        warn_early();
        print!("{text}");
        return 0;
    }
    // gunicorn's `-e`: for the master, and so for every worker it forks.
    for (key, value) in &config.env {
        std::env::set_var(key, value);
    }
    if check_config {
        warn_early();
        return u8::try_from(crate::worker::check(&config)).unwrap_or(exit::FAILED);
    }
    logging::reopen(&config.logging);
    // Once per process: tracing's global subscriber is set once, and the Python package's
    // `pyrite.main()` may be called more than once in one interpreter.
    static LOGGING: std::sync::Once = std::sync::Once::new();
    LOGGING.call_once(|| logging::init(&config.logging));
    if let Err(err) = crate::access_log::init(&config.access_log) {
        logging::stderr_line(format_args!("pyrite: error: --access-logfile: {err}"));
        return exit::FAILED;
    }
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    if std::env::var_os("GUNICORN_CMD_ARGS").is_some() {
        tracing::warn!("GUNICORN_CMD_ARGS is set and ignored: use PYRITE_* variables or -c FILE");
    }
    match master::run(config, relaunch) {
        Ok(code) => code,
        Err(err) => {
            // Each message already names its cause (`cannot bind ADDR: why`).
            tracing::error!(error = %err, "master failed");
            exit::FAILED
        }
    }
}

/// `--help` and `--version` print as usual; any other parse error becomes one line naming the
/// flag (clap's own message, without its usage block) and exit code 2.
fn report_cli_error(err: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return 0;
    }
    let rendered = err.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    crate::logging::stderr_line(format_args!("pyrite: error: {first}"));
    exit::USAGE
}
