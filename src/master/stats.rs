//! The master's side of the metrics: the workers' counters added up (the live workers' slots
//! plus what workers that are gone had counted), what only the master knows (workers alive,
//! restarts by reason), rendered as Prometheus text for `/metrics` and as statsd lines.

use std::fmt::Write;

use crate::metrics::{at, BUCKETS_US, REFUSED, ROUTES};
use crate::sys::{Slot, COUNTERS};

/// `--statsd-host`: what changed is sent once a second, from the master.
pub struct Statsd {
    pub socket: std::net::UdpSocket,
    pub prefix: String,
    pub last: [u64; COUNTERS],
    pub sent: std::time::Instant,
}

impl Statsd {
    pub fn new(addr: std::net::SocketAddr, prefix: String) -> std::io::Result<Statsd> {
        let any: std::net::SocketAddr = if addr.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let socket = std::net::UdpSocket::bind(any)?;
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Statsd {
            socket,
            prefix,
            last: [0; COUNTERS],
            sent: std::time::Instant::now(),
        })
    }
}

/// Why a worker was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Crash = 0,
    Timeout = 1,
    MaxRequests = 2,
    MaxRss = 3,
    Reload = 4,
}

const RESTARTS: [&str; 5] = ["crash", "timeout", "max_requests", "max_rss", "reload"];

/// Counts carried by the master across the workers' lives.
#[derive(Debug, Clone)]
pub struct Totals {
    /// The counters of workers that are gone (gauges excepted).
    pub retired: [u64; COUNTERS],
    pub restarts: [u64; 5],
}

impl Default for Totals {
    fn default() -> Totals {
        Totals {
            retired: [0; COUNTERS],
            restarts: [0; 5],
        }
    }
}

impl Totals {
    /// A worker is gone: its counters join the retired ones.
    pub fn retire(&mut self, slot: &Slot) {
        for (i, total) in self.retired.iter_mut().enumerate() {
            if is_gauge(i) {
                continue;
            }
            *total =
                total.wrapping_add(slot.counters[i].load(std::sync::atomic::Ordering::Relaxed));
        }
    }

    pub fn restarted(&mut self, why: Restart) {
        self.restarts[why as usize] += 1;
    }

    /// Every counter: the retired ones plus the live slots'.
    pub fn sum<'a>(&self, live: impl Iterator<Item = &'a Slot>) -> [u64; COUNTERS] {
        let mut sum = self.retired;
        for slot in live {
            for (i, total) in sum.iter_mut().enumerate() {
                let v = slot.counters[i].load(std::sync::atomic::Ordering::Relaxed);
                *total = total.wrapping_add(v);
            }
        }
        sum
    }
}

fn is_gauge(i: usize) -> bool {
    matches!(
        i,
        at::OPEN_CONNECTIONS | at::IN_FLIGHT | at::QUEUED | at::RECYCLED | at::ACCEPTING
    )
}

