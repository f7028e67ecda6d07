//! `--reload`: a child of the master watches the app's Python files (under `--chdir` and
//! `--pythonpath`) and every `--reload-extra-file` with `notify`, and sends the master SIGHUP
//! after a burst of changes settles.
//! It runs in its own process so the master itself never starts a thread.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::sys;

/// Changes closer together than this are one reload.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Forks the watcher of `pythonpath` and `chdir` (the current directory when `None`), and of
/// the `extra` files (any kind); returns its pid.
pub fn spawn(
    pythonpath: &[PathBuf],
    chdir: Option<&Path>,
    extra: &[PathBuf],
) -> std::io::Result<Option<sys::Pid>> {
    let mut dirs: Vec<PathBuf> = pythonpath.to_vec();
    dirs.push(match chdir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()?,
    });
    match sys::fork()? {
        sys::Fork::Parent(pid) => {
            tracing::info!(pid, dirs = ?dirs, "watching Python files for changes");
            Ok(Some(pid))
        }
        sys::Fork::Child => {
            let _ = sys::prepare_worker_signals();
            sys::set_process_title("pyrite: reloader");
            let code = match watch(&dirs, extra) {
                Ok(()) => 0,
                Err(err) => {
                    tracing::error!(error = %err, "the file watcher failed");
                    1
                }
            };
            sys::exit_now(code)
        }
    }
}

fn watch(dirs: &[PathBuf], extra: &[PathBuf]) -> notify::Result<()> {
    let master = sys::getppid();
    let (tx, rx) = mpsc::channel();
    let wanted: Vec<PathBuf> = extra.to_vec();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            // Events were lost (the kernel's queue overflowed under many changes at once):
            // what changed is unknown, so it counts.
            let relevant = event.need_rescan()
                || event
                    .paths
                    .iter()
                    .any(|p| is_python(p) || wanted.iter().any(|w| w == p));
            if relevant && !event.kind.is_access() {
                let _ = tx.send(());
            }
        }
    })?;
    // An extra file's directory is watched, not the file: editors replace a file by renaming
    // a new one over it, which a watch on the old file would miss. These come first: a
    // recursive watch of a large tree (a project with its virtualenv or build output) takes
    // seconds to set up, and an extra file changed meanwhile would go unseen.
    for file in extra {
        if let Some(dir) = file.parent().filter(|d| d.is_dir()) {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    for dir in dirs {
        watcher.watch(dir, RecursiveMode::Recursive)?;
    }
    while rx.recv().is_ok() {
        while rx.recv_timeout(DEBOUNCE).is_ok() {}
        if sys::getppid() != master {
            break;
        }
        tracing::info!("a Python file changed; reloading");
        sys::kill(master, sys::SIGHUP);
    }
    Ok(())
}

fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "py")
}
