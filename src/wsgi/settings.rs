//! What the WSGI bridge is told by the command line: which app to import (`module:callable`)
//! and where from. `config` builds these; the bridge never reads the command line itself.

use std::path::PathBuf;

/// `module:callable`, split and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub module: String,
    /// Attribute path inside the module (`application`, `app.wsgi_app`).
    pub attr: String,
    /// `module:factory()`: call the attribute to obtain the app.
    pub factory: bool,
}

impl std::fmt::Display for AppSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = if self.factory { "()" } else { "" };
        write!(f, "{}:{}{}", self.module, self.attr, call)
    }
}

/// Where the app is imported from and mounted.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--pythonpath`: directories put first on `sys.path`.
    pub pythonpath: Vec<PathBuf>,
    /// `--venv` (or `$VIRTUAL_ENV`), checked to match the linked Python.
    pub venv: Option<PathBuf>,
    /// `--script-name` without its trailing `/` ("" when the app is at the root).
    pub script_name: String,
}

/// A Python configuration file (`-c gunicorn.conf.py`) that defines hooks, and their names.
/// The file is executed again where its hooks run (each worker, the hook process), never in
/// the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFile {
    pub path: PathBuf,
    /// The hooks it defines (`post_fork`, `pre_request`, …).
    pub names: Vec<String>,
}

impl HookFile {
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}
