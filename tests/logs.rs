//! The logs: the access log — off unless asked for; Apache's combined format by default, for
//! app and static files alike, with the status and the bytes sent; gunicorn's atoms in
//! `--access-logformat`; JSON lines — and USR1 reopening `--access-logfile` and `--error-logfile`:
//! after a rotation (rename) and USR1, new lines go to a fresh file at the original path, from
//! the master and from the workers. A log reader that goes away (`| head -1`) costs nothing
//! but the lines.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::support::process::children_of;
use crate::support::{
    apps_dir, eventually, fetch, get, kill, pyrite, tmpdir, Server, LISTENING, STARTUP_TIMEOUT,
    WAIT,
};

/// Polls (bounded) until the file at `path` contains `needle`.
fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> bool {
    eventually(timeout, || {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
    })
}

/// Stops the server (SIGTERM: workers write what they buffered) and returns its stdout.
fn stdout_after_stop(mut server: Server) -> String {
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(WAIT).expect("master did not stop");
    assert_eq!(status.code(), Some(0));
    server.stdout()
}

#[test]
fn no_access_log_unless_asked_for() {
    let dir = tmpdir("access-off");
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    let server = pyrite()
        .args(&["--static", &format!("/s={}", dir.to_string_lossy())])
        .app("hello")
        .start();
    assert_eq!(get(&server.addr, "/app-unlogged").status, 200);
    assert_eq!(get(&server.addr, "/s/hello.txt").status, 200);
    let out = stdout_after_stop(server);
    assert!(
        !out.contains("app-unlogged") && !out.contains("hello.txt"),
        "an access line without --access-logfile:\n{out}"
    );
}

/// `127.0.0.1 - - [01/Dec/2026:23:18:55 +0000] "GET / HTTP/1.1" 200 14 "-" "-"`: the line
/// split into its nine fields (quotes and brackets kept).
fn combined_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let (field, after) = match rest.as_bytes()[0] {
            b'"' => {
                let mut end = 1;
                let bytes = rest.as_bytes();
                while end < bytes.len() && !(bytes[end] == b'"' && bytes[end - 1] != b'\\') {
                    end += 1;
                }
                rest.split_at((end + 1).min(rest.len()))
            }
            b'[' => rest.split_at(rest.find(']').map_or(rest.len(), |i| i + 1)),
            _ => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
        };
        fields.push(field.to_string());
        rest = after.trim_start_matches(' ');
    }
    fields
}

#[test]
fn the_default_format_is_apache_combined_for_app_and_static_files() {
    let dir = tmpdir("access-log");
    std::fs::write(dir.join("hello.txt"), "hello, world\n").unwrap();
    let server = pyrite()
        .access_log()
        .args(&["--static", &format!("/s={}", dir.to_string_lossy())])
        .app("hello")
        .start();
    let agent = [
        ("User-Agent", "probe/1.0 (\"quoted\")"),
        ("Referer", "http://example.test/from"),
    ];
    assert_eq!(
        fetch(&server.addr, "GET", "/app.py?name=x", &agent, b"").status,
        200
    );
    assert_eq!(get(&server.addr, "/s/hello.txt").status, 200);
    let range = [("Range", "bytes=0-4")];
    assert_eq!(
        fetch(&server.addr, "GET", "/s/hello.txt", &range, b"").status,
        206
    );
    assert_eq!(
        fetch(&server.addr, "HEAD", "/s/hello.txt", &[], b"").status,
        200
    );
    assert_eq!(get(&server.addr, "/s/missing.txt").status, 404);
    assert!(
        server.wait_for_stdout("\n", 5, WAIT),
        "expected 5 access log lines, stdout:\n{}",
        server.stdout()
    );
    let out = server.stdout();
    for (request, status, bytes, referer, agent) in [
        (
            "\"GET /app.py?name=x HTTP/1.1\"",
            "200",
            Some("14"),
            "\"http://example.test/from\"",
            "\"probe/1.0 (\\\"quoted\\\")\"",
        ),
        (
            "\"GET /s/hello.txt HTTP/1.1\"",
            "200",
            Some("13"),
            "\"-\"",
            "\"-\"",
        ),
        (
            "\"GET /s/hello.txt HTTP/1.1\"",
            "206",
            Some("5"),
            "\"-\"",
            "\"-\"",
        ),
        (
            "\"HEAD /s/hello.txt HTTP/1.1\"",
            "200",
            Some("0"),
            "\"-\"",
            "\"-\"",
        ),
        (
            "\"GET /s/missing.txt HTTP/1.1\"",
            "404",
            None,
            "\"-\"",
            "\"-\"",
        ),
    ] {
        let line = out
            .lines()
            .find(|l| {
                combined_fields(l).get(4..6) == Some(&[request.to_string(), status.to_string()])
            })
            .unwrap_or_else(|| panic!("no access log line with {request} {status}:\n{out}"));
        let f = combined_fields(line);
        assert_eq!(f.len(), 9, "h l u t \"r\" s b \"f\" \"a\": {line}");
        assert_eq!(f[0], "127.0.0.1", "{line}");
        assert_eq!((f[1].as_str(), f[2].as_str()), ("-", "-"), "{line}");
        // [02/Dec/2026:00:41:07 +0000]
        let t = &f[3];
        assert!(
            t.starts_with('[') && t.ends_with(']') && t.len() == 28,
            "{line}"
        );
        assert!(
            t[1..3].bytes().all(|b| b.is_ascii_digit()) && &t[3..4] == "/",
            "{line}"
        );
        assert!(matches!(&t[22..23], "+" | "-"), "{line}");
        assert!(f[6].parse::<u64>().is_ok(), "bytes field: {line}");
        if let Some(bytes) = bytes {
            assert_eq!(f[6], bytes, "{line}");
        }
        assert_eq!((f[7].as_str(), f[8].as_str()), (referer, agent), "{line}");
    }
}

