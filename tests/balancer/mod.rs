//! pyrite behind a balancer: the graceful stop that loses nothing (`drain`: the health probe,
//! the drain, the listen queue of a worker busy in the app, idle keep-alive connections during
//! a stop), and rolling restarts under load through real balancers in network namespaces
//! (`nginx`, `haproxy`, with the configurations of `examples/deploy`), skipped with a message
//! where namespaces or the balancer are not available.

mod drain;
mod haproxy;
mod nginx;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::support::netns::{self, Net};
use crate::support::{apps_dir, eventually, manifest_dir, pyrite, try_fetch, Server};

/// The port pyrite listens on, on each host.
pub const PORT: u16 = 8000;

/// The network for a balancer test and the balancer's program, or why the test cannot run.
pub fn setup(program: &str) -> Option<Net> {
    let found = Command::new(program)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: `{program}` is not installed (scripts/test installs it with apt)");
        return None;
    }
    match Net::create(2) {
        Ok(net) => Some(net),
        Err(why) => {
            eprintln!("SKIPPED: cannot make network namespaces here: {why}");
            None
        }
    }
}

/// Where the balancer finds each host's pyrite: `ADDR:PORT`, one a host.
pub fn upstreams(net: &Net) -> Vec<String> {
    net.hosts
        .iter()
        .map(|h| format!("{}:{PORT}", h.addr))
        .collect()
}

/// `examples/deploy/NAME`.
pub fn example(name: &str) -> String {
    let path: PathBuf = manifest_dir().join("examples").join("deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// pyrite with 2 workers and the health probe on host `n`, serving `tests/apps/balanced.py`.
pub fn instance(net: &Net, n: usize, extra: &[&str]) -> Server {
    let bind = format!("{}:{PORT}", net.hosts[n].addr);
    pyrite()
        .launched_by("ip", &["netns", "exec", &net.hosts[n].ns])
        .args(&["-b", &bind, "-w", "2", "--health-path", "/healthz"])
        .args(extra)
        .args(&["--pythonpath", &apps_dir(), "balanced"])
        .start()
}

/// The probe of host `n` as the balancer sees it: its status, or `None` (no answer).
pub fn probe(net: &Net, n: usize) -> Option<u16> {
    let addr = format!("{}:{PORT}", net.hosts[n].addr);
    netns::within(&net.lb, move || {
        try_fetch(&addr, "GET", "/healthz", &[], b"")
            .ok()
            .map(|r| r.status)
    })
}

/// Waits (bounded) until host `n`'s probe says `status`.
pub fn wait_probe(net: &Net, n: usize, status: u16) -> bool {
    eventually(Duration::from_secs(20), || probe(net, n) == Some(status))
}

/// A balancer process, killed and reaped on drop.
pub struct Balancer(pub Child);

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
