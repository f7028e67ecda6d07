//! Response hygiene: an app cannot split a response with CR/LF in a header (500 instead,
//! RFC 9110 §5.5), and `--no-server-header` drops pyrite's `Server` field.

mod http_support;

use http_support::Server;

#[test]
fn crlf_in_an_app_header_gives_500() {
    let server = Server::start(&[]);
    let got = server.exchange(b"GET /bad-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(got.status(), 500, "{}", got.text());
    assert!(!got.text().contains("Injected"), "{}", got.text());
}

#[test]
fn server_header_can_be_turned_off() {
    let server = Server::start(&["--no-server-header"]);
    let got = server.exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(got.status(), 200);
    assert!(
        !got.text().to_ascii_lowercase().contains("\r\nserver:"),
        "{}",
        got.text()
    );
    let got = server.exchange(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(got.status(), 400);
    assert!(
        !got.text().to_ascii_lowercase().contains("\r\nserver:"),
        "{}",
        got.text()
    );
}
