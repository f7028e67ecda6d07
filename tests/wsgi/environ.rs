//! The environ a WSGI app receives (PEP 3333 "environ Variables"), read back through the
//! `environ_dump` app.

use crate::support::{fetch, Conn, Server, Value};

/// `environ` from the dump: key → {type, repr, value?, methods?}.
fn environ_of(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Value {
    let r = fetch(addr, method, target, headers, body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn str_value<'a>(env: &'a Value, key: &str) -> &'a str {
    let entry = env
        .get(key)
        .unwrap_or_else(|| panic!("environ has no {key}: {:?}", env.keys()));
    assert_eq!(entry.at("type").str(), "str", "{key} must be a str");
    entry.at("value").str()
}

#[test]
fn environ_has_pep3333_keys_and_types() {
    let server = Server::app("environ_dump");
    let dump = environ_of(&server.addr, "GET", "/some/path?a=1&b=2", &[], b"");
    assert_eq!(dump.at("environ_type").str(), "dict");
    assert_eq!(dump.at("key_types").arr(), &[Value::Str("str".into())]);
    let env = dump.at("environ");
    let port = server.addr.rsplit(':').next().unwrap();

    assert_eq!(str_value(env, "REQUEST_METHOD"), "GET");
    assert_eq!(str_value(env, "SCRIPT_NAME"), "");
    assert_eq!(str_value(env, "PATH_INFO"), "/some/path");
    assert_eq!(str_value(env, "QUERY_STRING"), "a=1&b=2");
    assert_eq!(str_value(env, "RAW_URI"), "/some/path?a=1&b=2");
    assert_eq!(str_value(env, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert!(!str_value(env, "SERVER_NAME").is_empty());
    assert_eq!(str_value(env, "SERVER_PORT"), port);
    assert_eq!(str_value(env, "REMOTE_ADDR"), "127.0.0.1");
    let remote_port = str_value(env, "REMOTE_PORT");
    assert!(
        remote_port.parse::<u16>().is_ok_and(|p| p > 0),
        "REMOTE_PORT {remote_port:?}"
    );
    assert_eq!(str_value(env, "HTTP_HOST"), "localhost");
    assert!(
        env.get("CONTENT_LENGTH").is_none(),
        "CONTENT_LENGTH on a GET"
    );
    assert!(env.get("HTTP_CONTENT_LENGTH").is_none());
    assert!(env.get("HTTP_CONTENT_TYPE").is_none());

    let version = env.at("wsgi.version");
    assert_eq!(version.at("type").str(), "tuple");
    assert_eq!(version.at("repr").str(), "(1, 0)");
    assert_eq!(str_value(env, "wsgi.url_scheme"), "http");
    for (key, want) in [
        ("wsgi.multithread", "False"),
        ("wsgi.run_once", "False"),
        ("wsgi.input_terminated", "True"),
    ] {
        let entry = env.at(key);
        assert_eq!(entry.at("type").str(), "bool", "{key}");
        assert_eq!(entry.at("repr").str(), want, "{key}");
    }
    assert_eq!(env.at("wsgi.multiprocess").at("type").str(), "bool");
    let methods = |key: &str| -> Vec<String> {
        env.at(key)
            .at("methods")
            .arr()
            .iter()
            .map(|m| m.str().to_string())
            .collect()
    };
    let input = methods("wsgi.input");
    for m in ["read", "readline", "readlines", "__iter__"] {
        assert!(
            input.iter().any(|x| x == m),
            "wsgi.input lacks {m}: {input:?}"
        );
    }
    let errors = methods("wsgi.errors");
    for m in ["write", "writelines", "flush"] {
        assert!(
            errors.iter().any(|x| x == m),
            "wsgi.errors lacks {m}: {errors:?}"
        );
    }

    // Every CGI-style key (no dot) is a native str (PEP 3333 "Unicode Issues").
    if let Value::Obj(map) = env {
        for (key, entry) in map {
            if !key.contains('.') {
                assert_eq!(entry.at("type").str(), "str", "{key} is not a str");
            }
        }
    }
}

#[test]
fn environ_for_post_has_content_type_and_length() {
    let server = Server::app("environ_dump");
    let dump = environ_of(
        &server.addr,
        "POST",
        "/submit",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"a=1&b=2",
    );
    let env = dump.at("environ");
    assert_eq!(str_value(env, "REQUEST_METHOD"), "POST");
    assert_eq!(
        str_value(env, "CONTENT_TYPE"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(str_value(env, "CONTENT_LENGTH"), "7");
    assert!(env.get("HTTP_CONTENT_LENGTH").is_none());
    assert!(env.get("HTTP_CONTENT_TYPE").is_none());
    assert_eq!(str_value(env, "QUERY_STRING"), "");
    assert_eq!(dump.at("body_length"), &Value::Num(7.0));
}

#[test]
fn path_info_is_percent_decoded_as_latin1() {
    let server = Server::app("environ_dump");
    let env = environ_of(&server.addr, "GET", "/%E4%BD%A0", &[], b"");
    let env = env.at("environ");
    let path = env.at("PATH_INFO");
    // Each decoded byte becomes one code point (latin-1): "/" + '\xe4\xbd\xa0'.
    assert_eq!(path.at("value").str(), "/\u{e4}\u{bd}\u{a0}");
    assert_eq!(path.at("repr").str(), "'/\u{e4}\u{bd}\\xa0'");
    assert_eq!(str_value(env, "RAW_URI"), "/%E4%BD%A0");

    let env = environ_of(&server.addr, "GET", "/a%20b/c%3Fd?x=%20y", &[], b"");
    let env = env.at("environ");
    assert_eq!(str_value(env, "PATH_INFO"), "/a b/c?d");
    assert_eq!(
        str_value(env, "QUERY_STRING"),
        "x=%20y",
        "the query stays encoded"
    );
}

#[test]
fn header_names_with_underscore_are_dropped() {
    let server = Server::app("environ_dump");
    let env = environ_of(
        &server.addr,
        "GET",
        "/",
        &[
            ("X-Forwarded-User", "real"),
            ("X_Forwarded_User", "spoofed"),
            ("X_Only", "x"),
        ],
        b"",
    );
    let env = env.at("environ");
    assert_eq!(str_value(env, "HTTP_X_FORWARDED_USER"), "real");
    assert!(
        env.get("HTTP_X_ONLY").is_none(),
        "underscore header reached the app"
    );
}

#[test]
fn repeated_headers_are_joined() {
    let server = Server::app("environ_dump");
    let env = environ_of(
        &server.addr,
        "GET",
        "/",
        &[
            ("X-Multi", "a"),
            ("X-Multi", "b"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("Accept", "text/html"),
        ],
        b"",
    );
    let env = env.at("environ");
    assert_eq!(str_value(env, "HTTP_X_MULTI"), "a, b");
    assert_eq!(str_value(env, "HTTP_COOKIE"), "a=1; b=2");
    assert_eq!(str_value(env, "HTTP_ACCEPT"), "text/html");
}

#[test]
fn http10_request_reports_its_protocol() {
    let server = Server::app("environ_dump");
    let mut conn = Conn::connect(&server.addr);
    conn.send(b"GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let r = conn.read_response();
    assert_eq!(r.status, 200);
    let env = r.json();
    assert_eq!(str_value(env.at("environ"), "SERVER_PROTOCOL"), "HTTP/1.0");
}

/// The host keys follow each request's `Host` on one connection, whether it repeats, changes or
/// goes away (the environ's template keeps the last ones to save work when they repeat).
#[test]
fn host_keys_follow_each_request_on_a_connection() {
    let server = Server::app("environ_dump");
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let mut conn = Conn::connect(&server.addr);
    let cases: [(Option<&str>, &str, &str); 6] = [
        (Some("a.example:81"), "a.example", "81"),
        (Some("a.example:81"), "a.example", "81"),
        (Some("b.example"), "b.example", &port),
        (None, "127.0.0.1", &port),
        (Some("b.example"), "b.example", &port),
        (Some("a.example:81"), "a.example", "81"),
    ];
    for (host, name, server_port) in cases {
        let request = match host {
            Some(host) => format!("GET /h HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            None => "GET /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_owned(),
        };
        conn.send(request.as_bytes());
        let r = conn.read_response();
        assert_eq!(r.status, 200, "{host:?}");
        let dump = r.json();
        let env = dump.at("environ");
        assert_eq!(str_value(env, "SERVER_NAME"), name, "{host:?}");
        assert_eq!(str_value(env, "SERVER_PORT"), server_port, "{host:?}");
        match host {
            Some(host) => assert_eq!(str_value(env, "HTTP_HOST"), host),
            None => assert!(env.get("HTTP_HOST").is_none(), "HTTP_HOST without a Host"),
        }
    }
}

#[test]
fn each_connection_keeps_its_own_client_port_across_pool_threads() {
    // Requests of six connections, interleaved, served by four threads: whichever thread
    // builds an environ, its client keys are its own connection's.
    let server = crate::support::pyrite()
        .args(&["-w", "1", "--threads", "4"])
        .app("environ_dump")
        .start();
    let mut conns: Vec<(Conn, String)> = (0..6)
        .map(|_| {
            let stream = std::net::TcpStream::connect(&server.addr).expect("connect");
            let port = stream
                .local_addr()
                .expect("local address")
                .port()
                .to_string();
            (Conn::from_stream(stream).expect("connection"), port)
        })
        .collect();
    for round in 0..4 {
        for (conn, _) in &mut conns {
            conn.send(b"GET /c HTTP/1.1\r\nHost: pool.example\r\n\r\n");
        }
        for (conn, port) in &mut conns {
            let r = conn.read_response();
            assert_eq!(r.status, 200, "round {round}");
            let dump = r.json();
            let env = dump.at("environ");
            assert_eq!(str_value(env, "REMOTE_ADDR"), "127.0.0.1", "round {round}");
            assert_eq!(str_value(env, "REMOTE_PORT"), port, "round {round}");
            assert_eq!(str_value(env, "SERVER_NAME"), "pool.example");
        }
    }
}
