//! The app's own Python threads run while the worker is busy with requests that run no Python:
//! the event loop keeps the GIL from one inline app call to the next, and must give it back
//! when it goes on to serve files (a flood of them may never let the loop wait for events).

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use crate::support::{eventually, get, pyrite, tmpdir, Conn, WAIT};

/// Pipelined requests per round trip of each flooding connection.
const BATCH: usize = 64;
const CONNECTIONS: usize = 4;

#[test]
fn app_threads_run_during_a_flood_of_static_files() {
    let dir = tmpdir("app_threads");
    let files = dir.join("files");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("f.txt"), "static\n").unwrap();
    let ticks = dir.join("ticks");
    let ticked = || fs::metadata(&ticks).map(|m| m.len()).unwrap_or(0);
    let server = pyrite()
        .env("TICK_FILE", ticks.to_str().unwrap())
        .args(&["--static", &format!("/s={}", files.display())])
        .app("ticker")
        .start();
    assert!(
        eventually(WAIT, || ticked() > 0),
        "the app's thread never ticked"
    );
    // An inline app call: the loop now keeps the GIL until it parks or serves something else.
    assert_eq!(get(&server.addr, "/").text(), "ok\n");

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let batch = "GET /s/f.txt HTTP/1.1\r\nHost: t\r\n\r\n".repeat(BATCH);
    let flooders: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (stop, served, batch) = (stop.clone(), served.clone(), batch.clone());
            let mut conn = Conn::connect(&server.addr);
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    conn.send(batch.as_bytes());
                    for _ in 0..BATCH {
                        assert_eq!(conn.read_response().status, 200);
                    }
                    served.fetch_add(BATCH as u64, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let flooding = || served.load(Ordering::SeqCst) >= (CONNECTIONS * BATCH) as u64;
    assert!(eventually(WAIT, flooding), "the flood never got going");
    let before = ticked();
    let progressed = eventually(WAIT, || ticked() > before);
    let during = served.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for flooder in flooders {
        flooder.join().expect("a flooding connection failed");
    }
    assert!(
        progressed,
        "the app's thread made no progress while {during} files were served\n{}",
        server.stderr()
    );
}
