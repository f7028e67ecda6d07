//! The master's hooks (`on_starting`, `when_ready`, `pre_fork`, `child_exit`, `on_reload`,
//! `nworkers_changed`, `pre_exec`, `on_exit`) without Python in the master: a helper process,
//! forked before anything else starts, runs CPython with the configuration file (never the
//! app) and calls each hook when the master tells it to, one JSON line per event, in order.
//! The hooks get a `server` (pid, cfg, log, address, num_workers) and, where gunicorn passes
//! one, a `worker` (pid, age). `on_starting` and `when_ready` are waited for (a hook that
//! raises stops the start, as in gunicorn), `on_exit` for a few seconds; the others are
//! announced and not waited for, so a slow hook never holds the master. What differs from
//! gunicorn: the hooks run in another process, so they cannot change the master's own state
//! (`server.cfg`, the master's environment).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use pyo3::prelude::*;

use super::hooks::{self, HookContext};
use super::settings::HookFile;
use super::{ffi, pylog};
use crate::sys::{self, Pid};

/// The hooks the master's side calls.
pub const MASTER_HOOKS: [&str; 8] = [
    "on_starting",
    "when_ready",
    "pre_fork",
    "child_exit",
    "on_reload",
    "nworkers_changed",
    "pre_exec",
    "on_exit",
];

pub struct HookProcess {
    pid: Pid,
    stream: UnixStream,
    names: Vec<String>,
}

impl HookProcess {
    /// Forks the helper, if `file` defines any master hook. Only call while the process has a
    /// single thread and no interpreter.
    pub fn spawn(
        file: &HookFile,
        executable: &Path,
        pythonpath: &[std::path::PathBuf],
        chdir: Option<&Path>,
        ctx: &HookContext,
    ) -> std::io::Result<Option<HookProcess>> {
        let names: Vec<String> = MASTER_HOOKS
            .iter()
            .filter(|h| file.has(h))
            .map(|h| h.to_string())
            .collect();
        if names.is_empty() {
            return Ok(None);
        }
        let (parent, child) = UnixStream::pair()?;
        match ffi::fork()? {
            sys::Fork::Parent(pid) => {
                drop(child);
                Ok(Some(HookProcess {
                    pid,
                    stream: parent,
                    names,
                }))
            }
            sys::Fork::Child => {
                drop(parent);
                let _ = sys::prepare_helper_signals();
                sys::set_process_title(&format!("pyrite: hooks [{}]", ctx.proc_name));
                let code = match serve(child, file, executable, pythonpath, chdir, ctx) {
                    Ok(()) => 0,
                    Err(why) => {
                        tracing::error!("the hook process failed: {why}");
                        1
                    }
                };
                sys::exit_now(code)
            }
        }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn defines(&self, hook: &str) -> bool {
        self.names.iter().any(|n| n == hook)
    }

    /// Tells the helper to call `hook`; with `wait`, waits (that long at most) for it to
    /// return: `Err` is what it raised (already logged by the helper). `event` carries
    /// `num_workers`, a `worker` (`{"pid": …, "age": …}`), `new` and `old`.
    pub fn call(
        &mut self,
        hook: &str,
        mut event: serde_json::Value,
        wait: Option<Duration>,
    ) -> Result<(), String> {
        if !self.defines(hook) {
            return Ok(());
        }
        event["hook"] = hook.into();
        event["sync"] = wait.is_some().into();
        let line = format!("{event}\n");
        let _ = self.stream.set_nonblocking(wait.is_none());
        if let Err(err) = self.stream.write_all(line.as_bytes()) {
            let why = if err.kind() == ErrorKind::WouldBlock {
                "the hook process is busy".to_owned()
            } else {
                err.to_string()
            };
            tracing::warn!(hook, "cannot call the hook: {why}");
            return Ok(());
        }
        let Some(wait) = wait else { return Ok(()) };
        let _ = self
            .stream
            .set_read_timeout((!wait.is_zero()).then_some(wait));
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte) {
                Ok(1) if byte[0] == b'\n' => break,
                Ok(1) => reply.push(byte[0]),
                Ok(_) => return Err("the hook process is gone".into()),
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(err) => return Err(format!("no answer from the hook process: {err}")),
            }
        }
        match reply.as_slice() {
            b"ok" => Ok(()),
            _ => Err(format!("the {hook} hook raised")),
        }
    }
}

/// The helper's life: start Python, execute the file, then call hooks until the master
/// closes its end.
fn serve(
    stream: UnixStream,
    file: &HookFile,
    executable: &Path,
    pythonpath: &[std::path::PathBuf],
    chdir: Option<&Path>,
    ctx: &HookContext,
) -> Result<(), String> {
    if let Some(dir) = chdir {
        std::env::set_current_dir(dir).map_err(|e| format!("--chdir: {e}"))?;
    }
    ffi::initialize(executable)?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    Python::attach(|py| -> Result<(), String> {
        let tb = |e: PyErr| super::traceback::traceback(py, &e);
        pylog::install(py).map_err(tb)?;
        super::interpreter::extend_sys_path(py, pythonpath).map_err(tb)?;
        let helpers = hooks::helpers(py).map_err(tb)?;
        let namespace = helpers
            .call_method1("load", (file.path.to_string_lossy().as_ref(),))
            .map_err(tb)?;
        let (server, _) = hooks::objects(py, &helpers, ctx, None).map_err(tb)?;
        let cfg = server.getattr("cfg").map_err(tb)?;
        let log = server.getattr("log").map_err(tb)?;
        let worker_class = helpers.getattr("Worker").map_err(tb)?;
        let lines = BufReader::new(stream);
        for line in lines.lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let hook_name = event["hook"].as_str().unwrap_or("");
            if let Some(n) = event["num_workers"].as_u64() {
                let _ = server.setattr("num_workers", n);
            }
            if let Some(address) = event["address"].as_array() {
                let address: Vec<&str> = address.iter().filter_map(|a| a.as_str()).collect();
                let _ = server.setattr("address", address.clone());
                let _ = server.setattr("LISTENERS", address);
            }
            let outcome = match namespace.get_item(hook_name) {
                Ok(hook) => {
                    let mut args = vec![server.clone()];
                    match hook_name {
                        "pre_fork" | "child_exit" => {
                            let pid = event["worker"]["pid"].as_i64();
                            let age = event["worker"]["age"].as_u64().unwrap_or(0);
                            let worker = worker_class
                                .call1((pid, ctx.master_pid, age, &cfg, &log))
                                .map_err(tb)?;
                            args.push(worker);
                        }
                        "nworkers_changed" => {
                            let new = event["new"].as_u64().unwrap_or(0);
                            let old = event["old"].as_u64().unwrap_or(0);
                            args.push(new.into_pyobject(py).map_err(|e| tb(e.into()))?.into_any());
                            args.push(old.into_pyobject(py).map_err(|e| tb(e.into()))?.into_any());
                        }
                        _ => {}
                    }
                    let refs: Vec<&Bound<'_, PyAny>> = args.iter().collect();
                    hooks::call(&helpers, &hook, &refs)
                }
                Err(_) => Ok(()),
            };
            if let Err(traceback) = &outcome {
                tracing::error!("the {hook_name} hook raised\n{traceback}");
            }
            if event["sync"].as_bool() == Some(true) {
                let reply: &[u8] = if outcome.is_ok() { b"ok\n" } else { b"error\n" };
                if writer.write_all(reply).is_err() {
                    break;
                }
            }
        }
        Ok(())
    })
}
