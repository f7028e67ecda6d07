//! The imported app and what can go wrong with it: a [`LoadError`] when it cannot be imported,
//! and the formatted traceback every error the app raises is logged with.

use pyo3::prelude::*;

/// The imported app callable.
pub struct App {
    pub(super) callable: Py<PyAny>,
    /// `wsgi.multiprocess`: true when more than one worker serves the same app.
    pub(super) multiprocess: bool,
    /// `--script-name`: the decoded path prefix the app is mounted at ("" for the root).
    pub(super) script_name: Vec<u8>,
    /// The interpreter hooks of `process` (run on a graceful stop).
    pub(super) hooks: Py<PyModule>,
    /// `wsgi.multithread`: true with the pool executor.
    pub(super) multithread: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the Python interpreter could not start: {0}")]
    Interpreter(String),
    #[error("{summary}")]
    Import { traceback: String, summary: String },
    /// A hook of the configuration file raised at start-up (`post_fork`, `post_worker_init`).
    #[error("the {hook} hook raised")]
    Hook {
        hook: &'static str,
        traceback: String,
    },
}

pub use super::traceback::traceback;
