//! systemd readiness (`Type=notify`): with `NOTIFY_SOCKET` naming a datagram socket the test
//! binds, the master says `READY=1` once its workers serve, `RELOADING=1` then `READY=1` around
//! a HUP, `STOPPING=1` on TERM, and after a USR2 upgrade the new master says `MAINPID=` with
//! its own pid while the old one, handing over, does not say it is stopping.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::process::KillOnDrop;
use crate::support::{get, pyrite, tmpdir, LONG_WAIT, WAIT};

struct Systemd {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl Systemd {
    fn bind(name: &str) -> Systemd {
        let path = tmpdir(name).join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Systemd { socket, path }
    }

    /// The next message holding `needle` (earlier ones are skipped), within `timeout`.
    fn expect(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                if msg.contains(needle) {
                    return msg;
                }
                seen.push(msg);
            }
        }
        panic!("no {needle:?} from pyrite; got {seen:?}");
    }

    /// Every message that arrives within `window`.
    fn drain(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.socket.recv(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        out
    }
}

fn field(msg: &str, key: &str) -> Option<i32> {
    msg.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

#[test]
fn ready_reloading_and_stopping_reach_notify_socket() {
    let systemd = Systemd::bind("notify");
    let mut server = pyrite()
        .args(&["-w", "2"])
        .env("NOTIFY_SOCKET", systemd.path.to_str().unwrap())
        .app("ops_app")
        .start();
    let ready = systemd.expect("READY=1", WAIT);
    assert_eq!(field(&ready, "MAINPID"), Some(server.pid()), "{ready}");
    assert_eq!(get(&server.addr, "/").status, 200);
    // The app cannot speak for the service.
    assert_eq!(get(&server.addr, "/env?NOTIFY_SOCKET").text(), "<unset>");

    server.signal(libc::SIGHUP);
    let reloading = systemd.expect("RELOADING=1", WAIT);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    systemd.expect("READY=1", LONG_WAIT);

    server.signal(libc::SIGTERM);
    systemd.expect("STOPPING=1", WAIT);
    let status = server.expect_exit(WAIT, "SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn usr2_hands_mainpid_to_the_new_master() {
    let systemd = Systemd::bind("notify-usr2");
    let mut server = pyrite()
        .env("NOTIFY_SOCKET", systemd.path.to_str().unwrap())
        .app("ops_app")
        .start();
    systemd.expect("READY=1", WAIT);
    let old = server.pid();
    server.signal(libc::SIGUSR2);
    let ready = systemd.expect("READY=1", LONG_WAIT);
    let new = field(&ready, "MAINPID").expect("MAINPID");
    let _guard = KillOnDrop(new);
    assert_ne!(new, old, "{ready}");
    let status = server.expect_exit(LONG_WAIT, "USR2 (the new master stops the old one)");
    assert_eq!(status.code(), Some(0));
    let after = systemd.drain(Duration::from_millis(500));
    assert!(
        !after.iter().any(|m| m.contains("STOPPING=1")),
        "the old master said the service is stopping: {after:?}"
    );
    assert_eq!(get(&server.addr, "/").status, 200, "the new master serves");
}
