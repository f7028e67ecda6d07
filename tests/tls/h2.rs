//! HTTP/2 behind the same service as HTTP/1.1, with real clients: curl (ALPN and prior
//! knowledge), httpx, and the `h2` package (`tests/h2/h2tool.py`): the app's environ, request
//! bodies larger than the flow-control windows, generators and `wsgi.file_wrapper`, static
//! files with ranges, conditional requests and precompressed siblings, the access log, the
//! header limits, `--threads`, `--http 1`, and a graceful stop that lets a stream finish.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use super::{plain_server, tls_server};
use crate::support::tls::{cert, h2_script, python};
use crate::support::{pyrite, Value, WAIT};

/// Runs `h2tool.py ADDR [--tls] ARGS…` to its end; its last line, parsed.
pub fn h2tool(addr: &str, tls: bool, args: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(h2_script("h2tool.py")).arg(addr);
    if tls {
        cmd.arg("--tls");
    }
    let out = cmd.args(args).output().expect("run h2tool.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "h2tool.py {args:?} printed nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    json(last)
}

/// `h2tool.py ADDR ARGS…` running beside the test: what it says line by line, then its result.
pub struct Session {
    tool: Child,
    out: BufReader<ChildStdout>,
}

impl Session {
    pub fn start(addr: &str, args: &[&str]) -> Session {
        let mut tool = Command::new(python())
            .arg(h2_script("h2tool.py"))
            .arg(addr)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("h2tool.py");
        let out = BufReader::new(tool.stdout.take().expect("piped"));
        Session { tool, out }
    }

    /// The next line it prints, trimmed.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("h2tool.py output");
        line.trim().to_owned()
    }

    /// Its last line, parsed, once it has ended.
    pub fn result(mut self) -> Value {
        let line = self.line();
        self.tool.wait().expect("h2tool.py exit");
        json(&line)
    }
}

