//! Private networks for the balancer tests: a network namespace for the balancer and its
//! clients, and one per host, each host joined to the balancer's namespace by a veth pair
//! (`10.77.N.1` on the balancer's side, `10.77.N.2` on host N's). Nothing is added to the
//! machine's own network; dropping the [`Net`] deletes the namespaces and their links. Root
//! and `ip` are needed: [`Net::create`] says why it cannot be done, for the test to skip.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One host: its namespace and address.
pub struct Host {
    pub ns: String,
    pub addr: String,
}

pub struct Net {
    /// The balancer's namespace (its loopback is up: clients reach the balancer there).
    pub lb: String,
    pub hosts: Vec<Host>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    /// The namespaces and links for `hosts` hosts, or why they cannot be made here.
    pub fn create(hosts: usize) -> Result<Net, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("network namespaces need root".into());
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut net = Net {
            lb: format!("pyrite{tag}lb"),
            hosts: Vec::new(),
        };
        ip(&["netns", "add", &net.lb])?;
        ip(&["-n", &net.lb, "link", "set", "lo", "up"])?;
        for n in 0..hosts {
            let ns = format!("pyrite{tag}h{n}");
            ip(&["netns", "add", &ns])?;
            net.hosts.push(Host {
                ns: ns.clone(),
                addr: format!("10.77.{n}.2"),
            });
            let (outer, inner) = (format!("vl{n}"), format!("vh{n}"));
            ip(&[
                "-n", &net.lb, "link", "add", &outer, "type", "veth", "peer", "name", &inner,
                "netns", &ns,
            ])?;
            ip(&[
                "-n",
                &net.lb,
                "addr",
                "add",
                &format!("10.77.{n}.1/24"),
                "dev",
                &outer,
            ])?;
            ip(&["-n", &net.lb, "link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.77.{n}.2/24"),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(net)
    }

    /// `ip netns exec NS PROGRAM ARGS…` (exec'd: the child's pid is the program's).
    pub fn command(ns: &str, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, program]).args(args);
        cmd
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for name in std::iter::once(&self.lb).chain(self.hosts.iter().map(|h| &h.ns)) {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Moves the calling thread into namespace `ns` (its sockets are made there from now on);
/// call it first thing on a thread of its own.
pub fn enter(ns: &str) {
    let file = File::open(format!("/var/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("open namespace {ns}: {e}"));
    // SAFETY: setns(2) with a descriptor we just opened; it changes only this thread's
    // network namespace.
    let done = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(done, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// Runs `f` on a thread inside namespace `ns` and returns what it returns.
pub fn within<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns);
        f()
    })
    .join()
    .expect("thread in a namespace panicked")
}
