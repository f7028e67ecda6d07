//! systemd's readiness protocol (`sd_notify(3)`, `Type=notify`): when `NOTIFY_SOCKET` names a
//! unix datagram socket, the master tells it `READY=1` once every worker serves,
//! `RELOADING=1` when a HUP starts a new generation (then `READY=1` again), `STOPPING=1` on a
//! stop, `MAINPID=` when a USR2 upgrade's new master takes over, and `WATCHDOG=1` every half
//! `WATCHDOG_USEC` while its loop turns. A datagram that cannot be sent is dropped: the
//! server never depends on systemd listening.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    last_watchdog: Option<Instant>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace) and
    /// `WATCHDOG_USEC` (for this pid, per `WATCHDOG_PID`).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|raw| {
            let raw = raw.to_string_lossy().into_owned();
            let addr = match raw.strip_prefix('@') {
                Some(name) => abstract_addr(name)?,
                None => SocketAddr::from_pathname(&raw).ok()?,
            };
            Some((UnixDatagram::unbound().ok()?, addr))
        });
        let ours = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && ours)
            .map(|u| Duration::from_micros(u / 2));
        Notifier {
            target,
            watchdog: watchdog.filter(|_| target_is_set()),
            last_watchdog: None,
        }
    }

    pub fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(err) = socket.send_to_addr(message.as_bytes(), addr) {
                tracing::debug!(error = %err, "cannot notify systemd");
            }
        }
    }

    /// `READY=1`, with this pid as the main one (a USR2 upgrade's new master takes over).
    pub fn ready(&self, workers: usize) {
        self.send(&format!(
            "READY=1\nMAINPID={}\nSTATUS=serving with {workers} workers",
            std::process::id()
        ));
    }

    pub fn reloading(&self) {
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// Called on every turn of the master's loop.
    pub fn tick(&mut self) {
        let Some(every) = self.watchdog else { return };
        let now = Instant::now();
        if self
            .last_watchdog
            .is_none_or(|last| now.duration_since(last) >= every)
        {
            self.send("WATCHDOG=1");
            self.last_watchdog = Some(now);
        }
    }
}

fn target_is_set() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn abstract_addr(name: &str) -> Option<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name.as_bytes()).ok()
}

fn monotonic_usec() -> u64 {
    crate::sys::monotonic_ms().saturating_mul(1000)
}
