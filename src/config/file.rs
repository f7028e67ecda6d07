//! Configuration files (`-c FILE`): a `pyrite.toml`, whose keys are long flag names with
//! pyrite's meaning, or a gunicorn `gunicorn.conf.py`, whose settings keep gunicorn's meaning
//! (`gunicorn`), besides `pyrite_<flag>` names for what gunicorn lacks. The Python file is
//! executed by a short-lived child process (`wsgi::evaluate_config`), never by the master.
//! The result is a list of flag values, which `load` gives a lower precedence than the
//! command line and the environment.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::ConfigError;
use super::gunicorn::{self, Meaning};

/// One setting a file gives: the long flag name (`""` for the APP) and its values; a switch
/// has `["true"]` (set) or no value (left unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetting {
    pub flag: String,
    pub values: Vec<String>,
    /// The name in the file (`preload_app`, `workers`), for messages and `--print-config`.
    pub key: String,
}

/// What a file says.
#[derive(Debug, Default)]
pub struct FileSettings {
    pub path: PathBuf,
    pub settings: Vec<FileSetting>,
    /// gunicorn settings pyrite ignores: one line each, naming the setting.
    pub warnings: Vec<String>,
    /// Hooks the file defines (Python files only).
    pub hooks: Vec<String>,
}

/// Reads `path` (by its extension). `has_flag` says whether this build has a flag (a gunicorn
/// setting whose flag is missing falls back to its table entry); `venv` is the interpreter
/// the Python file runs in, with `pythonpath` first on `sys.path`.
pub fn read(
    path: &Path,
    has_flag: &dyn Fn(&str) -> bool,
    venv: Option<&Path>,
    pythonpath: &[PathBuf],
) -> Result<FileSettings, ConfigError> {
    let fail = |why: String| ConfigError::File(format!("--config '{}': {why}", path.display()));
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut out = match ext {
        "toml" => {
            let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
            toml_settings(&text, has_flag).map_err(fail)?
        }
        "py" => {
            if !path.is_file() {
                return Err(fail("no such file".into()));
            }
            let absolute = super::parse::absolute(path);
            let json =
                crate::wsgi::evaluate_config(&absolute, venv, pythonpath, &known_python_names())
                    .map_err(fail)?;
            python_settings(&json, has_flag).map_err(fail)?
        }
        _ => return Err(fail("expected a .toml or a .py file".into())),
    };
    out.path = path.to_path_buf();
    Ok(out)
}

/// The gunicorn names a Python file is read for (besides `pyrite_*`).
fn known_python_names() -> Vec<&'static str> {
    gunicorn::SETTINGS.iter().map(|s| s.0).collect()
}

/// A `pyrite.toml`: every key must be a flag (`_` may stand for `-`).
fn toml_settings(text: &str, has_flag: &dyn Fn(&str) -> bool) -> Result<FileSettings, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_owned();
        match e.span() {
            Some(span) => format!("line {}: {msg}", text[..span.start].lines().count().max(1)),
            None => msg,
        }
    })?;
    let mut out = FileSettings::default();
    for (key, value) in table {
        let flag = if key == "app" {
            String::new()
        } else {
            key.replace('_', "-")
        };
        if !flag.is_empty()
            && (!has_flag(&flag) || matches!(flag.as_str(), "config" | "help" | "version"))
        {
            return Err(format!(
                "'{key}' is not a pyrite setting (see pyrite --help)"
            ));
        }
        let json = toml_to_json(&value).ok_or_else(|| format!("'{key}': unsupported value"))?;
        let values = pyrite_values(&json).map_err(|why| format!("'{key}': {why}"))?;
        out.settings.push(FileSetting { flag, values, key });
    }
    Ok(out)
}

fn toml_to_json(value: &toml::Value) -> Option<Value> {
    Some(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(n) => Value::from(*n),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(toml_to_json).collect::<Option<_>>()?)
        }
        toml::Value::Datetime(_) | toml::Value::Table(_) => return None,
    })
}

/// A value with pyrite's meaning: true/false for switches, scalars, or a list of scalars.
fn pyrite_values(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Bool(true) => Ok(vec!["true".into()]),
        Value::Bool(false) => Ok(vec!["false".into()]),
        Value::Array(_) => gunicorn::convert(value, gunicorn::Convert::Each),
        other => gunicorn::convert(other, gunicorn::Convert::Plain),
    }
}

