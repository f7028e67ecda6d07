//! gunicorn's own request corpus (`tests/corpus/gunicorn`, its `tests/requests/`): every case
//! is sent to pyrite as raw bytes, then half-closed. An invalid case must be refused (an error
//! status, or the connection closed without a response) without reaching the app; a valid
//! case must reach the app as gunicorn parses it (method, RAW_URI, PATH_INFO, query, body).
//! gunicorn's configuration becomes pyrite's flags where there is one; the cases where pyrite
//! differs on purpose are listed in `DIFFERENT`, with the reason, and checked to still differ.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::Shutdown;
use std::path::PathBuf;
use std::process::Command;

use crate::support::{json, manifest_dir, pyrite, CallLog, Conn, Response, Server, Value};

/// Cases pyrite answers differently from gunicorn 27, on purpose (besides HTTP/1.1 requests
/// without `Host`, which RFC 9112 §3.2 says a server MUST refuse with 400: see `lacks_host`).
const DIFFERENT: &[(&str, &str)] = &[
    (
        "valid/compat_obs_fold",
        "obs-fold is always refused (RFC 9112 §5.2)",
    ),
    (
        "valid/compat_obs_fold_huge",
        "obs-fold is always refused (RFC 9112 §5.2)",
    ),
    (
        "valid/028",
        "whitespace before the colon is always refused (RFC 9112 §5.1)",
    ),
    (
        "valid/099",
        "the case's body is shorter than its Content-Length: cut short",
    ),
    (
        "valid/pp_03",
        "with --proxy-protocol a trusted peer must send the PROXY header",
    ),
    (
        "valid/rfc9112_smuggle_gzip_chunked_01",
        "no transfer coding but chunked: 501",
    ),
    (
        "valid/rfc9112_smuggle_te_identity_chunked_01",
        "no transfer coding but chunked: 501",
    ),
    (
        "valid/rfc9112_target_absolute_userinfo_01",
        "userinfo in an http URI is an error (RFC 9110 §4.2.4)",
    ),
    (
        "valid/rfc9112_target_authority_connect_01",
        "CONNECT: pyrite is not a proxy (405)",
    ),
    (
        "valid/rfc9112_target_authority_ipv6_01",
        "CONNECT: pyrite is not a proxy (405)",
    ),
    (
        "invalid/008",
        "limits count a line without its CRLF (8189 bytes pass 8190)",
    ),
    (
        "invalid/012",
        "limits count a line without its CRLF (97 bytes pass 98)",
    ),
    (
        "invalid/limit_header_default_01",
        "--limit-request-field-size 0 means unlimited",
    ),
    (
        "invalid/rfc9112_leading_crlf_02",
        "up to 4 empty lines before a request are ignored (RFC 9112 §2.2)",
    ),
    // Names with `_` are dropped (gunicorn's default `header_map = drop`), never refused.
    (
        "invalid/040",
        "a header name with `_` is dropped, as gunicorn's default does",
    ),
];

/// What one case did.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Answered by the app as gunicorn parses it.
    Served,
    /// Refused before the app: the statuses sent (none: closed without a response).
    Refused(Vec<u16>),
    /// Something else: what.
    Other(String),
}

