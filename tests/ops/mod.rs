//! Operations a gunicorn user relies on: log levels and the error log (plain or JSON), where
//! the app's own output goes, the command-line forms gunicorn has, configuration files
//! (`pyrite.toml`, `gunicorn.conf.py`), hooks, metrics and readiness notifications.

mod cli_forms;
mod config;
mod hooks;
mod logging;
mod metrics;
mod notify;