/// The value between `name=` and the next `|` of a line built as `name=%(x)s|…`.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!("|{name}="))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 2;
    let end = line[start..].find('|').map_or(line.len(), |i| start + i);
    &line[start..end]
}

#[test]
fn every_atom_family_in_a_custom_format() {
    let format = [
        // the client and who it is
        "h=%(h)s",
        "l=%(l)s",
        "u=%(u)s",
        "p=%(p)s",
        // the request
        "r=%(r)s",
        "m=%(m)s",
        "U=%(U)s",
        "q=%(q)s",
        "H=%(H)s",
        // the response
        "s=%(s)s",
        "B=%(B)s",
        "b=%(b)s",
        // the time it took, and when
        "T=%(T)s",
        "D=%(D)s",
        "M=%(M)s",
        "L=%(L)s",
        "t=%(t)s",
        // headers in and out, the environ
        "f=%(f)s",
        "a=%(a)s",
        "i=%({X-Request-Id}i)s",
        "o=%({Content-Type}o)s",
        "e=%({wsgi.url_scheme}e)s",
        "E=%({REMOTE_ADDR}e)s",
        "none=%({x-absent}i)s",
        "unknown=%(zz)s",
        "pad=%(s)6s",
        "left=%(s)-6s",
    ]
    .join("|");
    let format = format!("|{format}|end");
    let server = pyrite()
        .access_log()
        .args(&[
            "--access-logformat",
            &format,
            "--forwarded-allow-ips",
            "127.0.0.1",
        ])
        .app("hello")
        .start();
    let headers = [
        ("X-Request-Id", "req-42"),
        ("User-Agent", "agent/2"),
        ("Referer", "http://ref.test/"),
        // alice:secret
        ("Authorization", "Basic YWxpY2U6c2VjcmV0"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    assert_eq!(
        fetch(&server.addr, "GET", "/a%20b/c?x=1&y=2", &headers, b"").status,
        200
    );
    assert!(
        server.wait_for_stdout("|end\n", 1, WAIT),
        "{}",
        server.stdout()
    );
    let out = server.stdout();
    let line = out.lines().find(|l| l.ends_with("|end")).unwrap();
    let worker = server.worker_pids()[0];
    for (name, want) in [
        ("h", "203.0.113.9"),
        ("l", "-"),
        ("u", "alice"),
        ("p", &format!("<{worker}>")),
        ("r", "GET /a%20b/c?x=1&y=2 HTTP/1.1"),
        ("m", "GET"),
        ("U", "/a b/c"),
        ("q", "x=1&y=2"),
        ("H", "HTTP/1.1"),
        ("s", "200"),
        ("B", "14"),
        ("b", "14"),
        ("f", "http://ref.test/"),
        ("a", "agent/2"),
        ("i", "req-42"),
        ("o", "text/plain; charset=utf-8"),
        ("e", "http"),
        ("E", "203.0.113.9"),
        ("none", "-"),
        ("unknown", "-"),
        ("pad", "   200"),
        ("left", "200   "),
    ] {
        assert_eq!(field(line, name), want, "{name} in {line}");
    }
    let micros: u64 = field(line, "D").parse().expect(line);
    let millis: u64 = field(line, "M").parse().expect(line);
    let seconds: u64 = field(line, "T").parse().expect(line);
    assert_eq!(millis, micros / 1000, "{line}");
    assert_eq!(seconds, micros / 1_000_000, "{line}");
    assert_eq!(
        field(line, "L"),
        format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000),
        "{line}"
    );
    let t = field(line, "t");
    assert!(
        t.starts_with('[') && t.ends_with(']') && t.len() == 28,
        "{line}"
    );
}

#[test]
fn json_lines_carry_the_formats_atoms() {
    let server = pyrite()
        .access_log()
        .args(&[
            "--access-log-json",
            "--access-logformat",
            "%(h)s %(r)s %(s)s %(B)s %(a)s %(D)s %({x-id}i)s",
        ])
        .app("hello")
        .start();
    let headers = [("User-Agent", "say \"hi\"\\"), ("X-Id", "j-1")];
    assert_eq!(
        fetch(&server.addr, "GET", "/json?q=1", &headers, b"").status,
        200
    );
    assert!(
        server.wait_for_stdout("}\n", 1, WAIT),
        "{}",
        server.stdout()
    );
    let out = server.stdout();
    let line = out.lines().find(|l| l.starts_with('{')).unwrap();
    let v = crate::support::json::parse(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v.at("h").str(), "127.0.0.1", "{line}");
    assert_eq!(v.at("r").str(), "GET /json?q=1 HTTP/1.1", "{line}");
    assert_eq!(v.at("s").num(), 200.0, "{line}");
    assert_eq!(v.at("B").num(), 14.0, "{line}");
    assert_eq!(v.at("a").str(), "say \"hi\"\\", "{line}");
    assert!(v.at("D").num() >= 0.0, "{line}");
    assert_eq!(v.at("{x-id}i").str(), "j-1", "{line}");
    assert_eq!(v.keys().len(), 7, "{line}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Sends numbered requests (built by `target`) until one of them shows up in `log`; returns
/// the number of the one that did.
fn probe_until_logged(
    addr: &str,
    log: &Path,
    target: impl Fn(usize) -> String,
    needle: impl Fn(usize) -> String,
) -> Option<usize> {
    for n in 0..100 {
        assert_eq!(get(addr, &target(n)).status, 200);
        if wait_file_contains(log, &needle(n), Duration::from_millis(100)) {
            return Some(n);
        }
    }
    None
}

#[test]
fn usr1_reopens_the_access_log_after_rotation() {
    let dir = tmpdir("usr1-access");
    let log = dir.join("access.log");
    let rotated = dir.join("access.log.1");
    let server = pyrite()
        .args(&[
            "--access-logfile",
            log.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .start();
    assert_eq!(get(&server.addr, "/before-rotation").status, 200);
    assert!(
        wait_file_contains(&log, "/before-rotation", WAIT),
        "no access line in {}: {:?}",
        log.display(),
        read(&log)
    );
    assert!(
        !server.stdout().contains("/before-rotation"),
        "access line went to stdout despite --access-logfile"
    );
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    let hit = probe_until_logged(
        &server.addr,
        &log,
        |n| format!("/after-rotation-{n}"),
        |n| format!("/after-rotation-{n} "),
    );
    assert!(
        hit.is_some(),
        "no access line reached a new {} after USR1; rotated file:\n{}",
        log.display(),
        read(&rotated)
    );
    // From now on every line goes to the new file.
    for i in 0..5 {
        assert_eq!(get(&server.addr, &format!("/settled-{i}")).status, 200);
    }
    assert!(wait_file_contains(&log, "/settled-4 ", WAIT));
    let (new, old) = (read(&log), read(&rotated));
    for i in 0..5 {
        assert!(new.contains(&format!("/settled-{i} ")), "{new}");
        assert!(!old.contains(&format!("/settled-{i} ")), "{old}");
    }
    assert!(old.contains("/before-rotation"));
    assert!(!new.contains("/before-rotation"));
}

#[test]
fn usr1_reopens_the_error_log_in_master_and_workers() {
    let dir = tmpdir("usr1-error");
    let log = dir.join("error.log");
    let rotated = dir.join("error.log.1");
    let mut server = pyrite()
        .args(&[
            "--error-logfile",
            log.to_str().unwrap(),
            "--pythonpath",
            &apps_dir(),
            "supervised",
        ])
        .spawn();
    assert!(
        wait_file_contains(&log, "booted worker pid=", STARTUP_TIMEOUT),
        "no worker boot logged to {}: {:?}\nstderr: {}",
        log.display(),
        read(&log),
        server.stderr()
    );
    let text = read(&log);
    let addr = text
        .lines()
        .find_map(|l| l.split(LISTENING).nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|a| a.trim_matches('"').to_string())
        .expect("no listening line in the error log");
    let worker: i32 = text
        .split("booted worker pid=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .expect("worker pid");

    // A worker line (wsgi.errors) before the rotation.
    assert_eq!(get(&addr, "/log?msg=marker-before-rotation").status, 200);
    assert!(wait_file_contains(&log, "marker-before-rotation", WAIT));

    std::fs::rename(&log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    // The existing worker's lines reach the new file...
    let hit = probe_until_logged(
        &addr,
        &log,
        |n| format!("/log?msg=marker-after-rotation-{n}-end"),
        |n| format!("marker-after-rotation-{n}-end"),
    );
    assert!(
        hit.is_some(),
        "the worker kept writing to the rotated file after USR1:\n{}",
        read(&rotated)
    );
    // ...and so do the master's: it logs the death of a worker.
    kill(worker, libc::SIGKILL);
    let exited = format!("worker exited pid={worker}");
    assert!(
        wait_file_contains(&log, &exited, WAIT),
        "the master kept writing to the rotated file after USR1:\nnew: {}\nold: {}",
        read(&log),
        read(&rotated)
    );
    assert!(
        wait_file_contains(&log, "booted worker pid=", WAIT),
        "the replacement worker's boot is not in the new file"
    );
    thread::sleep(Duration::from_millis(200));
    let old = read(&rotated);
    assert!(old.contains("marker-before-rotation"));
    assert!(old.contains(LISTENING));
    assert!(!old.contains(&exited), "{old}");
    assert_eq!(get(&addr, "/").status, 200);
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(WAIT).expect("master did not stop");
    assert_eq!(status.code(), Some(0));
}

/// `pyrite … 2>&1 | head -1`: the reader of both streams is gone once the server has booted.
/// Every line from then on (access lines, a worker's death and replacement, USR1, TTIN, the
/// stop) meets a closed pipe; the master must neither panic nor stop serving. The timeouts are
/// the largest a flag takes, 2^64 − 1 seconds, which must not overflow either.
#[test]
fn a_log_reader_that_goes_away_stops_nothing() {
    let forever = u64::MAX.to_string();
    let mut server = pyrite()
        .args(&[
            "-w",
            "2",
            "--timeout",
            &forever,
            "--graceful-timeout",
            &forever,
        ])
        .app("supervised")
        .hang_up_logs()
        .start();
    let pid_answering = |addr: &str| {
        let r = get(addr, "/");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json().at("pid").num() as i32
    };
    for _ in 0..20 {
        pid_answering(&server.addr);
    }
    // The master logs a dead worker and boots its replacement: lines nobody reads.
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2);
    kill(workers[0], libc::SIGKILL);
    assert!(
        eventually(WAIT, || {
            let now = children_of(server.pid());
            now.len() == 2 && !now.contains(&workers[0])
        }),
        "the killed worker was not replaced: {:?}",
        children_of(server.pid())
    );
    server.signal(libc::SIGUSR1);
    server.signal(libc::SIGTTIN);
    for _ in 0..20 {
        pid_answering(&server.addr);
    }
    let status = server.terminate().expect("the master stops on TERM");
    assert_eq!(status.code(), Some(0), "{status:?} (101 is a panic)");
}
