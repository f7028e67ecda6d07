//! Validators and preconditions (RFC 9110 §13), the cache policy of `--static-max-age`, and
//! revalidation of cached files that change on disk.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{fetch, get, Server, WAIT};

use super::docroot;

#[test]
fn validators_give_304_and_412_in_rfc_order() {
    let (_dir, root) = docroot("validators");
    let server = Server::start(&["--docroot", &root]);
    let first = get(&server.addr, "/hello.txt");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").expect("ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let modified = first
        .header("last-modified")
        .expect("Last-Modified")
        .to_owned();

    let req =
        |headers: &[(&str, &str)]| fetch(&server.addr, "GET", "/hello.txt", headers, b"").status;
    assert_eq!(req(&[("If-None-Match", &etag)]), 304);
    assert_eq!(req(&[("If-None-Match", &format!("\"x\", W/{etag}"))]), 304);
    assert_eq!(req(&[("If-None-Match", "*")]), 304);
    assert_eq!(req(&[("If-None-Match", "\"other\"")]), 200);
    assert_eq!(req(&[("If-Modified-Since", &modified)]), 304);
    assert_eq!(
        req(&[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]),
        200
    );
    // §13.2.2: If-None-Match is evaluated instead of If-Modified-Since, whichever way it goes.
    assert_eq!(
        req(&[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &modified)
        ]),
        200
    );
    assert_eq!(
        req(&[
            ("If-None-Match", &etag),
            ("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")
        ]),
        304
    );
    assert_eq!(req(&[("If-Match", &etag)]), 200);
    assert_eq!(req(&[("If-Match", "\"other\"")]), 412);
    assert_eq!(
        req(&[("If-Match", &format!("W/{etag}"))]),
        412,
        "If-Match compares strongly"
    );
    assert_eq!(
        req(&[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")]),
        412
    );
    assert_eq!(req(&[("If-Unmodified-Since", &modified)]), 200);
    // If-Match is checked before If-None-Match.
    assert_eq!(
        req(&[("If-Match", "\"other\""), ("If-None-Match", &etag)]),
        412
    );

    let not_modified = fetch(
        &server.addr,
        "GET",
        "/hello.txt",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(not_modified.header("vary"), Some("Accept-Encoding"));
    let head = fetch(
        &server.addr,
        "HEAD",
        "/hello.txt",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(head.status, 304);
}

#[test]
fn max_age_and_immutable_for_hashed_names() {
    let (dir, root) = docroot("cachecontrol");
    std::fs::write(dir.join("root/app.3f9a1c2e.js"), "hashed").unwrap();
    let plain = Server::start(&["--docroot", &root]);
    assert_eq!(get(&plain.addr, "/hello.txt").header("cache-control"), None);
    assert_eq!(
        get(&plain.addr, "/app.3f9a1c2e.js").header("cache-control"),
        None
    );
    drop(plain);
    let server = Server::start(&["--docroot", &root, "--static-max-age", "3600"]);
    assert_eq!(
        get(&server.addr, "/hello.txt").header("cache-control"),
        Some("public, max-age=3600")
    );
    assert_eq!(
        get(&server.addr, "/app.3f9a1c2e.js").header("cache-control"),
        Some("public, max-age=3600, immutable")
    );
    let etag = get(&server.addr, "/hello.txt")
        .header("etag")
        .unwrap()
        .to_owned();
    let not_modified = fetch(
        &server.addr,
        "GET",
        "/hello.txt",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(
        not_modified.header("cache-control"),
        Some("public, max-age=3600")
    );
}

/// Backdates a file, as a deploy that preserves times would, so that the cache keeps it.
fn backdate(path: &Path) {
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(an_hour_ago).unwrap();
}

fn set_mtime(path: &Path, time: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(time).unwrap();
}

#[test]
fn a_changed_file_is_served_changed_on_the_next_request() {
    let (dir, root) = docroot("revalidate");
    let path = dir.join("root/page.txt");
    std::fs::write(&path, "version one").unwrap();
    backdate(&path);
    let old_mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let big = dir.join("root/big.bin");
    std::fs::write(&big, vec![b'a'; 400_000]).unwrap();
    backdate(&big);
    let server = Server::start(&["--docroot", &root, "--log-level", "pyrite=debug"]);
    let first = get(&server.addr, "/page.txt");
    assert_eq!(first.text(), "version one");
    assert_eq!(get(&server.addr, "/page.txt").text(), "version one");

    // New content under the very same modification time: the size gives it away.
    std::fs::write(&path, "version two!").unwrap();
    set_mtime(&path, old_mtime);
    let second = get(&server.addr, "/page.txt");
    assert_eq!(second.text(), "version two!");
    assert!(
        server.wait_for_stderr("file changed on disk", 1, WAIT),
        "the cached copy was revalidated"
    );
    assert_ne!(first.header("etag"), second.header("etag"));
    // Same size, written just now.
    backdate(&path);
    assert_eq!(get(&server.addr, "/page.txt").text(), "version two!");
    std::fs::write(&path, "version 3!!!").unwrap();
    assert_eq!(get(&server.addr, "/page.txt").text(), "version 3!!!");
    // Replaced by rename (a new inode), as deploy tools do, with the old time kept.
    std::fs::write(dir.join("new.txt"), "version four").unwrap();
    set_mtime(&dir.join("new.txt"), old_mtime);
    std::fs::rename(dir.join("new.txt"), &path).unwrap();
    assert_eq!(get(&server.addr, "/page.txt").text(), "version four");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(&server.addr, "/page.txt").status, 404);

    // A streamed (large) file is revalidated the same way.
    assert_eq!(get(&server.addr, "/big.bin").body.len(), 400_000);
    std::fs::write(&big, vec![b'b'; 500_000]).unwrap();
    assert_eq!(get(&server.addr, "/big.bin").body, vec![b'b'; 500_000]);
}

/// Once a cached file is watched (its hits skip the `stat`), every way a deploy or an editor
/// changes what a name leads to is still seen on the next request: a symlinked directory of the
/// path swapped to another release, a directory of the path renamed away and replaced, the file
/// written through a hard link elsewhere, the file removed — with the same size and modification
/// time each time, so that only the change reports can give it away.
#[test]
fn a_watched_file_is_served_changed_on_the_next_request() {
    let base = crate::support::tmpdir("watched");
    let root = base.join("root");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let release = |n: u32, text: &str| {
        let dir = root.join(format!("releases/{n}"));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["page.txt", "sub/deep.txt"] {
            std::fs::write(dir.join(name), text).unwrap();
            set_mtime(&dir.join(name), an_hour_ago);
        }
    };
    release(1, "release one");
    release(2, "release two");
    std::os::unix::fs::symlink("releases/1", root.join("current")).unwrap();
    let server = Server::start(&[
        "--docroot",
        root.to_str().unwrap(),
        "--log-level",
        "pyrite=debug",
    ]);
    let mut watched = 0;
    // Cached, then watched on its first hit; the third request is served from the watch.
    let mut settle = |path: &str, text: &str| {
        for _ in 0..3 {
            assert_eq!(get(&server.addr, path).text(), text);
        }
        watched += 1;
        assert!(
            server.wait_for_stderr("file watched", watched, WAIT),
            "{path} was not watched:\n{}",
            server.stderr()
        );
    };

    // The symlink swapped atomically, as `ln -sfn` + rename do.
    settle("/current/page.txt", "release one");
    std::os::unix::fs::symlink("releases/2", root.join("current.new")).unwrap();
    std::fs::rename(root.join("current.new"), root.join("current")).unwrap();
    assert_eq!(get(&server.addr, "/current/page.txt").text(), "release two");

    // A directory of the path renamed away and another put in its place.
    settle("/current/sub/deep.txt", "release two");
    let sub = root.join("releases/2/sub");
    std::fs::rename(&sub, root.join("releases/2/sub.old")).unwrap();
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("deep.txt"), "release 2.1").unwrap();
    set_mtime(&sub.join("deep.txt"), an_hour_ago);
    assert_eq!(
        get(&server.addr, "/current/sub/deep.txt").text(),
        "release 2.1"
    );

    // Written in place through a hard link outside the root, size and time kept.
    let link = base.join("elsewhere.txt");
    std::fs::hard_link(root.join("releases/2/page.txt"), &link).unwrap();
    settle("/current/page.txt", "release two");
    std::fs::write(&link, "release 2.2").unwrap();
    set_mtime(&link, an_hour_ago);
    assert_eq!(get(&server.addr, "/current/page.txt").text(), "release 2.2");

    // Written through a shared mapping, which inotify does not report: seen once the clock
    // sends the hit back to a stat.
    settle("/current/page.txt", "release 2.2");
    write_through_mmap(&root.join("releases/2/page.txt"), b"RELEASE");
    let deadline = std::time::Instant::now() + WAIT;
    while get(&server.addr, "/current/page.txt").text() != "RELEASE 2.2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the mmap write was never seen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Removed.
    set_mtime(&root.join("releases/2/page.txt"), an_hour_ago);
    settle("/current/page.txt", "RELEASE 2.2");
    std::fs::remove_file(root.join("releases/2/page.txt")).unwrap();
    assert_eq!(get(&server.addr, "/current/page.txt").status, 404);
}

/// Overwrites the start of `path` with `bytes` through a shared mapping.
fn write_through_mmap(path: &Path, bytes: &[u8]) {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let len = file.metadata().unwrap().len() as usize;
    assert!(bytes.len() <= len);
    // SAFETY: a fresh shared mapping of `len` bytes of an open file, written within its
    // bounds, synced and unmapped before the file is closed.
    unsafe {
        let map = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(map, libc::MAP_FAILED);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.cast::<u8>(), bytes.len());
        assert_eq!(libc::msync(map, len, libc::MS_SYNC), 0);
        assert_eq!(libc::munmap(map, len), 0);
    }
}