/// The Prometheus text format (0.0.4) of `sum`, `workers` alive and `restarts`.
pub fn prometheus(sum: &[u64; COUNTERS], workers: usize, restarts: &[u64; 5]) -> String {
    let mut text = String::with_capacity(4096);
    header(&mut text, "pyrite_requests_total", "counter", "Requests answered, by route kind (static: by the server itself; app: by the app) and status class.");
    for (r, route) in ROUTES.iter().enumerate() {
        for class in 0..5 {
            let _ = writeln!(
                text,
                "pyrite_requests_total{{route=\"{route}\",status=\"{}xx\"}} {}",
                class + 1,
                sum[at::REQUESTS + r * 5 + class]
            );
        }
    }
    header(
        &mut text,
        "pyrite_request_duration_seconds",
        "histogram",
        "From a request's head to its last byte sent, by route kind.",
    );
    for (r, route) in ROUTES.iter().enumerate() {
        let base = at::DURATION + r * (BUCKETS_US.len() + 1);
        let mut cumulative = 0u64;
        for (b, bound) in BUCKETS_US.iter().enumerate() {
            cumulative = cumulative.wrapping_add(sum[base + b]);
            let _ = writeln!(text, "pyrite_request_duration_seconds_bucket{{route=\"{route}\",le=\"{}\"}} {cumulative}", seconds(*bound));
        }
        cumulative = cumulative.wrapping_add(sum[base + BUCKETS_US.len()]);
        let _ = writeln!(
            text,
            "pyrite_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            text,
            "pyrite_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            seconds(sum[at::DURATION_SUM + r])
        );
        let _ = writeln!(
            text,
            "pyrite_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
        );
    }
    header(
        &mut text,
        "pyrite_received_bytes_total",
        "counter",
        "Bytes read from clients.",
    );
    let _ = writeln!(text, "pyrite_received_bytes_total {}", sum[at::RECEIVED]);
    header(
        &mut text,
        "pyrite_sent_bytes_total",
        "counter",
        "Response body bytes sent to clients.",
    );
    let _ = writeln!(text, "pyrite_sent_bytes_total {}", sum[at::SENT]);
    header(
        &mut text,
        "pyrite_open_connections",
        "gauge",
        "Client connections open.",
    );
    let _ = writeln!(
        text,
        "pyrite_open_connections {}",
        gauge(sum[at::OPEN_CONNECTIONS])
    );
    header(
        &mut text,
        "pyrite_requests_in_flight",
        "gauge",
        "Requests being answered.",
    );
    let _ = writeln!(
        text,
        "pyrite_requests_in_flight {}",
        gauge(sum[at::IN_FLIGHT])
    );
    header(
        &mut text,
        "pyrite_pool_queue_depth",
        "gauge",
        "App requests waiting for a pool thread (--threads).",
    );
    let _ = writeln!(text, "pyrite_pool_queue_depth {}", gauge(sum[at::QUEUED]));
    header(
        &mut text,
        "pyrite_workers",
        "gauge",
        "Worker processes serving.",
    );
    let _ = writeln!(text, "pyrite_workers {workers}");
    header(
        &mut text,
        "pyrite_worker_restarts_total",
        "counter",
        "Workers replaced, by reason.",
    );
    for (i, reason) in RESTARTS.iter().enumerate() {
        let _ = writeln!(
            text,
            "pyrite_worker_restarts_total{{reason=\"{reason}\"}} {}",
            restarts[i]
        );
    }
    header(
        &mut text,
        "pyrite_requests_refused_total",
        "counter",
        "Requests the server refused itself, by status.",
    );
    for (i, status) in REFUSED.iter().enumerate() {
        let _ = writeln!(
            text,
            "pyrite_requests_refused_total{{reason=\"{status}\"}} {}",
            sum[at::REFUSED_AT + i]
        );
    }
    let _ = writeln!(
        text,
        "pyrite_requests_refused_total{{reason=\"other\"}} {}",
        sum[at::REFUSED_AT + REFUSED.len()]
    );
    text
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Microseconds as seconds (`0.005`).
fn seconds(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        format!("{whole}.0")
    } else {
        format!("{whole}.{:06}", frac)
            .trim_end_matches('0')
            .to_owned()
    }
}

/// A gauge summed from inc/dec pairs (wrapping): never shown below zero.
fn gauge(v: u64) -> u64 {
    if v > u64::MAX / 2 {
        0
    } else {
        v
    }
}

/// statsd lines (gunicorn's names where it has them) for what changed since `last`.
pub fn statsd(
    prefix: &str,
    sum: &[u64; COUNTERS],
    last: &[u64; COUNTERS],
    workers: usize,
) -> String {
    let delta = |i: usize| sum[i].wrapping_sub(last[i]);
    let mut out = String::new();
    let mut requests = 0u64;
    for r in 0..ROUTES.len() {
        for class in 0..5 {
            let n = delta(at::REQUESTS + r * 5 + class);
            requests += n;
            if n > 0 {
                let _ = writeln!(out, "{prefix}gunicorn.request.status.{}xx:{n}|c", class + 1);
            }
        }
    }
    let _ = writeln!(out, "{prefix}gunicorn.requests:{requests}|c");
    let micros: u64 = (0..ROUTES.len()).map(|r| delta(at::DURATION_SUM + r)).sum();
    if let Some(average) = micros.checked_div(requests) {
        let _ = writeln!(
            out,
            "{prefix}gunicorn.request.duration:{}|ms",
            average / 1000
        );
    }
    let _ = writeln!(out, "{prefix}gunicorn.workers:{workers}|g");
    let _ = writeln!(
        out,
        "{prefix}pyrite.open_connections:{}|g",
        gauge(sum[at::OPEN_CONNECTIONS])
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_formats() {
        assert_eq!(seconds(5_000), "0.005");
        assert_eq!(seconds(1_000_000), "1.0");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(0), "0.0");
    }
}