/// The evaluated `gunicorn.conf.py`: `{"settings": {name: value}, "hooks": [name]}`.
fn python_settings(json: &str, has_flag: &dyn Fn(&str) -> bool) -> Result<FileSettings, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("unreadable settings: {e}"))?;
    let mut out = FileSettings::default();
    if let Some(hooks) = doc.get("hooks").and_then(Value::as_array) {
        for name in hooks.iter().filter_map(Value::as_str) {
            match gunicorn::unsupported_hook(name) {
                Some(Ok(why)) => out.warnings.push(format!("hook '{name}' ignored: {why}")),
                Some(Err(why)) => return Err(format!("hook '{name}' cannot be honoured: {why}")),
                None => out.hooks.push(name.to_owned()),
            }
        }
    }
    let empty = serde_json::Map::new();
    let settings = doc
        .get("settings")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, value) in settings {
        if let Some(flag) = name.strip_prefix("pyrite_") {
            let flag = if flag == "app" {
                String::new()
            } else {
                flag.replace('_', "-")
            };
            if !flag.is_empty() && !has_flag(&flag) {
                return Err(format!(
                    "'{name}' is not a pyrite setting (see pyrite --help)"
                ));
            }
            let values = pyrite_values(value).map_err(|why| format!("'{name}': {why}"))?;
            out.settings.push(FileSetting {
                flag,
                values,
                key: name.clone(),
            });
            continue;
        }
        let Some((meaning, default)) = gunicorn::lookup(name) else {
            continue;
        };
        let quiet = gunicorn::is_default(value, default);
        let (flag, how) = match meaning {
            Meaning::Flag(flag, how) => (flag, how),
            Meaning::Needs(flag, how, why) => {
                if !has_flag(flag) {
                    if quiet {
                        continue;
                    }
                    return Err(format!("'{name}' cannot be honoured: {why}"));
                }
                (flag, how)
            }
            Meaning::Ignored(why) => {
                if !quiet {
                    out.warnings
                        .push(format!("'{name}' is not supported and is ignored: {why}"));
                }
                continue;
            }
            Meaning::Refused(why) => {
                if quiet {
                    continue;
                }
                return Err(format!("'{name}' cannot be honoured: {why}"));
            }
            Meaning::Special => {
                if !gunicorn::worker_class_ok(value) {
                    return Err(format!(
                        "'{name}' = {value}: pyrite runs WSGI apps in its own sync or threaded workers (use --threads); an async worker's app cannot run here"
                    ));
                }
                continue;
            }
            Meaning::Hook | Meaning::Silent => continue,
        };
        if !flag.is_empty() && !has_flag(flag) {
            if !quiet {
                out.warnings.push(format!(
                    "'{name}' is not supported by this build and is ignored"
                ));
            }
            continue;
        }
        let values = gunicorn::convert(value, how).map_err(|why| format!("'{name}': {why}"))?;
        if values.is_empty() {
            continue;
        }
        out.settings.push(FileSetting {
            flag: flag.to_owned(),
            values,
            key: name.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn toml_keys_are_flags() {
        let f = toml_settings(
            "workers = 3\nbind = ['127.0.0.1:1', 'unix:/s']\npreload = true\nmax_rss = 200\napp = 'm:a'",
            &any,
        )
        .unwrap();
        let get = |flag: &str| {
            f.settings
                .iter()
                .find(|s| s.flag == flag)
                .unwrap()
                .values
                .clone()
        };
        assert_eq!(get("workers"), ["3"]);
        assert_eq!(get("bind"), ["127.0.0.1:1", "unix:/s"]);
        assert_eq!(get("preload"), ["true"]);
        assert_eq!(get("max-rss"), ["200"]);
        assert_eq!(get(""), ["m:a"]);
        assert!(toml_settings("nope = 1", &|f| f != "nope").is_err());
        assert!(toml_settings("workers = [", &any)
            .unwrap_err()
            .starts_with("line 1"));
    }

    #[test]
    fn gunicorn_names_keep_their_meaning() {
        let json = r#"{"settings": {"workers": 3, "preload_app": true, "keepalive": 7,
            "umask": 18, "raw_env": ["A=1"], "sendfile": false, "daemon": false,
            "spew": false, "os": "ignored", "pyrite_docroot": "html"},
            "hooks": ["post_fork", "worker_int"]}"#;
        let f = python_settings(json, &any).unwrap();
        let get = |flag: &str| {
            f.settings
                .iter()
                .find(|s| s.flag == flag)
                .map(|s| s.values.clone())
        };
        assert_eq!(get("workers").unwrap(), ["3"]);
        assert_eq!(get("preload").unwrap(), ["true"]);
        assert_eq!(get("keep-alive").unwrap(), ["7"]);
        assert_eq!(get("umask").unwrap(), ["22"]);
        assert_eq!(get("env").unwrap(), ["A=1"]);
        assert_eq!(get("docroot").unwrap(), ["html"]);
        assert_eq!(f.hooks, ["post_fork"]);
        assert_eq!(f.warnings.len(), 2, "{:?}", f.warnings);
        assert!(f.warnings.iter().any(|w| w.contains("'sendfile'")));
        assert!(python_settings(r#"{"settings": {"daemon": true}}"#, &any).is_err());
        assert!(python_settings(r#"{"settings": {"worker_class": "gevent"}}"#, &any).is_err());
        assert!(
            python_settings(r#"{"settings": {"certfile": "c.pem"}}"#, &|f| f
                != "certfile")
            .is_err()
        );
    }
}
