//! Strict request parsing (RFC 9112, RFC 9110): one test per rejection class. Each malformed
//! request must get its status with `Connection: close`, the connection must close, the app
//! must not be called, and a valid request pipelined behind it must never be answered.

use super::{case, check_accepted, check_rejections, Echo};

fn post(headers: &str, body: &str) -> String {
    format!("POST /echo HTTP/1.1\r\nHost: x\r\n{headers}\r\n{body}")
}

fn chunked(body: &str) -> String {
    post("Transfer-Encoding: chunked\r\n", body)
}

/// RFC 9112 §6.1, §6.3: Content-Length with Transfer-Encoding is a smuggling vector.
#[test]
fn content_length_with_transfer_encoding() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case(
                "cl-then-te",
                post(
                    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                    "5\r\nhello\r\n0\r\n\r\n",
                ),
                400,
            ),
            case(
                "te-then-cl",
                post(
                    "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                    "5\r\nhello\r\n0\r\n\r\n",
                ),
                400,
            ),
            case(
                "te-on-http10",
                "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                400,
            ),
        ],
    );
    assert_eq!(server.app_calls(), 0);
}

/// RFC 9112 §6.3, RFC 9110 §8.6: Content-Length is 1*DIGIT, once.
#[test]
fn bad_content_length() {
    let server = Echo::start(&[]);
    let cl = |value: &str| post(&format!("Content-Length: {value}\r\n"), "hello");
    check_rejections(
        &server,
        &[
            case(
                "cl-repeated",
                post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
                400,
            ),
            case(
                "cl-repeated-different",
                post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"),
                400,
            ),
            case("cl-list", cl("5, 5"), 400),
            case("cl-list-no-space", cl("5,5"), 400),
            case("cl-plus", cl("+5"), 400),
            case("cl-minus", cl("-5"), 400),
            case("cl-hex", cl("0x5"), 400),
            case("cl-trailing-junk", cl("5a"), 400),
            case("cl-inner-space", cl("5 5"), 400),
            case("cl-empty", cl(""), 400),
            case("cl-decimal", cl("5.0"), 400),
            case("cl-overflow", cl("99999999999999999999999"), 400),
            case("cl-underscore", cl("1_0"), 400),
        ],
    );
}

/// RFC 9112 §6.1, §6.3, §7: only `chunked`, once, as the final coding; other codings → 501.
#[test]
fn transfer_encoding_not_chunked() {
    let server = Echo::start(&[]);
    let body = "5\r\nhello\r\n0\r\n\r\n";
    let te = |value: &str| post(&format!("Transfer-Encoding: {value}\r\n"), body);
    check_rejections(
        &server,
        &[
            case("te-gzip", te("gzip"), 501),
            case("te-identity", te("identity"), 501),
            case("te-gzip-chunked", te("gzip, chunked"), 501),
            case("te-xchunked", te("xchunked"), 501),
            case("te-chunkedx", te("chunkedx"), 501),
            case("te-chunked-identity", te("chunked, identity"), 400),
            case("te-chunked-twice", te("chunked, chunked"), 400),
            case(
                "te-two-lines",
                post(
                    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                    body,
                ),
                400,
            ),
            case("te-nel-prefix", te("\u{85}chunked"), 400),
            case("te-latin1-prefix", te("\u{e9}chunked"), 400),
            case("te-vtab", te("chunked\x0b"), 400),
            case("te-formfeed", te("\x0cchunked"), 400),
            case("te-empty-element", te("chunked,"), 400),
            case("te-empty", te(""), 400),
            case("te-quoted", te("\"chunked\""), 400),
            case("te-params", te("chunked;q=1"), 400),
        ],
    );
}

