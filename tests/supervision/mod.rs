//! The master's supervision of its workers, seen from outside: signals (`signals`), respawn
//! and back-off (`respawn`), request timeouts (`timeout`), recycling (`recycle`), `--reload`
//! (`reload`), the USR2 upgrade (`upgrade`), `--preload` (`preload`), process hygiene
//! (`hygiene`) and the spread of new connections over the workers (`spread`). Most run
//! `tests/apps/supervised.py`, which answers who it is as JSON; the helpers here read those
//! answers and keep a stream of requests going while the master replaces workers, to show that
//! none is lost.

mod hygiene;
mod preload;
mod recycle;
mod reload;
mod respawn;
mod signals;
mod spread;
mod timeout;
mod upgrade;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::support::{get, json, pyrite, try_fetch, Server, Value};

/// `supervised.py` with `-w WORKERS`.
pub fn supervised(workers: &str) -> Server {
    pyrite().args(&["-w", workers]).app("supervised").start()
}

/// The number in a JSON answer's member `key`, as a pid/uid/etc.
pub fn num(v: &Value, key: &str) -> i64 {
    v.at(key).num() as i64
}

/// GET `target` on a fresh connection, expect 200 with JSON.
pub fn get_json(addr: &str, target: &str) -> Value {
    let r = get(addr, target);
    assert_eq!(r.status, 200, "GET {target}: {} {}", r.status, r.text());
    r.json()
}

/// The pid of the worker that answered `GET /` (the apps answer `{"pid": ...}`).
pub fn answering_pid(addr: &str) -> i32 {
    num(&get_json(addr, "/"), "pid") as i32
}

/// One `GET target` on a fresh connection that never panics: `Ok((status, body))` or what
/// went wrong (refused, reset, cut short, unparseable).
pub fn try_get(addr: &str, target: &str) -> Result<(u16, String), String> {
    try_fetch(addr, "GET", target, &[], b"").map(|r| (r.status, r.text()))
}

/// The pid in a JSON body, if there is one.
pub fn pid_in(body: &str) -> Option<i32> {
    match json::parse(body).ok()?.get("pid")? {
        Value::Num(n) => Some(*n as i32),
        _ => None,
    }
}

/// The `"version"` a versioned app (`tests/apps/reload/*.py`) answers with, or None on any
/// failure.
pub fn version_at(addr: &str) -> Option<String> {
    let (status, body) = try_get(addr, "/").ok()?;
    if status != 200 {
        return None;
    }
    json::parse(&body)
        .ok()?
        .get("version")?
        .as_str()
        .map(str::to_string)
}

/// What one request of a [`Stream`] gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<(u16, String), String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        matches!(&self.result, Ok((200, _)))
    }

    pub fn pid(&self) -> Option<i32> {
        self.result.as_ref().ok().and_then(|(_, b)| pid_in(b))
    }
}

/// A client thread sending sequential `GET target` requests, each on a fresh connection,
/// until stopped.
pub struct Stream {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Outcome>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Stream {
    pub fn start(addr: &str, target: &str, pause: Duration) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handle = {
            let (stop, seen) = (stop.clone(), seen.clone());
            let (addr, target) = (addr.to_string(), target.to_string());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let result = try_get(&addr, &target);
                    seen.lock().unwrap().push(Outcome { result });
                    if !pause.is_zero() {
                        thread::sleep(pause);
                    }
                }
            })
        };
        Stream {
            stop,
            seen,
            handle: Some(handle),
        }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn snapshot(&self) -> Vec<Outcome> {
        self.seen.lock().unwrap().clone()
    }

    /// Stops the thread and returns every outcome in order.
    pub fn finish(mut self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("stream thread panicked");
        }
        self.snapshot()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Panics listing every failed request of a stream.
pub fn assert_all_ok(outcomes: &[Outcome], what: &str) {
    let failed: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.ok())
        .map(|(i, o)| match &o.result {
            Ok((status, body)) => format!("#{i}: status {status}: {body}"),
            Err(e) => format!("#{i}: {e}"),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{what}: {} of {} requests failed:\n{}",
        failed.len(),
        outcomes.len(),
        failed.join("\n")
    );
}
