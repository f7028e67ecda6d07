//! From the process's arguments to a [`Config`], with gunicorn's precedence: the command line,
//! then the environment (`PYRITE_*`), then a configuration file (`-c`), then the defaults.
//! clap tells where each value came from; a file's values are put on the command line only
//! for flags that neither the command line nor the environment set. `--print-config` renders
//! the result, each setting with its source, as a `pyrite.toml`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, FromArgMatches};

use super::args::Args;
use super::error::ConfigError;
use super::file::{self, FileSettings};
use super::parse;
use super::settings::Config;

/// What the command line asked for, once validated.
pub struct Loaded {
    pub config: Config,
    /// One line each: settings of a gunicorn file that pyrite ignores.
    pub warnings: Vec<String>,
    /// `--check-config`.
    pub check_config: bool,
    /// `--print-config`: the text to print.
    pub print: Option<String>,
}

#[derive(Debug)]
pub enum LoadError {
    /// A flag clap refused (or `--help`, `--version`).
    Cli(clap::Error),
    Config(ConfigError),
}

impl From<ConfigError> for LoadError {
    fn from(err: ConfigError) -> LoadError {
        LoadError::Config(err)
    }
}

/// Arguments that are not settings: never taken from a file, never printed.
const NOT_SETTINGS: [&str; 5] = ["help", "version", "config", "check_config", "print_config"];

/// Loads `argv` (program name first) with `cmd` (the [`Args`] command, which the entry may
/// give its own `--version`); `settle` adjusts the parsed flags before they are validated
/// (the entry's choice of venv), its error becoming one line.
pub fn load(
    argv: Vec<OsString>,
    cmd: clap::Command,
    settle: &dyn Fn(&mut Args) -> Result<(), String>,
) -> Result<Loaded, LoadError> {
    let first = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(LoadError::Cli)?;
    let mut from_file: Vec<(String, String)> = Vec::new();
    let mut tokens: Vec<OsString> = Vec::new();
    let mut file = None;
    if let Some(path) = first.get_one::<PathBuf>("config") {
        let has_flag = |long: &str| cmd.get_arguments().any(|a| a.get_long() == Some(long));
        let venv = venv(&first)?;
        let pythonpath: Vec<PathBuf> = first
            .get_many::<PathBuf>("pythonpath")
            .map(|p| p.cloned().collect())
            .unwrap_or_default();
        let read = file::read(path, &has_flag, venv.as_deref(), &pythonpath)?;
        let mut seen: Vec<&str> = Vec::new();
        let mut checked: Vec<OsString> = Vec::new();
        for setting in &read.settings {
            let arg = match setting.flag.as_str() {
                "" => cmd.get_arguments().find(|a| a.get_id() == "app"),
                long => cmd.get_arguments().find(|a| a.get_long() == Some(long)),
            };
            let arg =
                arg.ok_or_else(|| file_error(path, &format!("'{}': unknown", setting.key)))?;
            let id = arg.get_id().as_str();
            if NOT_SETTINGS.contains(&id) && id != "check_config" && id != "print_config" {
                return Err(file_error(
                    path,
                    &format!("'{}' cannot be set in a file", setting.key),
                )
                .into());
            }
            if seen.contains(&id) {
                return Err(file_error(path, &format!("'{}' is set twice", setting.key)).into());
            }
            seen.push(id);
            // Every value of the file is checked, also those the command line overrides.
            let mut these = Vec::new();
            push_tokens(arg, &setting.values, &mut these)
                .map_err(|why| file_error(path, &format!("'{}': {why}", setting.key)))?;
            checked.extend(these.iter().cloned());
            let overridden = matches!(
                first.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            );
            if !overridden && !these.is_empty() {
                tokens.extend(these);
                from_file.push((id.to_owned(), setting.key.clone()));
            }
        }
        check_file_values(&cmd, &checked).map_err(|why| file_error(path, &why))?;
        file = Some(read);
    }
    let mut merged = Vec::with_capacity(argv.len() + tokens.len());
    merged.extend(argv.first().cloned());
    merged.extend(tokens);
    merged.extend(argv.into_iter().skip(1));
    let matches = cmd
        .clone()
        .try_get_matches_from(merged)
        .map_err(LoadError::Cli)?;
    let mut args = Args::from_arg_matches(&matches).map_err(LoadError::Cli)?;
    settle(&mut args).map_err(ConfigError::Entry)?;
    let (check_config, print_config) = (args.check_config, args.print_config);
    let mut config = Config::from_args(args).map_err(|err| {
        blame_file(
            err,
            &cmd,
            &from_file,
            file.as_ref().map(|f| f.path.as_path()),
        )
    })?;
    let FileSettings {
        path,
        warnings,
        hooks,
        ..
    } = file.unwrap_or_default();
    if !hooks.is_empty() {
        config.hooks = Some(crate::wsgi::HookFile {
            path: parse::absolute(&path),
            names: hooks,
        });
    }
    let print = print_config.then(|| render(&cmd, &matches, &from_file, &path, &config));
    Ok(Loaded {
        config,
        warnings,
        check_config,
        print,
    })
}

