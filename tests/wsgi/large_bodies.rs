//! Large bodies, byte for byte, with and without the thread pool (`tests/apps/big_pieces.py`).
//! What is left of a request body with a Content-Length, once it fits in one 64 KiB read, is
//! gathered in the connection's buffer (a larger body is handed on as it arrives), however the
//! client cuts it; a response piece of 4 KiB or more goes out from the app's own bytes object,
//! which the server holds until it is written (or its client is gone) and then gives back.

use std::thread;
use std::time::Duration;

use crate::support::{get, pyrite, request, Conn, Server, WAIT};

fn servers() -> [Server; 2] {
    [
        pyrite().app("big_pieces").start(),
        pyrite().app("big_pieces").args(&["--threads", "4"]).start(),
    ]
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// `BIG` of the app: `bytes(range(256)) * 400`.
fn big() -> Vec<u8> {
    (0..=255u8).cycle().take(102_400).collect()
}

const SMALL: &[u8] = b"<small piece>";

/// The app's `sys.getrefcount` of its `BIG` and `HUGE`, asked on a connection of its own.
fn refs(server: &Server) -> String {
    get(&server.addr, "/refs").text()
}

#[test]
fn request_bodies_arrive_whole_however_they_are_cut() {
    let sizes = [0, 1, 4095, 4096, 65_535, 65_536, 65_537, 200_000, 1_100_000];
    for server in servers() {
        let mut conn = Conn::connect(&server.addr);
        for len in sizes {
            let body = pattern(len);
            let r = conn.roundtrip("POST", "/echo", &[], &body);
            assert_eq!(r.status, 200);
            assert!(r.body == body, "{len} bytes in one write");

            // The head, then the body in uneven pieces, each written on its own.
            let req = request("POST", "/echo", &[], &body);
            let head_len = req.len() - body.len();
            conn.send(&req[..head_len]);
            let mut rest = &req[head_len..];
            for cut in [1, 4093, 7, 65_536, 30_000].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, after) = rest.split_at((*cut).min(rest.len()));
                conn.send(piece);
                rest = after;
                thread::sleep(Duration::from_millis(1));
            }
            let r = conn.read_response();
            assert_eq!(r.status, 200);
            assert!(r.body == body, "{len} bytes in pieces");
        }
        // A body and the next request in one write: the next one is not taken as body.
        let body = pattern(70_000);
        let mut both = request("POST", "/echo", &[], &body);
        both.extend_from_slice(&request("POST", "/echo", &[], b"second"));
        conn.send(&both);
        assert!(conn.read_response().body == body);
        assert_eq!(conn.read_response().text(), "second");
    }
}

#[test]
fn large_response_pieces_go_out_whole_and_are_given_back() {
    let big = big();
    for server in servers() {
        let before = refs(&server);
        let mut conn = Conn::connect(&server.addr);
        for _ in 0..3 {
            assert!(conn.get("/list").body == big);
            let r = conn.get("/mixed");
            let want = [SMALL, &big, SMALL, &big, &big].concat();
            assert_eq!(r.header("content-length"), Some(&*want.len().to_string()));
            assert!(r.body == want, "list of small and large pieces");
            // write() output, then the returned list: one body, in order.
            assert!(conn.get("/write").body == [&big[..], SMALL, &big, &big].concat());
            // A generator's pieces, streamed (chunked).
            assert!(conn.get("/generator").body == [SMALL, &big, &big, SMALL].concat());
        }
        assert_eq!(
            refs(&server),
            before,
            "every response written: no reference left"
        );
    }
}

#[test]
fn a_client_gone_mid_response_leaves_no_reference_behind() {
    for server in servers() {
        let before = refs(&server);
        for _ in 0..3 {
            // 8 MiB, more than the socket buffers take: the client leaves with most unsent.
            let mut conn = Conn::connect(&server.addr);
            conn.send(&request("GET", "/huge", &[], b""));
            let mut head = [0u8; 64];
            std::io::Read::read_exact(&mut conn.stream().try_clone().unwrap(), &mut head).unwrap();
            assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
            drop(conn);
        }
        // The server sees each client gone when its next write fails, and drops the piece then.
        let settled = crate::support::eventually(WAIT, || refs(&server) == before);
        assert!(
            settled,
            "references left: {} (before: {before})",
            refs(&server)
        );
    }
}
