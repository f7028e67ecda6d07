//! Where things are and fresh places to put them: the executable under test (overridable
//! with `PYRITE_TEST_BIN`, e.g. to run a suite against a pip-installed `pyrite`), the
//! repository, the apps under `tests/apps`, per-test temporary directories, apps copied out of
//! a template (for tests that edit an app while it runs), and a log of an app's calls.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The executable under test: `$PYRITE_TEST_BIN` if set, else the one cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("PYRITE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_pyrite")))
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/apps`, the folder of one-behaviour WSGI apps; pass it as `--pythonpath`.
pub fn apps_dir() -> String {
    app_path("").to_string_lossy().into_owned()
}

/// A file or folder under `tests/apps`.
pub fn app_path(relative: &str) -> PathBuf {
    manifest_dir().join("tests").join("apps").join(relative)
}

/// A fresh, empty directory under cargo's per-target temp dir, unique per call and process.
pub fn tmpdir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test tmpdir");
    dir
}

/// (Re)writes `DIR/MODULE.py` from `tests/apps/TEMPLATE` with its `VERSION = ...` line set to
/// `version` (if given), atomically, and drops cached bytecode so the next import compiles the
/// new source whatever the file's mtime granularity.
pub fn write_module(dir: &Path, module: &str, template: &str, version: Option<&str>) {
    let source = std::fs::read_to_string(app_path(template))
        .unwrap_or_else(|e| panic!("read tests/apps/{template}: {e}"));
    let source = match version {
        Some(version) => source
            .lines()
            .map(|line| match line.starts_with("VERSION = ") {
                true => format!("VERSION = \"{version}\"\n"),
                false => format!("{line}\n"),
            })
            .collect(),
        None => source,
    };
    let _ = std::fs::remove_dir_all(dir.join("__pycache__"));
    let tmp = dir.join(format!(".{module}.py.tmp"));
    std::fs::write(&tmp, source).expect("write app source");
    std::fs::rename(&tmp, dir.join(format!("{module}.py"))).expect("move app source in place");
}

/// A fresh directory holding `MODULE.py`, written as by [`write_module`].
pub fn app_dir(module: &str, template: &str, version: Option<&str>) -> PathBuf {
    let dir = tmpdir(module);
    write_module(&dir, module, template, version);
    dir
}

/// A file an app appends one line to per call (`tests/apps/http_echo.py` does, to the file
/// named by `TEST_CALLS_FILE`), so a test can prove the app was, or was never, called.
pub struct CallLog(PathBuf);

impl CallLog {
    pub const ENV: &'static str = "TEST_CALLS_FILE";

    pub fn new() -> CallLog {
        CallLog(tmpdir("calls").join("calls.log"))
    }

    pub fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// Every call so far, one `METHOD PATH` line each.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.text().lines().count()
    }
}
