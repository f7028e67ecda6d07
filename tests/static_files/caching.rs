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
