//! Responses of inline calls that took a while (tens of microseconds to a millisecond) wait
//! for the end of the event loop's turn and leave together (`src/http/turn.rs`): each still
//! reaches its own client, in order, whole, also when clients pipeline, stop reading or leave
//! while theirs is held. The views keep the CPU busy for 300 µs: past the shortest call held in
//! a release build (about 50 µs on the machine of the README's benchmarks) and in a debug one
//! (about 150 µs), short of the longest (1 ms).

use std::thread;

use crate::support::{pyrite, request, Conn, Server};

fn busy() -> Server {
    pyrite().args(&["-w", "1"]).app("busy").start()
}

#[test]
fn concurrent_keep_alive_clients_of_a_busy_view_each_get_their_own_responses() {
    let server = busy();
    sixteen_clients(&server);
}

/// 16 keep-alive clients, 25 requests each to the busy view, each response checked as its own.
fn sixteen_clients(server: &Server) {
    let clients: Vec<_> = (0..16)
        .map(|client| {
            let addr = server.addr.clone();
            thread::spawn(move || {
                let mut conn = Conn::connect(&addr);
                for n in 0..25 {
                    let tag = format!("{client}-{n}");
                    let response = conn.get(&format!("/?us=300&tag={tag}"));
                    assert_eq!(response.status, 200);
                    assert_eq!(response.text(), tag);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
}

#[test]
fn pipelined_requests_to_a_busy_view_come_back_whole_and_in_order() {
    let server = busy();
    let mut conn = Conn::connect(&server.addr);
    let mut burst = Vec::new();
    for n in 0..12 {
        burst.extend(request("GET", &format!("/?us=300&tag=p{n}"), &[], b""));
    }
    conn.send(&burst);
    for n in 0..12 {
        assert_eq!(conn.read_response().text(), format!("p{n}"));
    }
}

#[test]
fn clients_that_leave_or_stop_reading_leave_the_others_served() {
    let server = busy();
    // Clients that send and leave at once (their responses meet reset sockets, some held),
    // and one that asks for large responses one by one and reads none of them until the end
    // (its socket fills up: the turn's end finds it full).
    let stalled = {
        let addr = server.addr.clone();
        thread::spawn(move || {
            let mut conn = Conn::connect(&addr);
            for _ in 0..40 {
                conn.send(&request("GET", "/big?us=300&kb=64", &[], b""));
                thread::sleep(std::time::Duration::from_millis(2));
            }
            conn
        })
    };
    let leavers: Vec<_> = (0..8)
        .map(|_| {
            let addr = server.addr.clone();
            thread::spawn(move || {
                for _ in 0..10 {
                    let mut conn = Conn::connect(&addr);
                    conn.send(&request("GET", "/?us=300&tag=gone", &[], b""));
                    // Reset, not closed: a write to it fails at once.
                    socket2::SockRef::from(conn.stream())
                        .set_linger(Some(std::time::Duration::ZERO))
                        .expect("SO_LINGER");
                }
            })
        })
        .collect();
    let mut conn = Conn::connect(&server.addr);
    for n in 0..40 {
        assert_eq!(
            conn.get(&format!("/?us=300&tag=k{n}")).text(),
            format!("k{n}")
        );
    }
    for leaver in leavers {
        leaver.join().expect("leaver");
    }
    // The stalled client's responses are all there once it reads.
    let mut stalled = stalled.join().expect("stalled client");
    for _ in 0..40 {
        let response = stalled.read_response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), 64 * 1024);
    }
}

/// Where a seccomp filter kills the process that makes an io_uring (the turn's end writes the
/// held responses of several sockets from one io_uring call where it may), the worker asks a
/// child first: the child dies, the worker writes them one by one and lives.
#[test]
fn a_filter_that_kills_on_io_uring_kills_no_worker() {
    let server = pyrite()
        .pre_exec(|| {
            let nr = libc::SYS_io_uring_setup as u32;
            let filter = [
                // The system call's number (offset 0 of struct seccomp_data).
                bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
                bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 0, 1, nr),
                bpf(
                    libc::BPF_RET | libc::BPF_K,
                    0,
                    0,
                    libc::SECCOMP_RET_KILL_PROCESS,
                ),
                bpf(libc::BPF_RET | libc::BPF_K, 0, 0, libc::SECCOMP_RET_ALLOW),
            ];
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: prctl and seccomp are async-signal-safe; `program` and the filter it
            // points at outlive the calls, which copy them.
            let rc = unsafe {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    -1
                } else {
                    libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0,
                        &program as *const libc::sock_fprog,
                    )
                }
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
        .args(&["-w", "1"])
        .app("busy")
        .start();
    let workers = server.worker_pids();
    sixteen_clients(&server);
    assert_eq!(server.worker_pids(), workers, "{}", server.stderr());
}

fn bpf(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}