/// A value from the file that fails validation (a certificate that cannot be read...): the
/// error names the file and its key as well as the flag.
fn blame_file(
    err: ConfigError,
    cmd: &clap::Command,
    from_file: &[(String, String)],
    path: Option<&Path>,
) -> ConfigError {
    let Some(path) = path else {
        return err;
    };
    let text = err.to_string();
    for (id, key) in from_file {
        let long = cmd
            .get_arguments()
            .find(|a| a.get_id() == id.as_str())
            .and_then(|a| a.get_long());
        if long.is_some_and(|long| text.contains(&format!("--{long}"))) {
            return file_error(path, &format!("'{key}': {text}"));
        }
    }
    err
}

fn file_error(path: &Path, why: &str) -> ConfigError {
    ConfigError::File(format!("--config '{}': {why}", path.display()))
}

/// The venv a Python configuration file runs in: `--venv` (command line or environment), else
/// `$VIRTUAL_ENV`.
fn venv(matches: &ArgMatches) -> Result<Option<PathBuf>, ConfigError> {
    let dir = matches.get_one::<PathBuf>("venv").cloned().or_else(|| {
        std::env::var_os("VIRTUAL_ENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    dir.as_deref().map(parse::check_venv).transpose()
}

/// A file's values for `arg` as command-line tokens: `--flag` for a switch set to true,
/// `--flag=VALUE` for each value, the bare value for the APP.
fn push_tokens(arg: &Arg, values: &[String], tokens: &mut Vec<OsString>) -> Result<(), String> {
    let takes_values = arg.get_action().takes_values();
    let Some(long) = arg.get_long() else {
        match values {
            [app] => tokens.push(app.into()),
            _ => return Err("expected one APP".into()),
        }
        return Ok(());
    };
    if !takes_values {
        match values {
            [v] if v == "true" => tokens.push(format!("--{long}").into()),
            [v] if v == "false" => {}
            _ => return Err("expected true or false".into()),
        }
        return Ok(());
    }
    if values.len() > 1 && !matches!(arg.get_action(), clap::ArgAction::Append) {
        return Err("expected one value, not a list".into());
    }
    tokens.extend(
        values
            .iter()
            .map(|v| OsString::from(format!("--{long}={v}"))),
    );
    Ok(())
}

/// Parses a file's tokens alone (no environment), so a bad value is reported as the file's.
fn check_file_values(cmd: &clap::Command, tokens: &[OsString]) -> Result<(), String> {
    let bare = cmd.clone().mut_args(|a| a.env(None));
    let argv = std::iter::once(OsString::from("pyrite")).chain(tokens.iter().cloned());
    bare.try_get_matches_from(argv).map(drop).map_err(|err| {
        let rendered = err.render().to_string();
        let line = rendered
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid value");
        line.strip_prefix("error: ").unwrap_or(line).to_owned()
    })
}

/// Every setting as a `pyrite.toml` line, with where its value came from.
fn render(
    cmd: &clap::Command,
    matches: &ArgMatches,
    from_file: &[(String, String)],
    path: &Path,
    config: &Config,
) -> String {
    let mut out = format!(
        "# pyrite {}: the effective settings, each with where it came from\n",
        env!("CARGO_PKG_VERSION")
    );
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if NOT_SETTINGS.contains(&id) {
            continue;
        }
        let name = arg.get_long().unwrap_or("app");
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match from_file.iter().find(|(i, _)| i == id) {
            Some((_, key)) => format!("{} ({key})", path.display()),
            None => match matches.value_source(id) {
                Some(ValueSource::CommandLine) => "command line".into(),
                Some(ValueSource::EnvVariable) => format!(
                    "environment ({})",
                    arg.get_env()
                        .map(|e| e.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                _ => "default".into(),
            },
        };
        let (values, source) = match (name, values.is_empty()) {
            ("workers", true) => (vec![config.workers.to_string()], derived_workers()),
            ("bind", true) => (
                config.binds.iter().map(|b| b.to_string()).collect(),
                derived_bind(),
            ),
            (_, true) => {
                out.push_str(&format!("# {name} = (not set)\n"));
                continue;
            }
            _ => (values, source),
        };
        let rendered = if !arg.get_action().takes_values() {
            (values.first().map(String::as_str) == Some("true")).to_string()
        } else if matches!(arg.get_action(), clap::ArgAction::Append) {
            format!(
                "[{}]",
                values
                    .iter()
                    .map(|v| toml_scalar(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            toml_scalar(&values.join(","))
        };
        out.push_str(&format!("{name} = {rendered}  # {source}\n"));
    }
    out
}

fn derived_workers() -> String {
    match std::env::var("WEB_CONCURRENCY") {
        Ok(v) if !v.trim().is_empty() => "environment (WEB_CONCURRENCY)".into(),
        _ => "default: the number of CPUs".into(),
    }
}

fn derived_bind() -> String {
    match std::env::var("PORT") {
        Ok(v) if !v.is_empty() => "environment (PORT)".into(),
        _ => "default".into(),
    }
}

/// A number stays a number (TOML reads it back as one); anything else is a quoted string.
fn toml_scalar(value: &str) -> String {
    let numeric = !value.is_empty()
        && (value == "0" || !value.starts_with('0'))
        && value.parse::<f64>().is_ok_and(f64::is_finite)
        && value.chars().all(|c| c.is_ascii_digit() || c == '.');
    if numeric {
        value.to_owned()
    } else {
        toml::Value::String(value.to_owned()).to_string()
    }
}
