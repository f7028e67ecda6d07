//! A rolling restart through HAProxy (`examples/deploy/haproxy.cfg`: PROXY protocol v2 to
//! pyrite's `--proxy-protocol`, HTTP checks of the probe with a 500 ms timeout, no retries):
//! under GET and POST load, each host is restarted in turn with SIGTERM. HAProxy must mark
//! only the instance being restarted DOWN — never a healthy one, however loaded — and not one
//! request may fail.

use std::process::Stdio;

use super::{example, instance, setup, upstreams, Balancer};
use crate::support::capture::Captured;
use crate::support::load::Load;
use crate::support::netns::{self, Net};
use crate::support::{eventually, try_fetch, LONG_WAIT, WAIT};

/// The example with our servers and bind address.
fn config(example: &str, servers: &[String], bind: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for line in example.lines() {
        let text = line.trim_start();
        if text.starts_with("server ") {
            n += 1;
            out.push_str(&format!("    server h{n} {}\n", servers[n - 1]));
        } else if text.starts_with("bind ") {
            out.push_str(&format!("    bind {bind}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(
        n,
        servers.len(),
        "the example's backend lists other servers"
    );
    out
}

/// Lines of HAProxy's log saying server `hN` went DOWN, in `log`.
fn downs(log: &str, n: usize) -> usize {
    log.lines()
        .filter(|l| l.contains(&format!("pyrite/h{n} is DOWN")))
        .count()
}

#[test]
fn a_rolling_restart_through_haproxy_marks_no_healthy_instance_down() {
    let Some(net) = setup("haproxy") else { return };
    let flags = [
        "--proxy-protocol",
        "--forwarded-allow-ips",
        "10.77.0.0/16",
        "--drain-timeout",
        "5",
        "--access-logfile",
        "-",
    ];
    let mut servers = [instance(&net, 0, &flags), instance(&net, 1, &flags)];
    let upstream = upstreams(&net);
    let dir = crate::support::tmpdir("haproxy");
    let cfg = dir.join("haproxy.cfg");
    let listen = "127.0.0.1:8080";
    std::fs::write(&cfg, config(&example("haproxy.cfg"), &upstream, listen)).unwrap();
    let mut child = Net::command(&net.lb, "haproxy", &["-db", "-f", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start haproxy");
    let out = Captured::pump(child.stdout.take().unwrap());
    let log = Captured::pump(child.stderr.take().unwrap());
    let haproxy = Balancer(child);
    let text = || format!("{}{}", out.text(), log.text());
    let lb = net.lb.clone();
    let up = eventually(WAIT, || {
        let lb = lb.clone();
        netns::within(&lb, move || {
            try_fetch(listen, "GET", "/work?t=up", &[], b"").is_ok_and(|r| r.status == 200)
        })
    });
    assert!(up, "haproxy did not come up:\n{}", text());

    let load = Load::start(listen, 12, Some(&net.lb), 5);
    assert!(
        load.wait_for(300, LONG_WAIT),
        "the load does not get through"
    );
    let mut seen = text().len();
    for (n, server) in servers.iter_mut().enumerate() {
        let (this, other) = (n + 1, 2 - n);
        let before = text();
        assert_eq!(
            downs(&before[seen..], 1) + downs(&before[seen..], 2),
            0,
            "{before}"
        );
        server.signal(libc::SIGTERM);
        assert!(
            eventually(LONG_WAIT, || downs(&text()[seen..], this) > 0),
            "h{this} was never marked DOWN:\n{}",
            text()
        );
        let status = server.expect_exit(LONG_WAIT, "SIGTERM during a rolling restart");
        assert_eq!(status.code(), Some(0), "h{this}: {status:?}");
        *server = instance(&net, n, &flags);
        assert!(
            eventually(LONG_WAIT, || text()[seen..]
                .contains(&format!("pyrite/h{this} is UP"))),
            "the new h{this} was never marked UP:\n{}",
            text()
        );
        let during = text();
        assert_eq!(
            downs(&during[seen..], other),
            0,
            "the healthy h{other} was marked DOWN while h{this} restarted:\n{during}"
        );
        seen = during.len();
        assert!(
            load.wait_for(300, LONG_WAIT),
            "the load stalled after h{this}"
        );
        assert!(
            server.wait_for_stdout("POST /echo", 1, LONG_WAIT),
            "h{this}: no request reached the restarted instance"
        );
    }
    let tally = load.finish();
    let all = text();
    assert_eq!(downs(&all[seen..], 1) + downs(&all[seen..], 2), 0, "{all}");
    eprintln!(
        "haproxy rolling restart: {} GET and {} POST answered, {} failed",
        tally.gets,
        tally.posts,
        tally.failures.len()
    );
    assert!(
        tally.failures.is_empty(),
        "{} of {} requests failed:\n{}",
        tally.failures.len(),
        tally.gets + tally.posts + tally.failures.len() as u64,
        tally.failures.join("\n")
    );
    assert!(!all.contains("no server available"), "{all}");
    drop(haproxy);
}
