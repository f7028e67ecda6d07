//! Static files over real sockets: validators and preconditions (RFC 9110 §13), ranges (§14),
//! types and precompressed siblings (§8.3, §8.4, §12.5.3), caching policy, paths and the
//! traversal corpus, methods, revalidation of cached files, the access log and autoindex.

#[path = "static_support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use support::{tmpdir, Server};

/// A document root with a few files, and a secret next to it that must never be served.
fn docroot(name: &str) -> (std::path::PathBuf, String) {
    let dir = tmpdir(name);
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
    std::fs::write(root.join("dir/index.html"), "<p>dir index</p>\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "TOP SECRET").unwrap();
    let root_str = root.to_string_lossy().into_owned();
    (dir, root_str)
}

fn digits(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'0' + (i % 10) as u8).collect()
}

#[test]
fn validators_give_304_and_412_in_rfc_order() {
    let (_dir, root) = docroot("validators");
    let server = Server::start(&["--docroot", &root]);
    let first = server.get("/hello.txt");
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

    let req = |headers: &[(&str, &str)]| server.request("GET", "/hello.txt", headers).status;
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

    let not_modified = server.request("GET", "/hello.txt", &[("If-None-Match", &etag)]);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(not_modified.header("vary"), Some("Accept-Encoding"));
    let head = server.request("HEAD", "/hello.txt", &[("If-None-Match", &etag)]);
    assert_eq!(head.status, 304);
}

#[test]
fn ranges_single_suffix_open_multipart_unsatisfiable_and_if_range() {
    let (dir, root) = docroot("ranges");
    let content = digits(1000);
    std::fs::write(dir.join("root/digits.txt"), &content).unwrap();
    // Larger than the in-memory limit, so ranges are read from disk.
    let big = digits(3 * 1024 * 1024 + 7);
    std::fs::write(dir.join("root/big.bin"), &big).unwrap();
    let server = Server::start(&["--docroot", &root]);

    let whole = server.get("/digits.txt");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let etag = whole.header("etag").unwrap().to_owned();
    let modified = whole.header("last-modified").unwrap().to_owned();

    let range = |path: &str, spec: &str| server.request("GET", path, &[("Range", spec)]);
    for (path, body) in [("/digits.txt", &content), ("/big.bin", &big)] {
        let len = body.len();
        let r = range(path, "bytes=10-19");
        assert_eq!(r.status, 206, "{path}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes 10-19/{len}").as_str())
        );
        assert_eq!(r.body, body[10..20]);
        let r = range(path, "bytes=-5");
        assert_eq!(r.status, 206);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {}-{}/{len}", len - 5, len - 1).as_str())
        );
        assert_eq!(r.body, body[len - 5..]);
        let r = range(path, "bytes=995-");
        assert_eq!(r.status, 206);
        assert_eq!(r.body, body[995..]);
        assert_eq!(
            r.header("content-length"),
            Some((len - 995).to_string().as_str())
        );
        let r = range(path, &format!("bytes={len}-"));
        assert_eq!(r.status, 416);
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );

        // Several ranges: one multipart/byteranges part each, in order.
        let r = range(path, "bytes=0-1, 500-502");
        assert_eq!(r.status, 206);
        let ct = r.header("content-type").unwrap();
        let boundary = ct
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap_or_else(|| panic!("{ct}"));
        let text = r.text();
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "{text}");
        assert!(parts[1].contains(&format!("Content-Range: bytes 0-1/{len}\r\n\r\n01\r\n")));
        assert!(parts[2].contains(&format!(
            "Content-Range: bytes 500-502/{len}\r\n\r\n012\r\n"
        )));
        assert_eq!(parts[3], "--\r\n");
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str())
        );
    }
    // Overlapping ranges are coalesced into one part.
    let r = range("/digits.txt", "bytes=0-4,3-9");
    assert_eq!(r.header("content-range"), Some("bytes 0-9/1000"));
    // A malformed or foreign-unit Range is ignored.
    assert_eq!(range("/digits.txt", "bytes=9-1").status, 200);
    assert_eq!(range("/digits.txt", "lines=1-2").status, 200);
    // HEAD ignores Range (§14.2: range handling is defined for GET).
    let head = server.request("HEAD", "/digits.txt", &[("Range", "bytes=0-1")]);
    assert_eq!(head.status, 200);

    // If-Range: the range only when the validator still matches.
    let if_range = |validator: &str| {
        server.request(
            "GET",
            "/digits.txt",
            &[("Range", "bytes=0-1"), ("If-Range", validator)],
        )
    };
    assert_eq!(if_range(&etag).status, 206);
    assert_eq!(if_range(&modified).status, 206);
    let stale = if_range("\"stale\"");
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, content);
    assert_eq!(if_range("Thu, 01 Jan 1970 00:00:00 GMT").status, 200);
    assert_eq!(
        if_range(&format!("W/{etag}")).status,
        200,
        "weak tags never match If-Range"
    );
}