#[test]
fn gunicorn_request_corpus() {
    let corpus = manifest_dir().join("tests/corpus/gunicorn");
    let expectations = expectations(&corpus);
    let mut servers: BTreeMap<Vec<String>, (Server, CallLog)> = BTreeMap::new();
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (name, case) in expectations.iter() {
        let kind = if name.starts_with("valid/") {
            "valid"
        } else {
            "invalid"
        };
        let raw = std::fs::read(corpus.join(format!("{name}.http"))).unwrap();
        let flags = flags(case.at("cfg"));
        let (server, calls) = servers.entry(flags.clone()).or_insert_with(|| {
            let calls = CallLog::new();
            let server = pyrite()
                .env(CallLog::ENV, calls.path())
                .args(&[
                    "--keep-alive",
                    "2",
                    "--header-timeout",
                    "2",
                    "--body-timeout",
                    "2",
                ])
                .args(&flags)
                .app("corpus_echo")
                .start();
            (server, calls)
        });
        let before = calls.count();
        let responses = send(&server.addr, &decode(&raw));
        let called = calls.count() - before;
        let outcome = judge(case, &responses, called);
        let different = DIFFERENT.iter().any(|(n, _)| n == name) || lacks_host(case);
        let expected_served = (kind == "valid") != different;
        let as_expected = match &outcome {
            Outcome::Served => expected_served,
            Outcome::Refused(_) => !expected_served,
            Outcome::Other(_) => false,
        };
        let seen = match outcome {
            Outcome::Served => "served",
            Outcome::Refused(_) => "refused",
            Outcome::Other(_) => "other",
        };
        *counts.entry((kind, seen)).or_default() += 1;
        if !as_expected {
            wrong.push(format!("{name}: {outcome:?} (flags {flags:?})"));
        }
    }
    eprintln!(
        "gunicorn corpus against pyrite: {counts:?}; differences on purpose: {}",
        DIFFERENT.len()
    );
    assert!(
        wrong.is_empty(),
        "{} cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// What `tests/apps/corpus_expect.py` reads from the corpus's `.py` files.
fn expectations(corpus: &PathBuf) -> BTreeMap<String, Value> {
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/apps/corpus_expect.py"))
        .arg(corpus)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match json::parse(&String::from_utf8(out.stdout).unwrap()).unwrap() {
        Value::Obj(map) => map,
        other => panic!("{other:?}"),
    }
}

/// gunicorn's settings as pyrite's flags; settings with no pyrite twin are left out (the case
/// then shows what pyrite's fixed behaviour does with it).
fn flags(cfg: &Value) -> Vec<String> {
    let Value::Obj(settings) = cfg else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in settings {
        let value = match value {
            Value::Num(n) => (*n as u64).to_string(),
            Value::Str(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            other => panic!("{other:?}"),
        };
        match key.as_str() {
            "limit_request_line" | "limit_request_fields" | "limit_request_field_size" => {
                out.push(format!("--{}", key.replace('_', "-")));
                out.push(value);
            }
            "forwarded_allow_ips" => {
                out.push("--forwarded-allow-ips".into());
                out.push(value);
            }
            "proxy_protocol" if value == "true" => out.push("--proxy-protocol".into()),
            _ => {}
        }
    }
    out
}

/// The `.http` notation as bytes (gunicorn's `tests/treq.py`).
fn decode(raw: &[u8]) -> Vec<u8> {
    let text: Vec<u8> = raw.iter().copied().filter(|&b| b != b'\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let (bytes, used): (Vec<u8>, usize) = match rest {
            [b'\\', b'r', b'\\', b'n', ..] => (b"\r\n".to_vec(), 4),
            [b'\\', b'0', ..] => (vec![0], 2),
            [b'\\', b'n', ..] => (vec![b'\n'], 2),
            [b'\\', b't', ..] => (vec![b'\t'], 2),
            [b'\\', b'x', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&rest[2..4]).unwrap();
                (vec![u8::from_str_radix(hex, 16).unwrap()], 4)
            }
            [b, ..] => (vec![*b], 1),
            [] => unreachable!(),
        };
        out.extend(bytes);
        i += used;
    }
    out
}

/// Sends `bytes`, half-closes, and reads every response until the server closes.
fn send(addr: &str, bytes: &[u8]) -> Vec<Response> {
    let mut conn = Conn::connect(addr);
    let _ = conn.try_send(bytes);
    let _ = conn.stream().shutdown(Shutdown::Write);
    let mut all = Vec::new();
    let _ = conn.read_to_end(&mut all);
    let mut responses = Vec::new();
    let mut cursor = std::io::Cursor::new(&all[..]);
    while (cursor.position() as usize) < all.len() {
        match crate::support::response::read_response(&mut cursor, false) {
            Ok(r) => responses.push(r),
            Err(_) => break,
        }
    }
    responses
}

/// A valid case with an HTTP/1.1 request that has no `Host`.
fn lacks_host(case: &Value) -> bool {
    case.get("requests").is_some_and(|requests| {
        requests.arr().iter().any(|r| {
            r.at("version").str() == "1.1"
                && !r
                    .at("headers")
                    .arr()
                    .iter()
                    .any(|h| h.arr()[0].str() == "HOST")
        })
    })
}

fn judge(case: &Value, responses: &[Response], called: usize) -> Outcome {
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    let answered = statuses.iter().filter(|&&s| s < 400).count();
    // Refused: the last request got an error (or nothing), and it never reached the app.
    let refused = statuses.last().is_none_or(|&s| s >= 400) && called == answered;
    let Some(expected) = case.get("requests") else {
        return match refused {
            true => Outcome::Refused(statuses),
            false if statuses.iter().all(|&s| s == 200) => Outcome::Served,
            false => Outcome::Other(format!("app called {called} times, statuses {statuses:?}")),
        };
    };
    let expected = expected.arr();
    if refused {
        return Outcome::Refused(statuses);
    }
    if responses.len() != expected.len() {
        return Outcome::Other(format!(
            "{} responses for {} requests",
            responses.len(),
            expected.len()
        ));
    }
    for (r, want) in responses.iter().zip(expected) {
        if r.status != 200 {
            return Outcome::Other(format!("status {}: {}", r.status, r.text()));
        }
        let got = r.json();
        let uri = want.at("uri");
        let checks = [
            (
                "method",
                got.at("method").str(),
                want.at("method").str().to_string(),
            ),
            (
                "RAW_URI",
                got.at("raw_uri").str(),
                uri.at("raw").str().to_string(),
            ),
            (
                "PATH_INFO",
                got.at("path").str(),
                percent_decoded(uri.at("path").str()),
            ),
            (
                "QUERY_STRING",
                got.at("query").str(),
                uri.at("query").str().to_string(),
            ),
            (
                "body",
                got.at("body").str(),
                want.at("body").str().to_string(),
            ),
        ];
        for (what, got, want) in checks {
            if got != want {
                return Outcome::Other(format!("{what}: {got:?}, gunicorn {want:?}"));
            }
        }
    }
    Outcome::Served
}

/// `%XX` decoded, as latin-1 text (how PEP 3333 passes PATH_INFO).
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(Ok(value))) = (bytes[i], hex.map(|h| u8::from_str_radix(h, 16))) {
            out.push(char::from(value));
            i += 3;
            continue;
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}
