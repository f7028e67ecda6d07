//! Streaming a generator body over a real socket (PEP 3333 "Buffering and Streaming"): what
//! the app yielded reaches the client while the app is still blocked in its next `next()`,
//! however the writer batches the pieces of a stream. `tests/apps/held_block.py` blocks until
//! the client, having received the blocks so far, creates a file: a held block would leave both
//! waiting, and the client's read fails by its timeout (no timing is asserted).

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use crate::support::netns::{self, Net};
use crate::support::{pyrite, request, tmpdir, Conn};

/// Reads from `stream` until `got` contains `want`, failing (by the socket's read timeout)
/// when it never comes.
fn read_until(stream: &mut TcpStream, got: &mut Vec<u8>, want: &[u8]) {
    let mut buf = [0u8; 4096];
    while !got.windows(want.len()).any(|w| w == want) {
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed before {:?}", String::from_utf8_lossy(want)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) => panic!(
                "{:?} never arrived while the app waited for it ({err}); got {:?}",
                String::from_utf8_lossy(want),
                String::from_utf8_lossy(got)
            ),
        }
    }
}

/// One response of the app on `conn`, step by step; returns all it read.
fn lockstep(conn: &mut Conn, dir: &Path, target: &str, end: &[u8]) -> Vec<u8> {
    conn.send(&request("GET", target, &[], b""));
    let mut stream = conn.stream().try_clone().unwrap();
    let mut got = Vec::new();
    read_until(&mut stream, &mut got, b"one;");
    read_until(&mut stream, &mut got, b"two;");
    std::fs::write(dir.join("step1"), b"").unwrap();
    read_until(&mut stream, &mut got, b"three;");
    std::fs::write(dir.join("step2"), b"").unwrap();
    read_until(&mut stream, &mut got, end);
    std::fs::remove_file(dir.join("step1")).unwrap();
    std::fs::remove_file(dir.join("step2")).unwrap();
    got
}

/// The three responses of one connection: chunked twice (the second starts on a socket that
/// carried pieces written ahead of time), then counted against a Content-Length.
fn three_responses(addr: &str, dir: &Path) {
    let mut conn = Conn::connect(addr);
    for _ in 0..2 {
        let got = lockstep(&mut conn, dir, "/", b"end\r\n0\r\n\r\n");
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    }
    let got = lockstep(&mut conn, dir, "/with-length", b"one;two;three;end");
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("Content-Length: 17\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\none;two;three;end"), "{text}");
}

#[test]
fn a_yielded_block_reaches_the_client_before_a_slow_next_returns() {
    let dir = tmpdir("held-block");
    let server = pyrite()
        .env("HELD_BLOCK_DIR", dir.to_str().unwrap())
        .app("held_block")
        .start();
    three_responses(&server.addr, &dir);
}

/// The same where TCP itself would hold a queued partial packet for a minute (its minimum
/// retransmission timeout raised in a network namespace of the test's own): only the server's
/// push can get the blocks out before the client's read times out.
#[test]
fn a_yielded_block_is_pushed_by_the_server_not_by_a_tcp_timer() {
    let net = match Net::create(0) {
        Ok(net) => net,
        Err(why) => {
            eprintln!("SKIPPED: cannot make network namespaces here: {why}");
            return;
        }
    };
    let sysctl = Command::new("ip")
        .args(["netns", "exec", &net.lb, "sysctl", "-qw"])
        .arg("net.ipv4.tcp_rto_min_us=60000000")
        .status();
    if !sysctl.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: this kernel has no net.ipv4.tcp_rto_min_us");
        return;
    }
    let dir = tmpdir("held-block-ns");
    let server = pyrite()
        .launched_by("ip", &["netns", "exec", &net.lb])
        .args(&["-b", "127.0.0.1:8000"])
        .env("HELD_BLOCK_DIR", dir.to_str().unwrap())
        .app("held_block")
        .start();
    netns::within(&net.lb, move || three_responses("127.0.0.1:8000", &dir));
    drop(server);
}