#[test]
fn curl_resumes_a_cut_download() {
    let (dir, root) = docroot("resume");
    let content: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(dir.join("root/file.bin"), &content).unwrap();
    let server = Server::start(&["--docroot", &root]);
    let out = dir.join("download.bin");
    // The first 700 000 bytes arrived before the cut.
    std::fs::write(&out, &content[..700_000]).unwrap();
    let url = format!("http://{}/file.bin", server.addr);
    let curl = std::process::Command::new("curl")
        .args(["-sS", "-f", "-C", "-", "-o"])
        .arg(&out)
        .arg(&url)
        .status();
    match curl {
        Ok(status) => {
            assert!(status.success(), "curl -C - failed: {status}");
            assert!(
                std::fs::read(&out).unwrap() == content,
                "resumed file differs"
            );
            assert!(server.wait_for_stdout("\"GET /file.bin HTTP/1.1\" 206 1300000"));
        }
        Err(_) => {
            // No curl: send what `curl -C -` sends.
            let r = server.request("GET", "/file.bin", &[("Range", "bytes=700000-")]);
            assert_eq!(r.status, 206);
            assert_eq!(
                r.header("content-range"),
                Some("bytes 700000-1999999/2000000")
            );
            assert!(r.body == content[700_000..]);
        }
    }
}

#[test]
fn a_precompressed_sibling_added_later_is_served_on_the_next_request() {
    let (dir, root) = docroot("late-sibling");
    let r = dir.join("root");
    std::fs::write(r.join("late.js"), "plain js").unwrap();
    std::fs::write(r.join("old.js"), "old").unwrap();
    // A directory unchanged for a while: its missing siblings are remembered.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let server = Server::start(&["--docroot", &root]);
    let get = |path: &str| server.request("GET", path, &[("Accept-Encoding", "gzip, br")]);
    for _ in 0..3 {
        let plain = get("/late.js");
        assert_eq!(plain.text(), "plain js");
        assert_eq!(plain.header("content-encoding"), None);
    }
    std::fs::write(r.join("late.js.gz"), "gzip bytes").unwrap();
    let gz = get("/late.js");
    assert_eq!(
        (gz.text().as_str(), gz.header("content-encoding")),
        ("gzip bytes", Some("gzip"))
    );
    // Another file of the same directory sees the change too, and keeps its own answer.
    assert_eq!(get("/old.js").text(), "old");
    std::fs::remove_file(r.join("late.js.gz")).unwrap();
    let plain = get("/late.js");
    assert_eq!(
        (plain.text().as_str(), plain.header("content-encoding")),
        ("plain js", None)
    );
}

