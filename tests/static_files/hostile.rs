//! A document root someone else can write to: a name flipped between a regular file and a
//! symlink out of the root (atomic renames, as fast as the machine allows) while clients
//! hammer it, and special files (a FIFO, a socket) beside ordinary ones. No byte from outside
//! the root may ever be served, a symlink out stays refused once the flipping stops (nothing
//! cached keeps it served), and nothing a client names may block a worker.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use super::{s, SECRET};
use crate::support::{get, pyrite, tmpdir, Conn};

/// Replaces `name` atomically with what `make` creates under a temporary name beside it.
fn swap_in(dir: &Path, name: &str, make: impl FnOnce(&Path) -> std::io::Result<()>) {
    let tmp = dir.join(format!(".swap-{name}"));
    let _ = fs::remove_file(&tmp);
    if make(&tmp).is_ok() {
        let _ = fs::rename(&tmp, dir.join(name));
    }
}

#[test]
fn a_name_flipped_between_a_file_and_a_symlink_out_never_serves_the_outside() {
    let base = tmpdir("flip");
    let root = base.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    // Small files (kept in the cache) and large ones (streamed), inside and outside.
    let secret_big: Vec<u8> = SECRET.bytes().cycle().take(600 * 1024).collect();
    fs::write(base.join("secret.txt"), SECRET).unwrap();
    fs::write(base.join("secret.bin"), &secret_big).unwrap();
    fs::write(root.join("inside.txt"), "inside\n").unwrap();
    fs::write(root.join("inside.bin"), vec![b'i'; 600 * 1024]).unwrap();
    // Old enough for the cache to keep them (it skips files modified within 2 s).
    let past = SystemTime::now() - Duration::from_secs(3600);
    for name in ["inside.txt", "inside.bin"] {
        let file = fs::File::options()
            .write(true)
            .open(root.join(name))
            .unwrap();
        file.set_modified(past).unwrap();
    }
    // Each name starts as a regular file (a hard link of the inside one, same old mtime).
    let flips = [
        ("small", "inside.txt", "secret.txt"),
        ("big", "inside.bin", "secret.bin"),
    ];
    for (name, inside, _) in flips {
        fs::hard_link(root.join(inside), root.join(name)).unwrap();
    }
    let server = pyrite().args(&["-w", "2", "--docroot", &s(&root)]).start();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (root, base, stop) = (root.clone(), base.clone(), stop.clone());
        thread::spawn(move || {
            let mut flips_done = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (name, inside, outside) in flips {
                    swap_in(&root, name, |tmp| fs::hard_link(root.join(inside), tmp));
                    // Sometimes the file stays a while, long enough to be cached.
                    if flips_done % 64 == 0 {
                        thread::sleep(Duration::from_millis(20));
                    }
                    swap_in(&root, name, |tmp| {
                        std::os::unix::fs::symlink(base.join(outside), tmp)
                    });
                    // A relative link out, and one through a directory link, too.
                    swap_in(&root, "sub", |tmp| std::os::unix::fs::symlink("..", tmp));
                    swap_in(&root, "sub", |tmp| fs::create_dir(tmp));
                }
                flips_done += 1;
            }
            // Left as symlinks out.
            for (name, _, outside) in flips {
                swap_in(&root, name, |tmp| {
                    std::os::unix::fs::symlink(base.join(outside), tmp)
                });
            }
            flips_done
        })
    };

    let leaked = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|n| {
            let (addr, stop) = (server.addr.clone(), stop.clone());
            let (leaked, served) = (leaked.clone(), served.clone());
            thread::spawn(move || {
                let targets = ["/small", "/big", "/sub/../small", "/sub/secret.txt"];
                let mut conn = Conn::connect(&addr);
                let mut i = n;
                while !stop.load(Ordering::Relaxed) {
                    let r = conn.get(targets[i % targets.len()]);
                    i += 1;
                    if r.body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()) {
                        leaked.fetch_add(1, Ordering::Relaxed);
                    }
                    if r.status == 200 {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    if r.header("connection") == Some("close") {
                        conn = Conn::connect(&addr);
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let flips_done = writer.join().unwrap();

    assert_eq!(
        leaked.load(Ordering::Relaxed),
        0,
        "bytes from outside the root were served ({flips_done} flips, {} inside files served)",
        served.load(Ordering::Relaxed)
    );
    assert!(flips_done > 0);
    assert!(
        served.load(Ordering::Relaxed) > 0,
        "the inside file was never served: the race was not exercised"
    );
    // Every name is a symlink out now: refused on every worker, whatever was cached.
    for _ in 0..20 {
        for target in ["/small", "/big"] {
            let r = get(&server.addr, target);
            assert_eq!(r.status, 404, "{target}: {}", r.text());
        }
    }
}

#[test]
fn a_fifo_or_a_socket_in_the_root_is_404_and_blocks_nothing() {
    let base = tmpdir("fifo");
    let root = base.join("root");
    let assets = base.join("assets");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&assets).unwrap();
    fs::write(root.join("hello.txt"), "hello\n").unwrap();
    fs::write(assets.join("app.css"), "body {}\n").unwrap();
    for dir in [&root, &assets] {
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
    }
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    std::os::unix::fs::symlink("pipe", root.join("to-pipe")).unwrap();
    // No --timeout: a worker stuck opening the FIFO would never be replaced.
    let server = pyrite()
        .args(&[
            "--timeout",
            "0",
            "--docroot",
            &s(&root),
            "--static",
            &format!("/assets={}", s(&assets)),
        ])
        .start();

    // Requests for the special files, on their own connections, while normal requests go on.
    let specials: Vec<_> = ["/pipe", "/to-pipe", "/sock", "/assets/pipe"]
        .into_iter()
        .map(|target| {
            let addr = server.addr.clone();
            thread::spawn(move || (target, get(&addr, target).status))
        })
        .collect();
    let mut conn = Conn::connect(&server.addr);
    for _ in 0..20 {
        assert_eq!(conn.get("/hello.txt").text(), "hello\n");
        assert_eq!(conn.get("/assets/app.css").text(), "body {}\n");
    }
    for special in specials {
        let (target, status) = special.join().unwrap();
        assert_eq!(status, 404, "{target}");
    }
    // Asked again (nothing was cached), and with HEAD and a range.
    for target in ["/pipe", "/assets/pipe"] {
        assert_eq!(conn.get(target).status, 404);
        assert_eq!(conn.roundtrip("HEAD", target, &[], b"").status, 404);
        assert_eq!(
            conn.roundtrip("GET", target, &[("Range", "bytes=0-1")], b"")
                .status,
            404
        );
    }
    assert_eq!(conn.get("/hello.txt").status, 200);
}