/// RFC 9112 §7.1: chunk-size is 1*HEXDIG, lines end in CRLF, extensions are tokens.
#[test]
fn bad_chunked_framing() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("chunk-plus", chunked("+5\r\nhello\r\n0\r\n\r\n"), 400),
            case("chunk-minus", chunked("-5\r\nhello\r\n0\r\n\r\n"), 400),
            case("chunk-0x", chunked("0x5\r\nhello\r\n0\r\n\r\n"), 400),
            case(
                "chunk-leading-space",
                chunked(" 5\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-trailing-space",
                chunked("5 \r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-trailing-junk",
                chunked("5g\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case("chunk-empty-size", chunked("\r\nhello\r\n0\r\n\r\n"), 400),
            case(
                "chunk-overflow",
                chunked("10000000000000005\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-u64-max-plus",
                chunked("fffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-no-crlf-after-data",
                chunked("5\r\nhelloXX0\r\n\r\n"),
                400,
            ),
            case("chunk-lf-after-data", chunked("5\r\nhello\n0\r\n\r\n"), 400),
            case("chunk-bare-lf-size", chunked("5\nhello\r\n0\r\n\r\n"), 400),
            case("chunk-bare-cr-size", chunked("5\rhello\r\n0\r\n\r\n"), 400),
            case("chunk-last-bare-lf", chunked("5\r\nhello\r\n0\n\n"), 400),
            case(
                "chunk-missing-final-crlf",
                chunked("5\r\nhello\r\n0\r\nX"),
                400,
            ),
            case(
                "chunk-ext-ctl",
                chunked("5;a=\x01\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-ext-space-in-name",
                chunked("5;a b\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-ext-empty-name",
                chunked("5;\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case("chunk-ext-bare-lf", chunked("5;a\nhello\r\n0\r\n\r\n"), 400),
            case(
                "chunk-ext-non-ascii",
                chunked("5;\u{e9}\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
            case(
                "chunk-ext-bad-quote",
                chunked("5;a=\"x\r\nhello\r\n0\r\n\r\n"),
                400,
            ),
        ],
    );
    // Well-formed extensions (token and quoted-string values) are accepted and ignored.
    check_accepted(
        &server,
        "chunk-ext-ok",
        chunked("5;a=b;c=\"d e\"\r\nhello\r\n0\r\n\r\n").as_bytes(),
        "hello",
    );
}

/// RFC 9110 §6.5.1, RFC 9112 §7.1.2: a trailer must not carry framing, routing or other
/// fields that the head alone may hold.
#[test]
fn forbidden_trailer_fields() {
    let server = Echo::start(&[]);
    let with_trailer = |field: &str| chunked(&format!("5\r\nhello\r\n0\r\n{field}\r\n\r\n"));
    check_rejections(
        &server,
        &[
            case(
                "trailer-content-length",
                with_trailer("Content-Length: 5"),
                400,
            ),
            case(
                "trailer-transfer-encoding",
                with_trailer("Transfer-Encoding: chunked"),
                400,
            ),
            case("trailer-host", with_trailer("Host: evil"), 400),
            case(
                "trailer-content-type",
                with_trailer("Content-Type: text/x"),
                400,
            ),
            case(
                "trailer-authorization",
                with_trailer("Authorization: x"),
                400,
            ),
            case("trailer-expect", with_trailer("Expect: 100-continue"), 400),
            case("trailer-connection", with_trailer("Connection: close"), 400),
            case("trailer-obs-fold", with_trailer("X-A: b\r\n c"), 400),
            case("trailer-no-colon", with_trailer("garbage"), 400),
        ],
    );
    check_accepted(
        &server,
        "trailer-ok",
        with_trailer("X-Checksum: abc").as_bytes(),
        "hello",
    );
}

/// RFC 9112 §3: `method SP request-target SP HTTP-version CRLF`, single spaces, a token method.
#[test]
fn bad_request_line() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("double-space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case(
                "space-before-version",
                "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case("tab-separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("trailing-space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
            case("leading-space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("no-version", "GET /\r\nHost: x\r\n\r\n", 400),
            case("method-at", "GE@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("method-paren", "G(ET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case(
                "method-non-ascii",
                "G\u{c9}T / HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case("method-empty", " / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case(
                "bare-lf-request-line",
                "GET / HTTP/1.1\nHost: x\r\n\r\n",
                400,
            ),
            case(
                "bare-cr-request-line",
                "GET / HTTP/1.1\rHost: x\r\n\r\n",
                400,
            ),
            case(
                "version-lowercase",
                "GET / http/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case("version-no-minor", "GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
            case(
                "version-two-digits",
                "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
                400,
            ),
            case("version-junk", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", 400),
            case(
                "target-relative",
                "GET foo HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case(
                "target-fragment",
                "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case(
                "request-line-junk",
                "\x16\x03\x01\x00\x05hello\r\n\r\n",
                400,
            ),
        ],
    );
}

/// RFC 9112 §2.3, RFC 9110 §15.6.6: only HTTP/1.0 and HTTP/1.1 are served.
#[test]
fn unsupported_versions() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("version-2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            case("version-0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
            case("version-3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
            case("version-1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        ],
    );
}

/// RFC 9112 §3.2.3, §3.2.4: asterisk-form only for OPTIONS, authority-form only for CONNECT.
#[test]
fn target_forms_bound_to_methods() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("asterisk-get", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case(
                "asterisk-post",
                "POST * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                400,
            ),
            case(
                "authority-get",
                "GET example.com:80 HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case(
                "connect-origin",
                "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            // pyrite is not a proxy: a well-formed CONNECT is refused without tunnelling.
            case(
                "connect-authority",
                "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                405,
            ),
        ],
    );
}

/// RFC 9112 §3.2, RFC 3986 §2: no controls, spaces or non-ASCII bytes in the target.
#[test]
fn bad_target_bytes() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("target-nul", "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("target-bel", "GET /a\x07b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("target-tab", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("target-del", "GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case("target-space", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            case(
                "target-utf8",
                "GET /\u{e9} HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
            case(
                "target-latin1",
                b"GET /\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
                400,
            ),
        ],
    );
}

/// RFC 9112 §5, RFC 9110 §5.1, §5.5: field lines are `token ":" OWS value OWS CRLF`.
#[test]
fn bad_header_lines() {
    let server = Echo::start(&[]);
    let h = |line: &str| format!("GET / HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n");
    check_rejections(
        &server,
        &[
            case("obs-fold-space", h("X-A: b\r\n c"), 400),
            case("obs-fold-tab", h("X-A: b\r\n\tc"), 400),
            case("space-before-colon", h("X-A : b"), 400),
            case("tab-before-colon", h("X-A\t: b"), 400),
            case("name-with-space", h("X A: b"), 400),
            case("name-with-at", h("X@A: b"), 400),
            case("name-non-ascii", h("X-\u{e9}: b"), 400),
            case("name-empty", h(": b"), 400),
            case("no-colon", h("X-A b"), 400),
            case("value-nul", h("X-A: b\x00c"), 400),
            case("value-bel", h("X-A: b\x07c"), 400),
            case("value-del", h("X-A: b\x7fc"), 400),
            case("value-bare-cr", h("X-A: b\rc"), 400),
            case("value-esc", h("X-A: b\x1bc"), 400),
            case("bare-lf-header", h("X-A: b\nX-B: c"), 400),
            case("bare-lf-end", "GET / HTTP/1.1\r\nHost: x\n\n", 400),
            case("cr-lf-mixed-end", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        ],
    );
    // obs-text in a value and tabs as OWS are valid (RFC 9110 §5.5).
    check_accepted(
        &server,
        "value-obs-text",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A:\tcaf\xe9\t\r\n\r\n",
        "hello",
    );
}

/// RFC 9112 §3.2: HTTP/1.1 needs exactly one valid Host.
#[test]
fn host_rules() {
    let server = Echo::start(&[]);
    check_rejections(
        &server,
        &[
            case("http11-no-host", "GET / HTTP/1.1\r\n\r\n", 400),
            case(
                "two-hosts",
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                400,
            ),
            case(
                "two-hosts-same",
                "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
                400,
            ),
            case(
                "host-with-space",
                "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
                400,
            ),
            case(
                "host-with-slash",
                "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
                400,
            ),
            case("host-with-at", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        ],
    );
    check_accepted(
        &server,
        "http10-no-host",
        b"GET / HTTP/1.0\r\n\r\n",
        "hello",
    );
    check_accepted(
        &server,
        "host-ipv6-port",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "hello",
    );
}

/// RFC 9112 §3.2, RFC 3986 §3.2.2: `Host` and an absolute-form authority are
/// `uri-host [ ":" port ]` — no junk port, no second colon, no broken IP literal, no userinfo
/// (these used to reach the app, as `SERVER_PORT='xyz'`); and a field that must appear once
/// (RFC 9110 §5.3) appearing twice is refused like a second Host.
#[test]
fn host_grammar_and_repeated_singleton_fields() {
    let server = Echo::start(&[]);
    let host = |h: &str| format!("GET / HTTP/1.1\r\nHost: {h}\r\n\r\n");
    let absolute = |t: &str| format!("GET {t} HTTP/1.1\r\nHost: x\r\n\r\n");
    let twice = |f: &str| format!("GET / HTTP/1.1\r\nHost: x\r\n{f}: a\r\n{f}: b\r\n\r\n");
    check_rejections(
        &server,
        &[
            case("host-port-letters", host("a:xyz"), 400),
            case("host-port-negative", host("a:-1"), 400),
            case("host-port-plus", host("a:+80"), 400),
            case("host-two-ports", host("a:80:80"), 400),
            case("host-port-too-big", host("a:65536"), 400),
            case("host-no-name", host(":80"), 400),
            case("host-ipv6-unclosed", host("[::1"), 400),
            case("host-ipv6-junk", host("[zz]"), 400),
            case("host-ipv6-trailing", host("[::1]x"), 400),
            case("host-bad-percent", host("a%zz"), 400),
            case(
                "absolute-userinfo",
                absolute("http://user:pw@a.example/"),
                400,
            ),
            case("absolute-bad-port", absolute("http://a.example:x/"), 400),
            case(
                "absolute-port-too-big",
                absolute("http://a.example:99999/"),
                400,
            ),
            case("absolute-ipv6-junk", absolute("http://[zz]/"), 400),
            case("content-type-twice", twice("Content-Type"), 400),
            case("authorization-twice", twice("Authorization"), 400),
            case("range-twice", twice("Range"), 400),
        ],
    );
    for (name, value) in [
        ("host-port", "a.example:8080"),
        ("host-empty-port", "a.example:"),
        ("host-ipv4", "127.0.0.1:65535"),
        ("host-ipv6", "[2001:db8::1]"),
        ("host-reg-name", "xn--bcher-kva.example"),
    ] {
        check_accepted(&server, name, host(value).as_bytes(), "hello");
    }
    check_accepted(
        &server,
        "two-accepts",
        b"GET / HTTP/1.1\r\nHost: x\r\nAccept: a/b\r\nAccept: c/d\r\n\r\n",
        "hello",
    );
}

/// Lowercase methods are valid tokens distinct from GET (RFC 9110 §9.1: methods are
/// case-sensitive); they reach the app unchanged rather than being refused or upper-cased.
#[test]
fn lowercase_method_is_a_distinct_token() {
    let server = Echo::start(&[]);
    check_accepted(
        &server,
        "lowercase",
        b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
        "hello",
    );
    assert!(server.calls.text().contains("get /"));
}