#[test]
fn content_types_and_precompressed_siblings() {
    let (dir, root) = docroot("encodings");
    let r = dir.join("root");
    std::fs::write(r.join("app.js"), "plain js").unwrap();
    std::fs::write(r.join("app.js.br"), "brotli bytes").unwrap();
    std::fs::write(r.join("app.js.gz"), "gzip bytes").unwrap();
    std::fs::write(r.join("style.css"), "css").unwrap();
    std::fs::write(r.join("style.css.gz"), "gz css").unwrap();
    std::fs::write(r.join("pic.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(r.join("blob.zzunknown"), "?").unwrap();
    let server = Server::start(&["--docroot", &root]);

    let ct = |path: &str| server.get(path).header("content-type").unwrap().to_owned();
    assert_eq!(ct("/style.css"), "text/css; charset=utf-8");
    assert_eq!(ct("/hello.txt"), "text/plain; charset=utf-8");
    assert_eq!(ct("/dir/"), "text/html; charset=utf-8");
    assert_eq!(ct("/pic.png"), "image/png");
    assert_eq!(ct("/blob.zzunknown"), "application/octet-stream");
    assert!(ct("/app.js").contains("javascript"));

    let with = |ae: &str| server.request("GET", "/app.js", &[("Accept-Encoding", ae)]);
    let plain = server.get("/app.js");
    assert_eq!(plain.text(), "plain js");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let br = with("gzip, deflate, br");
    assert_eq!(
        (br.text().as_str(), br.header("content-encoding")),
        ("brotli bytes", Some("br"))
    );
    assert!(br.header("content-type").unwrap().contains("javascript"));
    assert_eq!(br.header("vary"), Some("Accept-Encoding"));
    let gz = with("br;q=0.5, gzip");
    assert_eq!(
        (gz.text().as_str(), gz.header("content-encoding")),
        ("gzip bytes", Some("gzip"))
    );
    assert_eq!(with("br;q=0, gzip;q=0").text(), "plain js");
    assert_eq!(with("identity").text(), "plain js");
    assert_eq!(with("*").header("content-encoding"), Some("br"));
    let css = server.request("GET", "/style.css", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(
        css.header("content-encoding"),
        Some("gzip"),
        "only .gz exists"
    );

    // One ETag per representation, and each validates only itself.
    let tags = [plain.header("etag"), br.header("etag"), gz.header("etag")];
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    let br_tag = br.header("etag").unwrap();
    let revalidate = server.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "br"), ("If-None-Match", br_tag)],
    );
    assert_eq!(revalidate.status, 304);
    let other = server.request(
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", br_tag)],
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), "gzip bytes");
}

#[test]
fn max_age_and_immutable_for_hashed_names() {
    let (dir, root) = docroot("cachecontrol");
    std::fs::write(dir.join("root/app.3f9a1c2e.js"), "hashed").unwrap();
    let plain = Server::start(&["--docroot", &root]);
    assert_eq!(plain.get("/hello.txt").header("cache-control"), None);
    assert_eq!(plain.get("/app.3f9a1c2e.js").header("cache-control"), None);
    drop(plain);
    let server = Server::start(&["--docroot", &root, "--static-max-age", "3600"]);
    assert_eq!(
        server.get("/hello.txt").header("cache-control"),
        Some("public, max-age=3600")
    );
    assert_eq!(
        server.get("/app.3f9a1c2e.js").header("cache-control"),
        Some("public, max-age=3600, immutable")
    );
    let etag = server.get("/hello.txt").header("etag").unwrap().to_owned();
    let not_modified = server.request("GET", "/hello.txt", &[("If-None-Match", &etag)]);
    assert_eq!(
        not_modified.header("cache-control"),
        Some("public, max-age=3600")
    );
}

