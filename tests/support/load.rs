//! A small exact load for the balancer tests (`tests/apps/balanced.py` behind the balancer):
//! client threads, each sending requests one after another on fresh connections
//! (`Connection: close`, so the client's own keep-alive never races the balancer), GET of a
//! short view and POST of a body to echo in turn, every answer checked byte for byte. Every
//! failure is kept (what, and how far into the run), so a test can say exactly what was lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::client::{request, Conn};
use super::netns;

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub gets: u64,
    pub posts: u64,
    /// `"+1.234 s GET c3r17: status 502"`, one per failed request.
    pub failures: Vec<String>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    clients: Vec<JoinHandle<Tally>>,
}

impl Load {
    /// `clients` threads against `addr` (inside namespace `ns`, if given); GETs take
    /// `work_ms` in the app.
    pub fn start(addr: &str, clients: usize, ns: Option<&str>, work_ms: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let clients = (0..clients)
            .map(|c| {
                let (stop, done) = (stop.clone(), done.clone());
                let (addr, ns) = (addr.to_string(), ns.map(str::to_string));
                thread::spawn(move || {
                    if let Some(ns) = ns {
                        netns::enter(&ns);
                    }
                    let mut tally = Tally::default();
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let post = n % 2 == 0;
                        let token = format!("c{c}r{n}");
                        if let Err(why) = one(&addr, post, &token, work_ms) {
                            let at = started.elapsed().as_secs_f64();
                            let method = if post { "POST" } else { "GET" };
                            tally
                                .failures
                                .push(format!("+{at:.3} s {method} {token}: {why}"));
                        } else if post {
                            tally.posts += 1;
                        } else {
                            tally.gets += 1;
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                    tally
                })
            })
            .collect();
        Load {
            stop,
            done,
            clients,
        }
    }

    /// Requests finished so far (answered or failed).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `more` further requests have finished.
    pub fn wait_for(&self, more: u64, limit: Duration) -> bool {
        let target = self.done() + more;
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.done() >= target {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the clients and adds up what they saw.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Tally::default();
        for client in self.clients.drain(..) {
            let t = client.join().expect("load client panicked");
            all.gets += t.gets;
            all.posts += t.posts;
            all.failures.extend(t.failures);
        }
        all.failures.sort();
        all
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients.drain(..) {
            let _ = client.join();
        }
    }
}

/// One request and its check.
fn one(addr: &str, post: bool, token: &str, work_ms: u64) -> Result<(), String> {
    let mut conn = Conn::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
    let close = [("Connection", "close")];
    let (bytes, want) = if post {
        // 1-8 KiB that differ per request.
        let len = 1024 + token.len() * 397 % 7168;
        let body: Vec<u8> = token.bytes().cycle().take(len).collect();
        (request("POST", "/echo", &close, &body), body)
    } else {
        let target = format!("/work?ms={work_ms}&t={token}");
        (
            request("GET", &target, &close, b""),
            format!("{token}\n").into_bytes(),
        )
    };
    conn.try_send(&bytes).map_err(|e| format!("write: {e}"))?;
    let r = conn
        .try_read_response(false)
        .map_err(|e| format!("read: {e}"))?;
    if r.status != 200 {
        return Err(format!("status {}: {:?}", r.status, r.text()));
    }
    if !r.complete || r.body != want {
        return Err(format!("wrong body ({} bytes)", r.body.len()));
    }
    Ok(())
}
