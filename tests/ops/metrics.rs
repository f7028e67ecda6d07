//! `--metrics-bind`: the master serves Prometheus text at `/metrics`, read here with
//! `prometheus_client`'s own parser (from the test venv, `scripts/pyenv`): requests by route
//! kind and status class, the duration histogram, bytes, connections, refusals by status,
//! workers, and restarts by reason (crash, timeout, max-requests, reload). A scraper that
//! sends nothing never holds the master.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{
    apps_dir, eventually, exchange, get, kill, manifest_dir, pyrite, tmpdir, Conn, Server, BOOTED,
    LONG_WAIT, WAIT,
};

/// Parses `text` with prometheus_client; returns every sample as `name{labels}` → value.
fn parse(text: &str) -> HashMap<String, f64> {
    let python = manifest_dir().join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "the test venv is missing: run scripts/pyenv"
    );
    let script = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value!r} {family.type}")
"#;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut parts = l.rsplitn(3, ' ');
            let _kind = parts.next();
            let value: f64 = parts.next().unwrap().parse().unwrap();
            (parts.next().unwrap().to_owned(), value)
        })
        .collect()
}

fn metrics_addr(server: &Server) -> String {
    assert!(server.wait_for_stderr("metrics on addr=", 1, WAIT));
    server
        .stderr()
        .split("metrics on addr=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_owned()
}

fn scrape(addr: &str) -> HashMap<String, f64> {
    let response = get(addr, "/metrics");
    assert_eq!(response.status, 200);
    assert!(response
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse(&response.text())
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", samples.keys().collect::<Vec<_>>()))
}

#[test]
fn connections_left_open_do_not_lock_the_scraper_out() {
    let server = pyrite()
        .args(&["--metrics-bind", "127.0.0.1:0"])
        .app("ops_app")
        .start();
    let metrics = metrics_addr(&server);
    // Far more connections than the master holds, each stopping mid-head or saying nothing.
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut conn = Conn::connect(&metrics);
        if i % 2 == 0 {
            conn.send(b"GET /metrics HTTP/1.1\r\n");
        }
        idle.push(conn);
    }
    let s = scrape(&metrics);
    assert_eq!(value(&s, "pyrite_workers{}"), 1.0);
    assert_eq!(get(&server.addr, "/").status, 200);
}

#[test]
fn metrics_count_requests_bytes_and_refusals() {
    let dir = tmpdir("metrics");
    std::fs::write(dir.join("file.txt"), "0123456789").unwrap();
    let server = pyrite()
        .args(&[
            "--metrics-bind",
            "127.0.0.1:0",
            "--limit-request-body",
            "10",
        ])
        .args(&["--static", &format!("/s={}", dir.display())])
        .app("ops_app")
        .start();
    let metrics = metrics_addr(&server);
    // A scraper that connects and says nothing does not hold the master.
    let _silent = Conn::connect(&metrics);
    for _ in 0..3 {
        assert_eq!(get(&server.addr, "/s/file.txt").status, 200);
    }
    assert_eq!(get(&server.addr, "/s/missing").status, 404);
    assert_eq!(get(&server.addr, "/").status, 200);
    assert_eq!(get(&server.addr, "/raise").status, 500);
    assert_eq!(
        exchange(
            &server.addr,
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
        )
        .status(),
        400
    );
    let big = crate::support::post(&server.addr, "/", "text/plain", &[b'x'; 64]);
    assert_eq!(big.status, 413);
    let s = scrape(&metrics);
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="static",status="2xx"}"#),
        3.0
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="static",status="4xx"}"#),
        2.0,
        "404 and 400"
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="app",status="2xx"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="app",status="5xx"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="app",status="4xx"}"#),
        1.0,
        "413"
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_refused_total{reason="400"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"pyrite_requests_refused_total{reason="413"}"#),
        1.0
    );
    assert_eq!(
        value(
            &s,
            r#"pyrite_request_duration_seconds_count{route="static"}"#
        ),
        5.0
    );
    assert_eq!(
        value(
            &s,
            r#"pyrite_request_duration_seconds_bucket{le="+Inf",route="app"}"#
        ),
        3.0
    );
    assert!(value(&s, r#"pyrite_request_duration_seconds_sum{route="app"}"#) > 0.0);
    assert!(value(&s, "pyrite_sent_bytes_total{}") >= 30.0);
    assert!(value(&s, "pyrite_received_bytes_total{}") > 100.0);
    assert_eq!(value(&s, "pyrite_workers{}"), 1.0);
    // The last response may be read before its write returned on the server's side.
    assert!(eventually(WAIT, || value(
        &scrape(&metrics),
        "pyrite_requests_in_flight{}"
    ) == 0.0));
    // An open keep-alive connection shows, and stops showing once closed.
    let mut conn = Conn::connect(&server.addr);
    assert_eq!(conn.get("/").status, 200);
    assert_eq!(value(&scrape(&metrics), "pyrite_open_connections{}"), 1.0);
    drop(conn);
    assert!(eventually(WAIT, || value(
        &scrape(&metrics),
        "pyrite_open_connections{}"
    ) == 0.0));
    assert_eq!(get(&metrics, "/other").status, 404);
}

#[test]
fn metrics_count_restarts_by_reason_and_keep_counts_of_gone_workers() {
    let server = pyrite()
        .args(&[
            "--metrics-bind",
            "127.0.0.1:0",
            "--max-requests",
            "3",
            "--timeout",
            "1",
        ])
        .args(&["--pythonpath", &apps_dir(), "supervised"])
        .start();
    let metrics = metrics_addr(&server);
    let restarts = |reason: &str| {
        value(
            &scrape(&metrics),
            &format!("pyrite_worker_restarts_total{{reason=\"{reason}\"}}"),
        )
    };
    // max-requests: the third request recycles the worker.
    for _ in 0..3 {
        assert_eq!(get(&server.addr, "/").status, 200);
    }
    assert!(eventually(LONG_WAIT, || restarts("max_requests") == 1.0));
    assert!(server.wait_for_stderr(BOOTED, 2, LONG_WAIT));
    let s = scrape(&metrics);
    assert_eq!(
        value(&s, r#"pyrite_requests_total{route="app",status="2xx"}"#),
        3.0,
        "kept after the worker is gone"
    );
    // crash
    let worker = *server.worker_pids().last().unwrap();
    kill(worker, libc::SIGKILL);
    assert!(eventually(LONG_WAIT, || restarts("crash") == 1.0));
    assert!(server.wait_for_stderr(BOOTED, 3, LONG_WAIT));
    // timeout: stuck in C past --timeout, aborted by the master
    let _ = crate::support::try_fetch(&server.addr, "GET", "/stuck", &[], b"");
    assert!(
        eventually(LONG_WAIT, || restarts("timeout") == 1.0),
        "{}",
        server.stderr()
    );
    assert!(server.wait_for_stderr(BOOTED, 4, LONG_WAIT));
    // reload
    server.signal(libc::SIGHUP);
    assert!(eventually(LONG_WAIT, || restarts("reload") == 1.0));
    assert_eq!(restarts("crash"), 1.0);
}

#[test]
fn statsd_gets_gunicorns_names() {
    let statsd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    statsd
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let target = statsd.local_addr().unwrap().to_string();
    let server = pyrite()
        .args(&["--statsd-host", &target, "--statsd-prefix", "shop"])
        .app("ops_app")
        .start();
    for _ in 0..4 {
        assert_eq!(get(&server.addr, "/").status, 200);
    }
    let mut seen = String::new();
    let got = eventually(LONG_WAIT, || {
        let mut buf = [0u8; 1024];
        if let Ok(n) = statsd.recv(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            seen.push('\n');
        }
        let requests: u64 = seen
            .lines()
            .filter_map(|l| l.strip_prefix("shop.gunicorn.requests:"))
            .filter_map(|v| v.strip_suffix("|c")?.parse::<u64>().ok())
            .sum();
        requests >= 4 && seen.contains("shop.gunicorn.workers:1|g")
    });
    assert!(got, "statsd lines: {seen}");
    assert!(seen.contains("shop.gunicorn.request.status.2xx:"), "{seen}");
    assert!(seen.contains("shop.gunicorn.workers:1|g"), "{seen}");
}
