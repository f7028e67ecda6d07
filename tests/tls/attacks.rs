//! The attacks HTTP/2 servers were patched for, each driven by the `h2` package against the
//! real binary with one worker: while the attack runs (the tool says "attacking"), another
//! client is served; afterwards the attacker has been stopped as it should (GOAWAY, a refused
//! or reset stream, a 431) and the worker that took it is the one still serving.

use super::h2::Session;
use super::plain_server;
use crate::support::{get, Server, Value};

/// Starts `h2tool.py ADDR ATTACK ARGS…`, waits until it is attacking, checks that another
/// client is served meanwhile, and returns the attack's result.
fn under_attack(server: &Server, attack: &str, args: &[&str]) -> Value {
    let workers = server.worker_pids();
    let mut tool = Session::start(&server.addr, &[&[attack], args].concat());
    assert_eq!(
        tool.line(),
        "attacking",
        "{attack}: the attack did not start"
    );
    for _ in 0..5 {
        let response = get(&server.addr, "/");
        assert_eq!(
            response.status, 200,
            "{attack}: another client was not served"
        );
        assert_eq!(response.text(), "hello");
    }
    let result = tool.result();
    assert_eq!(server.worker_pids(), workers, "{attack}: the worker died");
    assert_eq!(get(&server.addr, "/").status, 200, "{attack}: served after");
    result
}

fn goaway(result: &Value) -> Option<&str> {
    result.get("goaway").and_then(Value::as_str)
}

#[test]
fn rapid_reset_gets_enhance_your_calm() {
    let server = plain_server(&[]);
    let result = under_attack(&server, "rapid-reset", &["--count", "20000"]);
    assert_eq!(goaway(&result), Some("ENHANCE_YOUR_CALM"), "{result:?}");
}

#[test]
fn resetting_accepted_streams_spends_the_budget() {
    // Each response is larger than the client's window: the stream is still being answered
    // when the client resets it.
    let (site, _) = crate::static_files::big_site("h2-resets");
    let server = crate::support::pyrite()
        .args(&[
            "--docroot",
            &site.to_string_lossy(),
            "--http2-max-reset-streams",
            "20",
        ])
        .app("tls_app")
        .start();
    let result = under_attack(
        &server,
        "reset-after-accept",
        &["/big.bin", "--count", "200"],
    );
    assert_eq!(goaway(&result), Some("ENHANCE_YOUR_CALM"), "{result:?}");
    assert!(result.at("streams").num() < 200.0, "{result:?}");
}

#[test]
fn a_continuation_flood_is_cut_off() {
    let server = plain_server(&[]);
    let result = under_attack(&server, "continuation-flood", &["--count", "5000"]);
    assert!(result.at("closed") == &Value::Bool(true), "{result:?}");
    assert!(
        result.at("stopped_early") == &Value::Bool(true),
        "{result:?}"
    );
}

#[test]
fn an_hpack_bomb_is_refused() {
    let server = plain_server(&[]);
    let result = under_attack(&server, "hpack-bomb", &[]);
    // 32 MB decoded from 16 KB: refused as too large, or the connection ended.
    let refused = result.get("status").and_then(|s| match s {
        Value::Num(n) => Some(*n),
        _ => None,
    }) == Some(431.0)
        || result.at("reset").as_str().is_some()
        || goaway(&result).is_some()
        || result.at("closed") == &Value::Bool(true);
    assert!(refused, "{result:?}");
}

#[test]
fn an_oversize_header_list_gets_431() {
    let server = plain_server(&[]);
    let result = under_attack(&server, "big-headers", &["--count", "100"]);
    assert_eq!(result.at("status").num(), 431.0, "{result:?}");
}

#[test]
fn settings_and_ping_floods_are_held_back() {
    for attack in ["settings-flood", "ping-flood"] {
        let server = plain_server(&[]);
        let worker = server.worker_pids()[0];
        let rss_before = crate::support::process::proc_kib(worker, "status", "VmRSS");
        let result = under_attack(&server, attack, &["--count", "1000000"]);
        let rss_after = crate::support::process::proc_kib(worker, "status", "VmRSS");
        // 15 MB of frames went (or tried to go) in: none of it may pile up in the worker.
        assert!(
            rss_after < rss_before + 16 * 1024,
            "{attack}: the worker grew from {rss_before} to {rss_after} KiB"
        );
        // Either the server stopped reading (TCP backpressure) or it closed the connection.
        let held = result.at("backpressured_or_closed") == &Value::Bool(true)
            || goaway(&result).is_some()
            || result.at("closed") == &Value::Bool(true);
        assert!(held, "{attack}: {result:?}");
    }
}

#[test]
fn a_zero_window_stall_is_reset_after_the_write_timeout() {
    let (site, _) = crate::static_files::big_site("h2-stall");
    let server = crate::support::pyrite()
        .args(&["--docroot", &site.to_string_lossy(), "--write-timeout", "1"])
        .app("tls_app")
        .start();
    let result = under_attack(&server, "zero-window", &["/big.bin", "--deadline", "15"]);
    assert_eq!(result.at("status").num(), 200.0, "{result:?}");
    assert_eq!(result.at("reset").as_str(), Some("CANCEL"), "{result:?}");
}

#[test]
fn streams_past_the_concurrency_limit_are_refused() {
    let server = plain_server(&[
        "--http2-max-concurrent-streams",
        "10",
        "--body-timeout",
        "5",
    ]);
    let result = under_attack(&server, "many-streams", &["--count", "150"]);
    let refused = result.at("refused").num() >= 50.0 || goaway(&result).is_some();
    assert!(refused, "{result:?}");
}
