//! Trusted proxies: `X-Forwarded-*` and RFC 7239 `Forwarded` set REMOTE_ADDR, wsgi.url_scheme
//! and HTTP_HOST only when the peer is in `--forwarded-allow-ips` (the tests connect from
//! 127.0.0.1, trusted by default); from any other peer they are plain headers. PROXY protocol
//! v1/v2 with `--proxy-protocol`.

use super::Echo;

fn env(server: &Echo, extra: &str) -> String {
    let request = format!("GET /env HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    env_raw(server, request.as_bytes())
}

fn env_raw(server: &Echo, request: &[u8]) -> String {
    let got = server.exchange(request);
    assert_eq!(got.status(), 200, "{}", got.text());
    got.text()
}

const XF: &str = "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: https\r\n\
                  X-Forwarded-Host: example.com\r\n";

#[test]
fn trusted_peer_sets_client_scheme_and_host() {
    let server = Echo::start(&[]);
    let out = env(&server, XF);
    assert!(out.contains("REMOTE_ADDR=203.0.113.5\n"), "{out}");
    assert!(out.contains("wsgi.url_scheme=https\n"), "{out}");
    assert!(out.contains("HTTP_HOST=example.com\n"), "{out}");
    assert!(out.contains("SERVER_NAME=example.com\n"), "{out}");
}

#[test]
fn untrusted_peer_headers_are_plain_headers() {
    let server = Echo::start(&["--forwarded-allow-ips", "10.9.9.9"]);
    let out = env(&server, XF);
    assert!(out.contains("REMOTE_ADDR=127.0.0.1\n"), "{out}");
    assert!(out.contains("wsgi.url_scheme=http\n"), "{out}");
    assert!(out.contains("HTTP_HOST=x\n"), "{out}");
    assert!(out.contains("HTTP_X_FORWARDED_FOR=203.0.113.5\n"), "{out}");
    let out = env(&server, "Forwarded: for=203.0.113.5;proto=https\r\n");
    assert!(out.contains("REMOTE_ADDR=127.0.0.1\n"), "{out}");
}

#[test]
fn any_peer_with_star() {
    let server = Echo::start(&["--forwarded-allow-ips", "*"]);
    assert!(env(&server, XF).contains("REMOTE_ADDR=203.0.113.5\n"));
}

#[test]
fn prepended_addresses_do_not_spoof_the_client() {
    let server = Echo::start(&[]);
    // The client wrote 6.6.6.6 itself; the trusted proxy appended the address it saw.
    let out = env(&server, "X-Forwarded-For: 6.6.6.6, 203.0.113.5\r\n");
    assert!(out.contains("REMOTE_ADDR=203.0.113.5\n"), "{out}");
}

#[test]
fn rfc7239_forwarded() {
    let server = Echo::start(&[]);
    let out = env(
        &server,
        "Forwarded: for=\"[2001:db8::7]:4711\";proto=https;host=shop.example\r\n",
    );
    assert!(out.contains("REMOTE_ADDR=2001:db8::7\n"), "{out}");
    assert!(out.contains("wsgi.url_scheme=https\n"), "{out}");
    assert!(out.contains("HTTP_HOST=shop.example\n"), "{out}");
}

const GET_ENV: &[u8] = b"GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

#[test]
fn proxy_protocol_v1_and_v2() {
    let server = Echo::start(&["--proxy-protocol"]);
    let mut v1 = b"PROXY TCP4 198.51.100.7 127.0.0.1 4000 80\r\n".to_vec();
    v1.extend_from_slice(GET_ENV);
    assert!(env_raw(&server, &v1).contains("REMOTE_ADDR=198.51.100.7\n"));

    let mut v2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend_from_slice(&[198, 51, 100, 8, 127, 0, 0, 1, 0x0f, 0xa0, 0, 80]);
    v2.extend_from_slice(GET_ENV);
    assert!(env_raw(&server, &v2).contains("REMOTE_ADDR=198.51.100.8\n"));

    // Forwarding headers from the client named by PROXY are not believed.
    let mut spoof = b"PROXY TCP4 198.51.100.7 127.0.0.1 4000 80\r\n".to_vec();
    spoof.extend_from_slice(
        b"GET /env HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\nConnection: close\r\n\r\n",
    );
    assert!(env_raw(&server, &spoof).contains("REMOTE_ADDR=198.51.100.7\n"));

    // Malformed or missing: closed without a response.
    for bad in [
        &b"PROXY TCP4 198.51.100.7 127.0.0.1 99999 80\r\n"[..],
        b"PROXY TCP9 a b c d\r\n",
        GET_ENV,
    ] {
        let mut request = bad.to_vec();
        request.extend_from_slice(GET_ENV);
        let got = server.exchange(&request);
        assert!(got.closed && got.bytes.is_empty(), "{}", got.text());
    }
    assert_eq!(server.app_calls(), 3);
}

#[test]
fn proxy_protocol_is_not_read_from_untrusted_peers() {
    let server = Echo::start(&["--proxy-protocol", "--forwarded-allow-ips", "10.9.9.9"]);
    let mut v1 = b"PROXY TCP4 198.51.100.7 127.0.0.1 4000 80\r\n".to_vec();
    v1.extend_from_slice(GET_ENV);
    assert_eq!(server.exchange(&v1).status(), 400);
    assert!(env_raw(&server, GET_ENV).contains("REMOTE_ADDR=127.0.0.1\n"));
}
