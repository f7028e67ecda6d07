//! A worker whose master is gone. The master's death sends the worker SIGTERM (PDEATHSIG), which
//! its event loop answers with a stop like any other, but only once the loop gets to run: an app
//! call stuck in C, or looping with no `--timeout`, holds it. And a stop that runs past
//! `--graceful-timeout` ends with the master's SIGKILL, which no one is left to send. Such a
//! worker would live on with the listening socket, and a restarted server could not bind its
//! address. A thread of the worker waits for the master's death (no wake-up until then) and, if
//! the worker is still there when a stop would have been over (`--drain-timeout` plus
//! `--graceful-timeout`), ends it as the master would have: SIGKILL.

use std::time::Duration;

use crate::sys::{self, Pid};

/// Watches `master`, this worker's parent, from a thread of its own; `limit` is how long the
/// worker may outlive it.
pub fn watch(master: Pid, limit: Duration) {
    let spawned = std::thread::Builder::new()
        .name("pyrite-orphan".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            sys::wait_parent_gone(master);
            std::thread::sleep(limit);
            let pid = sys::getpid();
            tracing::error!(
                pid,
                master,
                "the master is gone and this worker did not stop within --drain-timeout plus --graceful-timeout; killing it"
            );
            sys::kill(pid, libc::SIGKILL);
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot watch for the master's death; a stuck worker would outlive it");
    }
}
