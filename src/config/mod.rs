//! The configuration, validated once in the master before anything is bound or forked: the
//! raw flags (`args`, clap with a `PYRITE_*` twin per flag), merged by `load` with a
//! configuration file (`file`: a `pyrite.toml`, or a `gunicorn.conf.py` read with gunicorn's
//! meaning by `gunicorn`), go through one builder per concern (`build`, with `parse` for
//! single values) into [`Config`], which holds each lower module's own settings type. Nothing
//! below the master and the worker reads `Config`.

mod args;
mod build;
mod error;
mod file;
mod gunicorn;
mod gunicorn_values;
mod load;
mod parse;
mod protocols;
mod settings;

pub use args::Args;
pub use error::ConfigError;
pub use load::{load, LoadError, Loaded};
pub use parse::PYTHON_VERSION;
pub use settings::Config;