#[test]
fn bad_max_age_is_one_line_and_exit_2() {
    let (_dir, root) = docroot("badflag");
    for (args, env) in [
        (vec!["--static-max-age", "soon"], None),
        (vec!["--static-max-age", "99999999999"], None),
        (vec![], Some(("PYRITE_STATIC_MAX_AGE", "-1"))),
        (vec![], Some(("PYRITE_STATIC_DOTFILES", "maybe"))),
        (vec![], Some(("PYRITE_STATIC_AUTOINDEX", "2"))),
    ] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pyrite"));
        cmd.args(["--docroot", &root]).args(&args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn directories_dotfiles_and_symlinks() {
    let (dir, root) = docroot("paths");
    let r = dir.join("root");
    std::fs::write(r.join(".env"), "SECRET=1").unwrap();
    std::fs::create_dir_all(r.join(".git")).unwrap();
    std::fs::write(r.join(".git/config"), "[core]").unwrap();
    std::fs::create_dir_all(r.join(".well-known")).unwrap();
    std::fs::write(r.join(".well-known/security.txt"), "Contact: x").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), r.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(&dir, r.join("outdir")).unwrap();
    std::os::unix::fs::symlink(r.join("hello.txt"), r.join("in.txt")).unwrap();
    let server = Server::start(&["--docroot", &root]);

    assert_eq!(server.get("/").status, 404, "no index.html, no autoindex");
    let index = server.get("/dir/");
    assert_eq!(
        (index.status, index.text().as_str()),
        (200, "<p>dir index</p>\n")
    );
    let redirect = server.get("/dir?a=1&b=2");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/dir/?a=1&b=2"));
    assert_eq!(server.get("/dir").header("location"), Some("/dir/"));
    assert_eq!(
        server.get("//dir").header("location"),
        Some("/dir/"),
        "never //host"
    );
    assert_eq!(server.get("/hello.txt/").status, 404);
    assert_eq!(server.get("/.env").status, 404);
    assert_eq!(server.get("/.git/config").status, 404);
    assert_eq!(server.get("/dir/%2e%65nv").status, 404);
    assert_eq!(server.get("/.well-known/security.txt").status, 200);
    assert_eq!(server.get("/out.txt").status, 404);
    assert_eq!(server.get("/outdir/secret.txt").status, 404);
    assert_eq!(server.get("/outdir").status, 404);
    assert_eq!(server.get("/in.txt").text(), "hello, world\n");
    drop(server);

    let server = Server::start(&["--docroot", &root, "--static-dotfiles"]);
    assert_eq!(server.get("/.env").text(), "SECRET=1");
    let by_env =
        support::Server::start_with_env(&["--docroot", &root], &[("PYRITE_STATIC_DOTFILES", "1")]);
    assert_eq!(by_env.get("/.env").text(), "SECRET=1");
    drop(by_env);
    assert_eq!(server.get("/.git/config").status, 200);
    assert_eq!(server.get("/out.txt").status, 404);

    let mounted = Server::start(&["--static", &format!("/assets={root}")]);
    assert_eq!(mounted.get("/assets").header("location"), Some("/assets/"));
    assert_eq!(
        mounted.get("/assets/dir").header("location"),
        Some("/assets/dir/")
    );
    assert_eq!(mounted.get("/assets/hello.txt").status, 200);
}

#[test]
fn traversal_corpus_never_leaves_the_root() {
    let (dir, root) = docroot("traversal");
    std::fs::create_dir_all(dir.join("root/a/b")).unwrap();
    let server = Server::start(&[
        "--docroot",
        &root,
        "--static-dotfiles",
        "--static-autoindex",
    ]);
    let mounted = Server::start(&["--static", &format!("/s={root}"), "--static-dotfiles"]);
    let attacks = [
        "/../secret.txt",
        "/a/../../secret.txt",
        "/a/b/../../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/a/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/a%2f..%2f..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        "/..%5csecret.txt",
        "/..%5Csecret.txt",
        "/..\\secret.txt",
        "/a\\..\\..\\secret.txt",
        "/secret.txt%00",
        "/hello.txt%00/../../secret.txt",
        "/%00../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%ae%c0%ae%c0%afsecret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/%c1%9c..%c1%9csecret.txt",
        "/..;/secret.txt",
        "/.../secret.txt",
        "/....//secret.txt",
        "/%u002e%u002e/secret.txt",
        "/a/b/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/a/./../../secret.txt",
    ];
    for attack in attacks {
        for (srv, prefix) in [(&server, ""), (&mounted, "/s")] {
            let target = format!("{prefix}{attack}");
            let r = srv.raw(
                format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
            );
            assert!(r.status < 500, "{target}: {}", r.status);
            assert!(
                !r.text().contains("TOP SECRET"),
                "{target} leaked the secret"
            );
            assert!(
                r.status != 200 || !r.text().contains("secret"),
                "{target}: {}",
                r.text()
            );
        }
    }
    // Absolute paths and absolute-form targets stay inside the root too.
    let secret = dir.join("secret.txt").to_string_lossy().into_owned();
    for target in [
        format!("/{secret}"),
        format!("/%2f{}", &secret[1..]),
        "http://t/../secret.txt".to_string(),
    ] {
        let r = server.raw(
            format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(
            r.status < 500 && !r.text().contains("TOP SECRET"),
            "{target}: {}",
            r.status
        );
    }
    assert!(!server.stdout().contains("\" 500 "));
    assert!(!mounted.stdout().contains("\" 500 "));
    assert!(!server.stderr().contains("panicked"));
}

#[test]
fn get_and_head_match_other_methods_get_405() {
    let (dir, root) = docroot("methods");
    std::fs::write(dir.join("root/big.bin"), digits(600_000)).unwrap();
    let server = Server::start(&["--docroot", &root]);
    for path in ["/hello.txt", "/big.bin", "/dir/"] {
        let get = server.get(path);
        let head = server.request("HEAD", path, &[]);
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty(), "{path}: HEAD has no body");
        let strip = |r: &support::Reply| {
            r.headers
                .iter()
                .filter(|(k, _)| k != "date")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&get), strip(&head), "{path}");
        assert_eq!(
            get.header("content-length"),
            Some(get.body.len().to_string().as_str())
        );
    }
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = server.request(method, "/hello.txt", &[("Content-Length", "0")]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
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
    let first = server.get("/page.txt");
    assert_eq!(first.text(), "version one");
    assert_eq!(server.get("/page.txt").text(), "version one");

    // New content under the very same modification time: the size gives it away.
    std::fs::write(&path, "version two!").unwrap();
    set_mtime(&path, old_mtime);
    let second = server.get("/page.txt");
    assert_eq!(second.text(), "version two!");
    assert!(
        server.wait_for_stderr("file changed on disk"),
        "the cached copy was revalidated"
    );
    assert_ne!(first.header("etag"), second.header("etag"));
    // Same size, written just now.
    backdate(&path);
    assert_eq!(server.get("/page.txt").text(), "version two!");
    std::fs::write(&path, "version 3!!!").unwrap();
    assert_eq!(server.get("/page.txt").text(), "version 3!!!");
    // Replaced by rename (a new inode), as deploy tools do, with the old time kept.
    std::fs::write(dir.join("new.txt"), "version four").unwrap();
    set_mtime(&dir.join("new.txt"), old_mtime);
    std::fs::rename(dir.join("new.txt"), &path).unwrap();
    assert_eq!(server.get("/page.txt").text(), "version four");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(server.get("/page.txt").status, 404);

    // A streamed (large) file is revalidated the same way.
    assert_eq!(server.get("/big.bin").body.len(), 400_000);
    std::fs::write(&big, vec![b'b'; 500_000]).unwrap();
    assert_eq!(server.get("/big.bin").body, vec![b'b'; 500_000]);
}

#[test]
fn static_hits_are_in_the_access_log() {
    let (_dir, root) = docroot("accesslog");
    let server = Server::start(&["--docroot", &root]);
    server.get("/hello.txt");
    server.request("GET", "/hello.txt", &[("Range", "bytes=0-4")]);
    server.request("HEAD", "/hello.txt", &[]);
    server.get("/missing.txt");
    assert!(server.wait_for_stdout("\"GET /hello.txt HTTP/1.1\" 200 13 "));
    assert!(server.wait_for_stdout("\"GET /hello.txt HTTP/1.1\" 206 5 "));
    assert!(server.wait_for_stdout("\"HEAD /hello.txt HTTP/1.1\" 200 0 "));
    assert!(server.wait_for_stdout("\"GET /missing.txt HTTP/1.1\" 404 "));
}

#[test]
fn autoindex_lists_escaped_names_and_is_off_by_default() {
    let (dir, root) = docroot("autoindex");
    let e = dir.join("root/empty");
    std::fs::write(e.join("<img src=x onerror=alert(1)>.txt"), "x").unwrap();
    std::fs::write(e.join("a&b \"q\".txt"), "y").unwrap();
    std::fs::write(e.join(".hidden"), "z").unwrap();
    std::fs::create_dir_all(e.join("sub dir")).unwrap();
    let off = Server::start(&["--docroot", &root]);
    assert_eq!(off.get("/empty/").status, 404);
    drop(off);
    let server = Server::start(&["--docroot", &root, "--static-autoindex"]);
    let page = server.get("/empty/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
        "{html}"
    );
    assert!(html.contains("a&amp;b &quot;q&quot;.txt"), "{html}");
    assert!(
        html.contains("href=\"%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt\""),
        "{html}"
    );
    assert!(html.contains("href=\"sub%20dir/\""), "{html}");
    assert!(!html.contains(".hidden"), "{html}");
    assert_eq!(server.get("/empty").status, 301);
    // A directory with an index.html still serves it.
    assert_eq!(server.get("/dir/").text(), "<p>dir index</p>\n");
    // The linked names resolve.
    assert_eq!(
        server
            .get("/empty/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt")
            .text(),
        "x"
    );
    assert_eq!(server.get("/empty/a%26b%20%22q%22.txt").text(), "y");
}
