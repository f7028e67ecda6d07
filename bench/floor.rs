//! The pool's floor: the thread-pool architecture of `--threads` with nothing in it, to measure
//! what the 10 ms-sleep benchmark costs a server that does no more than it must. One event-loop
//! thread does all the socket I/O (a read per request, the head found by its blank line, a fixed
//! response written back); THREADS plain threads take the requests in turn and each sleeps
//! SLEEP_MS (the same `clock_nanosleep` as Python's `time.sleep`) before answering. No Python,
//! no parsing, no headers, no limits: not a server, a lower bound for one.
//!
//!   cargo build --release --example pool_floor
//!   target/release/examples/pool_floor 127.0.0.1:8000 32 10
//!
//! `bench/run --together --scenarios sleep10ms --servers pyrite,granian,floor` measures it
//! beside the servers.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nslept 10 ms";

/// The requests waiting for a thread: each is the sender its answer goes back on.
struct Queue {
    jobs: Mutex<VecDeque<oneshot::Sender<()>>>,
    ready: Condvar,
}

impl Queue {
    fn push(&self, job: oneshot::Sender<()>) {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(job);
        self.ready.notify_one();
    }

    fn take(&self) -> oneshot::Sender<()> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = jobs.pop_front() {
                return job;
            }
            jobs = self.ready.wait(jobs).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn usage(what: &str) -> ! {
    eprintln!("pool_floor: {what} (usage: pool_floor ADDR THREADS SLEEP_MS)");
    std::process::exit(2)
}

fn fail(what: &str) -> ! {
    eprintln!("pool_floor: {what}");
    std::process::exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, threads, sleep_ms] = args.as_slice() else {
        usage("three arguments expected")
    };
    let threads: usize = match threads.parse() {
        Ok(n) if n > 0 => n,
        _ => usage("THREADS is not a positive number"),
    };
    let Ok(sleep_ms) = sleep_ms.parse::<u64>() else {
        usage("SLEEP_MS is not a number")
    };
    let queue = Arc::new(Queue {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    for _ in 0..threads {
        let queue = queue.clone();
        std::thread::spawn(move || loop {
            let job = queue.take();
            std::thread::sleep(Duration::from_millis(sleep_ms));
            let _ = job.send(());
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("no runtime: {e}")));
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(addr.as_str())
            .await
            .unwrap_or_else(|e| fail(&format!("cannot bind {addr}: {e}")));
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let queue = queue.clone();
            tokio::task::spawn_local(async move {
                let mut buf = Vec::with_capacity(4096);
                loop {
                    while let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let (answer, answered) = oneshot::channel();
                        queue.push(answer);
                        if answered.await.is_err() || stream.write_all(RESPONSE).await.is_err() {
                            return;
                        }
                    }
                    match stream.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
}
