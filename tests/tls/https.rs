//! HTTPS over HTTP/1.1: handshakes (TLS 1.3 and 1.2, every key kind), `wsgi.url_scheme`, the
//! environ's TLS keys, client certificates (none, optional, required), a TLS and a plain
//! listener together, renewal on HUP, and bad flags or files refused at start.

use std::path::PathBuf;

use super::{client_auth_server, tls_server};
use crate::support::tls::{cert, server_cn, Client};
use crate::support::{pyrite, Server, Value, WAIT};

fn env(conn: &mut crate::support::Conn<crate::support::tls::TlsStream>) -> Value {
    let response = conn.get("/env");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

#[test]
fn https_over_tls13_and_tls12_says_https_to_the_app() {
    let server = tls_server(&[]);
    let mut conn = Client::default().conn(&server.addr);
    let env13 = env(&mut conn);
    assert_eq!(env13.at("wsgi.url_scheme").str(), "https");
    assert_eq!(env13.at("HTTPS").str(), "on");
    assert_eq!(env13.at("SSL_PROTOCOL").str(), "TLSv1.3");
    assert_eq!(env13.at("SERVER_PROTOCOL").str(), "HTTP/1.1");
    assert_eq!(env13.at("SSL_CLIENT_VERIFY").str(), "NONE");
    // The connection persists: a second request on it.
    assert_eq!(conn.get("/").text(), "hello");
    let tls12 = Client {
        tls12: true,
        ..Client::default()
    };
    let env12 = env(&mut tls12.conn(&server.addr));
    assert_eq!(env12.at("SSL_PROTOCOL").str(), "TLSv1.2");
    assert!(env12.at("SSL_CIPHER").str().starts_with("TLS_ECDHE_"));
}

#[test]
fn rsa_and_ed25519_keys_serve() {
    for name in ["server-rsa", "server-ed25519"] {
        let server = pyrite()
            .args(&[
                "--certfile",
                &cert(&format!("{name}.pem")),
                "--keyfile",
                &cert(&format!("{name}.key")),
            ])
            .app("tls_app")
            .start();
        let mut conn = Client::default().conn(&server.addr);
        assert_eq!(conn.get("/").text(), "hello", "{name}");
    }
}

#[test]
fn a_tls_and_a_plain_listener_serve_side_by_side() {
    let server = pyrite()
        .args(&[
            "--certfile",
            &cert("server.pem"),
            "--keyfile",
            &cert("server.key"),
        ])
        .args(&["-b", "https://127.0.0.1:0", "-b", "127.0.0.1:0"])
        .app("tls_app")
        .start();
    assert!(server
        .stderr()
        .contains(&format!("addr={} tls=true", server.addrs[0])));
    assert!(server
        .stderr()
        .contains(&format!("addr={} tls=false", server.addrs[1])));
    let port = |addr: &str| addr.rsplit(':').next().unwrap().to_owned();
    // Each request's own host and port, whichever listener the one before came through (a
    // plain request's environ keeps the values of the one before when they repeat; all these
    // requests say `Host: localhost`).
    let plain = crate::support::get(&server.addrs[1], "/env").json();
    assert_eq!(plain.at("SERVER_PORT").str(), port(&server.addrs[1]));
    let tls = env(&mut Client::default().conn(&server.addrs[0]));
    assert_eq!(tls.at("wsgi.url_scheme").str(), "https");
    assert_eq!(tls.at("SERVER_PORT").str(), port(&server.addrs[0]));
    assert_eq!(tls.at("HTTP_HOST").str(), "localhost");
    assert_eq!(tls.at("SERVER_NAME").str(), "localhost");
    let plain = crate::support::get(&server.addrs[1], "/env").json();
    assert_eq!(plain.at("wsgi.url_scheme").str(), "http");
    assert!(plain.get("HTTPS").is_none());
    assert_eq!(plain.at("SERVER_PORT").str(), port(&server.addrs[1]));
    assert_eq!(plain.at("HTTP_HOST").str(), "localhost");
}

#[test]
fn client_certificates_reach_the_environ() {
    let server = client_auth_server("required");
    let alice = Client {
        identity: Some("client.pem"),
        ..Client::default()
    };
    let env = env(&mut alice.conn(&server.addr));
    assert_eq!(env.at("SSL_CLIENT_VERIFY").str(), "SUCCESS");
    assert_eq!(
        env.at("SSL_CLIENT_S_DN").str(),
        "CN=alice,O=Pyrite Test,C=US"
    );
    assert_eq!(
        env.at("SSL_CLIENT_I_DN").str(),
        "CN=Pyrite Test CA,O=Pyrite Test"
    );
    let pem = std::fs::read_to_string(cert("client.pem")).unwrap();
    assert_eq!(env.at("SSL_CLIENT_CERT").str(), pem);
    // Without a certificate, or with one from another CA: no request gets through.
    for client in [
        Client::default(),
        Client {
            identity: Some("stranger.pem"),
            ..Client::default()
        },
    ] {
        let refused = client.connect(&server.addr).and_then(|stream| {
            let mut conn = crate::support::Conn::wrap(stream);
            conn.try_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
            conn.try_read_response(false)
        });
        assert!(
            refused.is_err(),
            "served without a valid client certificate"
        );
    }
}

#[test]
fn optional_client_certificates() {
    let server = client_auth_server("optional");
    let none = env(&mut Client::default().conn(&server.addr));
    assert_eq!(none.at("SSL_CLIENT_VERIFY").str(), "NONE");
    assert!(none.get("SSL_CLIENT_S_DN").is_none());
    let alice = Client {
        identity: Some("client.pem"),
        ..Client::default()
    };
    let with = env(&mut alice.conn(&server.addr));
    assert_eq!(
        with.at("SSL_CLIENT_S_DN").str(),
        "CN=alice,O=Pyrite Test,C=US"
    );
}

/// A server whose certificate and key are copies in a directory of their own (tests replace
/// them): the server, and the paths of the certificate and the key.
fn serving_a_copied_certificate(name: &str) -> (Server, PathBuf, PathBuf) {
    let dir = crate::support::tmpdir(name);
    let (pem, key) = (dir.join("cert.pem"), dir.join("cert.key"));
    std::fs::copy(cert("server.pem"), &pem).unwrap();
    std::fs::copy(cert("server.key"), &key).unwrap();
    let server = pyrite()
        .args(&[
            "--certfile",
            &pem.to_string_lossy(),
            "--keyfile",
            &key.to_string_lossy(),
        ])
        .app("tls_app")
        .start();
    (server, pem, key)
}

#[test]
fn a_renewed_certificate_is_served_after_hup_while_old_requests_finish() {
    let (server, pem, key) = serving_a_copied_certificate("renew");
    let old = Client::default().connect(&server.addr).unwrap();
    assert_eq!(server_cn(&old), "localhost");
    let mut old = crate::support::Conn::wrap(old);
    // A request in flight across the reload, on the old connection.
    old.send(b"GET /sleep?s=2 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(server.wait_for_stderr("tls app: sleep started", 1, WAIT));
    std::fs::copy(cert("server2.pem"), &pem).unwrap();
    std::fs::copy(cert("server2.key"), &key).unwrap();
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_stderr("reloaded the TLS certificates", 1, WAIT));
    assert!(server.wait_for_stderr("reload complete", 1, WAIT));
    let new = Client::default().connect(&server.addr).unwrap();
    assert_eq!(server_cn(&new), "localhost renewed");
    let response = old.read_response();
    assert_eq!((response.status, response.text().as_str()), (200, "slept"));
}

#[test]
fn a_bad_certificate_on_hup_keeps_the_current_one() {
    let (server, pem, _key) = serving_a_copied_certificate("renew-bad");
    std::fs::write(&pem, "not a certificate").unwrap();
    server.signal(libc::SIGHUP);
    assert!(server.wait_for_stderr("cannot reload the TLS certificates", 1, WAIT));
    assert!(server.wait_for_stderr("reload complete", 1, WAIT));
    let stream = Client::default().connect(&server.addr).unwrap();
    assert_eq!(server_cn(&stream), "localhost");
}

#[test]
fn bad_tls_flags_and_files_are_one_line_errors_with_exit_2() {
    let (pem, key, other_key) = (cert("server.pem"), cert("server.key"), cert("server2.key"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--certfile", "/nonexistent.pem", "--keyfile", &key],
            "--certfile '/nonexistent.pem'",
        ),
        (vec!["--certfile", &pem, "--keyfile", &pem], "--keyfile"),
        (
            vec!["--certfile", &key, "--keyfile", &key],
            "no PEM certificate",
        ),
        (
            vec!["--certfile", &pem, "--keyfile", &other_key],
            "--certfile and --keyfile do not go together",
        ),
        (vec!["--keyfile", &key], "need --certfile"),
        (vec!["-b", "https://127.0.0.1:0"], "needs --certfile"),
        (
            vec![
                "--certfile",
                &pem,
                "--keyfile",
                &key,
                "--cert-reqs",
                "required",
            ],
            "needs --ca-certs",
        ),
        (
            vec![
                "--certfile",
                &pem,
                "--keyfile",
                &key,
                "--cert-reqs",
                "maybe",
            ],
            "--cert-reqs 'maybe'",
        ),
        (vec!["--http", "3"], "--http '3'"),
        (
            vec!["--http2-max-frame-size", "100"],
            "--http2-max-frame-size",
        ),
        (
            vec![
                "-b",
                "https://unix:/tmp/x.sock",
                "--certfile",
                &pem,
                "--keyfile",
                &key,
            ],
            "--bind",
        ),
    ];
    for (args, needle) in cases {
        let exited = pyrite().args(&args).app("tls_app").run_to_exit(WAIT);
        assert_eq!(exited.code, Some(2), "{args:?}: {}", exited.stderr);
        let lines: Vec<&str> = exited.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {}", exited.stderr);
        assert!(lines[0].starts_with("pyrite: error: "), "{}", lines[0]);
        assert!(lines[0].contains(needle), "{args:?}: {}", lines[0]);
    }
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_closed() {
    let server = tls_server(&["--header-timeout", "1"]);
    let mut raw = crate::support::Conn::connect(&server.addr);
    // Half a ClientHello's record header, then nothing.
    raw.send(b"\x16\x03\x01");
    assert!(raw.closed_by_server());
    // Plain HTTP on a TLS listener is no request either.
    let mut plain = crate::support::Conn::connect(&server.addr);
    plain.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut plain, &mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "answered in plain HTTP");
}

#[test]
fn a_large_static_file_over_tls() {
    let (site, content) = crate::static_files::big_site("tls-big");
    let server = pyrite()
        .args(&crate::support::tls::tls_args())
        .args(&["--docroot", &site.to_string_lossy()])
        .start();
    let mut conn = Client::default().conn(&server.addr);
    let response = conn.get("/big.bin");
    assert_eq!(response.status, 200);
    assert!(response.body == content, "the file came back whole");
    let range = conn.roundtrip("GET", "/big.bin", &[("Range", "bytes=10-19")], b"");
    assert_eq!(range.status, 206);
    assert_eq!(range.body, content[10..20]);
}

#[test]
fn curl_speaks_https_over_http11_and_h2() {
    let server = tls_server(&[]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let url = format!("https://localhost:{port}/");
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "--cacert",
                &cert("ca.pem"),
                flag,
                "-w",
                "\n%{http_version}",
                &url,
            ])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(text, format!("hello\n{version}"), "{flag}");
    }
}