pub fn json(text: &str) -> Value {
    crate::support::json::parse(text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--cacert", &cert("ca.pem")])
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

#[test]
fn curl_prior_knowledge_and_alpn() {
    let plain = plain_server(&[]);
    let out = curl(&[
        "--http2-prior-knowledge",
        "-w",
        "\n%{http_version}",
        &format!("http://{}/", plain.addr),
    ]);
    assert_eq!(out, "hello\n2");
    let out = curl(&[
        "-w",
        "\n%{http_version}",
        &format!("http://{}/", plain.addr),
    ]);
    assert_eq!(out, "hello\n1.1", "HTTP/1.1 on the same listener");
    let tls = tls_server(&[]);
    let url = format!("https://localhost:{}/env", port(&tls.addr));
    let env = json(&curl(&["--http2", &url]));
    assert_eq!(env.at("SERVER_PROTOCOL").str(), "HTTP/2");
    assert_eq!(env.at("wsgi.url_scheme").str(), "https");
    assert_eq!(
        env.at("HTTP_HOST").str(),
        format!("localhost:{}", port(&tls.addr))
    );
}

#[test]
fn the_preface_and_a_request_are_told_apart_however_they_trickle_in() {
    use std::io::{Read, Write};
    let plain = plain_server(&[]);
    // What the server sends first, once `pieces` went out a tenth of a second apart.
    let first_bytes = |pieces: &[&[u8]]| {
        let mut conn = std::net::TcpStream::connect(&plain.addr).unwrap();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        for piece in pieces {
            conn.write_all(piece).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let mut got = [0u8; 12];
        conn.read_exact(&mut got).unwrap();
        got
    };
    // The preface split after its second byte, then an empty SETTINGS frame: HTTP/2, whose
    // server speaks first with a SETTINGS frame (type 4, on stream 0).
    let got = first_bytes(&[
        b"PR",
        b"I * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        &[0, 0, 0, 4, 0, 0, 0, 0, 0],
    ]);
    assert_eq!(got[3], 4, "a SETTINGS frame, not {got:?}");
    assert_eq!(&got[5..9], &[0, 0, 0, 0]);
    // A request whose method begins as the preface does, its first byte alone: HTTP/1.1.
    let got = first_bytes(&[
        b"P",
        b"OST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ]);
    assert_eq!(&got, b"HTTP/1.1 200");
    let got = first_bytes(&[b"PRX", b" / HTTP/1.1\r\nHost: x\r\n\r\n"]);
    assert_eq!(&got, b"HTTP/1.1 200");
}

#[test]
fn http1_only_offers_no_h2() {
    let tls = tls_server(&["--http", "1"]);
    let url = format!("https://localhost:{}/", port(&tls.addr));
    assert_eq!(
        curl(&["--http2", "-w", "\n%{http_version}", &url]),
        "hello\n1.1"
    );
    let plain = plain_server(&["--http", "1"]);
    let out = crate::support::exchange(&plain.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_eq!(out.status(), 505);
}

#[test]
fn httpx_speaks_h2_over_tls() {
    let server = tls_server(&[]);
    let script = format!(
        "import httpx, json\n\
         with httpx.Client(http2=True, verify={ca:?}) as c:\n\
         \x20   r = c.get('https://localhost:{port}/env')\n\
         \x20   p = c.post('https://localhost:{port}/echo', content=b'y' * 300000)\n\
         print(json.dumps({{'version': r.http_version, 'proto': r.json()['SERVER_PROTOCOL'], 'echo': p.json()['length']}}))",
        ca = cert("ca.pem"),
        port = port(&server.addr),
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .output()
        .expect("httpx");
    let result = json(String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(result.at("version").str(), "HTTP/2");
    assert_eq!(result.at("proto").str(), "HTTP/2");
    assert_eq!(result.at("echo").num(), 300000.0);
}

#[test]
fn request_bodies_past_the_windows_and_streamed_responses() {
    let server = tls_server(&[]);
    // 3 MB: past the stream (1 MiB) and connection (2 MiB) windows, granted as the body is read.
    let echo = h2tool(
        &server.addr,
        true,
        &[
            "request",
            "/echo",
            "--method",
            "POST",
            "--body-bytes",
            "3000000",
        ],
    );
    assert_eq!(echo.at("status").num(), 200.0);
    let body = json(echo.at("body").str());
    assert_eq!(body.at("length").num(), 3_000_000.0);
    let generated = h2tool(&server.addr, true, &["request", "/gen"]);
    let expected: String = (0..20)
        .map(|i| format!("chunk-{i:02}|").repeat(i + 1))
        .collect();
    assert_eq!(generated.at("body").str(), expected);
    let wrapped = h2tool(&server.addr, true, &["request", "/file"]);
    let source = std::fs::read_to_string(crate::support::app_path("tls_app.py")).unwrap();
    assert_eq!(wrapped.at("body").str(), source);
}

#[test]
fn a_yielded_block_reaches_the_client_before_the_next_is_asked_for() {
    for tls in [false, true] {
        let server = if tls {
            tls_server(&[])
        } else {
            plain_server(&[])
        };
        let gate = crate::support::tmpdir("h2-gate").join("open");
        let result = h2tool(&server.addr, tls, &["gate", &gate.to_string_lossy()]);
        assert_eq!(result.at("body").str(), "firstsecond", "tls: {tls}");
    }
}

#[test]
fn static_files_over_h2_with_ranges_validators_and_precompressed_siblings() {
    let root = crate::support::tmpdir("h2-static");
    std::fs::write(root.join("a.txt"), "0123456789abcdef").unwrap();
    std::fs::write(root.join("a.txt.gz"), b"\x1f\x8bfake gzip").unwrap();
    let server = pyrite()
        .args(&crate::support::tls::tls_args())
        .args(&["--docroot", &root.to_string_lossy()])
        .start();
    let whole = h2tool(&server.addr, true, &["request", "/a.txt"]);
    assert_eq!(whole.at("status").num(), 200.0);
    assert_eq!(whole.at("body").str(), "0123456789abcdef");
    assert_eq!(whole.at("headers").at("content-length").str(), "16");
    let etag = whole.at("headers").at("etag").str().to_string();
    let range = h2tool(
        &server.addr,
        true,
        &["request", "/a.txt", "--header", "range:bytes=2-5"],
    );
    assert_eq!(range.at("status").num(), 206.0);
    assert_eq!(range.at("body").str(), "2345");
    assert_eq!(
        range.at("headers").at("content-range").str(),
        "bytes 2-5/16"
    );
    let cached = h2tool(
        &server.addr,
        true,
        &[
            "request",
            "/a.txt",
            "--header",
            &format!("if-none-match:{etag}"),
        ],
    );
    assert_eq!(cached.at("status").num(), 304.0);
    assert_eq!(cached.at("body_len").num(), 0.0);
    let gz = h2tool(
        &server.addr,
        true,
        &["request", "/a.txt", "--header", "accept-encoding:gzip"],
    );
    assert_eq!(gz.at("headers").at("content-encoding").str(), "gzip");
    assert_eq!(gz.at("body").str(), "\u{1f}\u{8b}fake gzip");
}

#[test]
fn the_access_log_shows_http2() {
    let server = plain_server(&["--access-logfile", "-"]);
    let out = curl(&[
        "--http2-prior-knowledge",
        &format!("http://{}/", server.addr),
    ]);
    assert_eq!(out, "hello");
    assert!(
        server.wait_for_stdout("\"GET / HTTP/2.0\" 200 5", 1, WAIT),
        "{}",
        server.stdout()
    );
}

#[test]
fn request_limits_apply_over_h2() {
    let server = plain_server(&["--limit-request-field-size", "1000"]);
    let long = format!("x-long:{}", "v".repeat(2000));
    let refused = h2tool(&server.addr, false, &["request", "/", "--header", &long]);
    assert_eq!(refused.at("status").num(), 431.0);
    let path = format!("/{}", "p".repeat(5000));
    let refused = h2tool(&server.addr, false, &["request", &path]);
    assert_eq!(refused.at("status").num(), 414.0);
    let limited = plain_server(&["--limit-request-body", "1000"]);
    let refused = h2tool(
        &limited.addr,
        false,
        &[
            "request",
            "/echo",
            "--method",
            "POST",
            "--body-bytes",
            "5000",
        ],
    );
    assert_eq!(refused.at("status").num(), 413.0);
    // The connection-level limit: the whole header list (the h2 crate answers 431 itself).
    let small = plain_server(&["--http2-max-header-list-size", "4096"]);
    let big = format!("x-big:{}", "v".repeat(6000));
    let refused = h2tool(&small.addr, false, &["request", "/", "--header", &big]);
    assert_eq!(refused.at("status").num(), 431.0);
}

#[test]
fn the_thread_pool_answers_streams_side_by_side() {
    let server = pyrite().args(&["--threads", "4"]).app("pooled").start();
    let result = h2tool(
        &server.addr,
        false,
        &["parallel", "/sleep?s=0.3", "--count", "4"],
    );
    let bodies: Vec<&str> = result.at("bodies").arr().iter().map(Value::str).collect();
    assert!(bodies.iter().all(|b| b.ends_with(" True")), "{bodies:?}");
    let threads: std::collections::HashSet<&str> =
        bodies.iter().filter_map(|b| b.split(' ').next()).collect();
    assert!(
        threads.len() > 1,
        "one thread answered every stream: {bodies:?}"
    );
}

#[test]
fn a_graceful_stop_lets_a_stream_finish_and_says_goaway() {
    let mut server = plain_server(&[]);
    let mut tool = Session::start(&server.addr, &["graceful", "/sleep?s=1"]);
    assert_eq!(tool.line(), "sent");
    assert!(server.wait_for_stderr("tls app: sleep started", 1, WAIT));
    server.signal(libc::SIGTERM);
    let result = tool.result();
    assert_eq!(result.at("status").num(), 200.0);
    assert_eq!(result.at("body").str(), "slept");
    assert_eq!(result.at("goaway").str(), "NO_ERROR");
    assert_eq!(server.expect_exit(WAIT, "SIGTERM").code(), Some(0));
}

/// A drain (`--drain-timeout`) sends an idle HTTP/2 connection a GOAWAY at once, as HTTP/1.1
/// closes after its response; new connections are still taken and served while it lasts.
#[test]
fn a_drain_sends_goaway_to_an_idle_connection_and_still_serves_new_ones() {
    let mut server = plain_server(&["--drain-timeout", "3"]);
    let mut tool = Session::start(&server.addr, &["idle-goaway", "/"]);
    assert_eq!(tool.line(), "served");
    server.signal(libc::SIGTERM);
    let idle = tool.result();
    assert_eq!(idle.at("status").num(), 200.0);
    assert_eq!(idle.at("goaway").str(), "NO_ERROR");
    // Still within the drain: a new connection is served.
    let fresh = h2tool(&server.addr, false, &["request", "/"]);
    assert_eq!(fresh.at("status").num(), 200.0);
    assert_eq!(server.expect_exit(WAIT, "SIGTERM").code(), Some(0));
}

#[test]
fn a_stalled_request_body_times_out() {
    let server = plain_server(&["--body-timeout", "1"]);
    let result = h2tool(&server.addr, false, &["stalled-body", "/echo"]);
    assert_eq!(result.at("status").num(), 408.0);
}
