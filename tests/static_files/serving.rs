//! Serving files: content types, lengths and precompressed siblings (RFC 9110 §8.3, §8.4,
//! §12.5.3), index pages, the 404 page, GET/HEAD and the 405 for other methods, directories,
//! dotfiles and symlinks, and the autoindex.

use crate::support::{fetch, get, pyrite, Conn, Framing, Response, Server, WAIT};

use super::{digits, docroot, s, site};

#[test]
fn content_types_lengths_and_precompressed_siblings() {
    let (dir, root) = docroot("encodings");
    let r = dir.join("root");
    std::fs::write(r.join("app.js"), "plain js").unwrap();
    std::fs::write(r.join("app.js.br"), "brotli bytes").unwrap();
    std::fs::write(r.join("app.js.gz"), "gzip bytes").unwrap();
    std::fs::write(r.join("style.css"), "css").unwrap();
    std::fs::write(r.join("style.css.gz"), "gz css").unwrap();
    std::fs::write(r.join("pic.png"), [0x89, b'P', b'N', b'G']).unwrap();
    std::fs::write(r.join("blob.zzunknown"), "?").unwrap();
    std::fs::write(r.join("data.json"), "{\"a\": 1}\n").unwrap();
    std::fs::write(r.join("dir/page.txt"), "dir page\n").unwrap();
    let server = Server::start(&["--docroot", &root]);

    // Each file whole, framed by its length, with its type (exact, or a prefix of it).
    for (path, exact, prefix) in [
        ("/style.css", "text/css; charset=utf-8", ""),
        ("/hello.txt", "text/plain; charset=utf-8", ""),
        ("/dir/", "text/html; charset=utf-8", ""),
        ("/dir/index.html", "", "text/html"),
        ("/dir/page.txt", "", "text/plain"),
        ("/pic.png", "image/png", ""),
        ("/blob.zzunknown", "application/octet-stream", ""),
        ("/data.json", "", "application/json"),
    ] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 200, "{path}");
        let file = if path.ends_with('/') {
            format!("{path}index.html")
        } else {
            path.to_string()
        };
        let on_disk = std::fs::read(dir.join("root").join(&file[1..])).unwrap();
        assert_eq!(r.body, on_disk, "{path}");
        assert_eq!(r.framing, Framing::ContentLength, "{path}");
        assert_eq!(
            r.header("content-length"),
            Some(on_disk.len().to_string().as_str()),
            "{path}"
        );
        let ct = r.header("content-type").unwrap_or_default();
        if exact.is_empty() {
            assert!(
                ct.starts_with(prefix),
                "{path}: content-type {ct:?}, want {prefix}"
            );
        } else {
            assert_eq!(ct, exact, "{path}");
        }
    }
    let ct = |path: &str| {
        get(&server.addr, path)
            .header("content-type")
            .unwrap()
            .to_owned()
    };
    assert!(ct("/app.js").contains("javascript"));
    let with = |ae: &str| {
        fetch(
            &server.addr,
            "GET",
            "/app.js",
            &[("Accept-Encoding", ae)],
            b"",
        )
    };
    let plain = get(&server.addr, "/app.js");
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
    let css = fetch(
        &server.addr,
        "GET",
        "/style.css",
        &[("Accept-Encoding", "br, gzip")],
        b"",
    );
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
    let revalidate = fetch(
        &server.addr,
        "GET",
        "/app.js",
        &[("Accept-Encoding", "br"), ("If-None-Match", br_tag)],
        b"",
    );
    assert_eq!(revalidate.status, 304);
    let other = fetch(
        &server.addr,
        "GET",
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", br_tag)],
        b"",
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), "gzip bytes");
}

#[test]
fn a_precompressed_sibling_added_later_is_served_on_the_next_request() {
    let (dir, root) = docroot("late-sibling");
    let r = dir.join("root");
    std::fs::write(r.join("late.js"), "plain js").unwrap();
    std::fs::write(r.join("old.js"), "old").unwrap();
    // A directory unchanged for a while: its missing siblings are remembered.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let server = Server::start(&["--docroot", &root, "--log-level", "pyrite=debug"]);
    let get_gz = |path: &str| {
        fetch(
            &server.addr,
            "GET",
            path,
            &[("Accept-Encoding", "gzip, br")],
            b"",
        )
    };
    for _ in 0..3 {
        let plain = get_gz("/late.js");
        assert_eq!(plain.text(), "plain js");
        assert_eq!(plain.header("content-encoding"), None);
    }
    // Both siblings are known missing from the change watches, not a stat of the directory.
    assert!(
        server.wait_for_stderr("missing name watched", 2, WAIT),
        "{}",
        server.stderr()
    );
    std::fs::write(r.join("late.js.gz"), "gzip bytes").unwrap();
    let gz = get_gz("/late.js");
    assert_eq!(
        (gz.text().as_str(), gz.header("content-encoding")),
        ("gzip bytes", Some("gzip"))
    );
    // Another file of the same directory sees the change too, and keeps its own answer.
    assert_eq!(get_gz("/old.js").text(), "old");
    std::fs::remove_file(r.join("late.js.gz")).unwrap();
    let plain = get_gz("/late.js");
    assert_eq!(
        (plain.text().as_str(), plain.header("content-encoding")),
        ("plain js", None)
    );
}

#[test]
fn root_and_directories_serve_index_html() {
    let root = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    let r = get(&server.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<h1>root index</h1>\n");
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let r = get(&server.addr, "/sub/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<h1>sub index</h1>\n");
}

#[test]
fn missing_file_is_404_html_page() {
    let root = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    for path in ["/missing.html", "/sub/nope.txt", "/nodir/x", "/a/"] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 404, "{path}");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("text/html"), "{path}: content-type {ct:?}");
        assert!(
            r.text().contains('<'),
            "{path}: 404 body not HTML: {}",
            r.text()
        );
    }
}

#[test]
fn get_and_head_match_other_methods_get_405() {
    let (dir, root) = docroot("methods");
    std::fs::write(dir.join("root/big.bin"), digits(600_000)).unwrap();
    let server = Server::start(&["--docroot", &root]);
    for path in ["/hello.txt", "/big.bin", "/dir/"] {
        let get = get(&server.addr, path);
        // (`fetch` also checks that nothing follows the head before the server closes.)
        let head = fetch(&server.addr, "HEAD", path, &[], b"");
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty(), "{path}: HEAD has no body");
        let strip = |r: &Response| {
            r.headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&get), strip(&head), "{path}");
        assert_eq!(
            get.header("content-length"),
            Some(get.body.len().to_string().as_str())
        );
    }
    // On a persistent connection, HEAD of a file and of a missing file: had either carried a
    // body, the next response on the connection would not parse.
    let mut conn = Conn::connect(&server.addr);
    let head = conn.roundtrip("HEAD", "/hello.txt", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert!(head
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(conn.roundtrip("HEAD", "/nope.txt", &[], b"").status, 404);
    let next = conn.roundtrip("GET", "/hello.txt", &[("Connection", "close")], b"");
    assert_eq!(next.status, 200);
    assert_eq!(next.text(), "hello, world\n");
    assert!(conn.closed_by_server());
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = fetch(
            &server.addr,
            method,
            "/hello.txt",
            &[("Content-Length", "0")],
            b"",
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
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

    assert_eq!(
        get(&server.addr, "/").status,
        404,
        "no index.html, no autoindex"
    );
    let index = get(&server.addr, "/dir/");
    assert_eq!(
        (index.status, index.text().as_str()),
        (200, "<p>dir index</p>\n")
    );
    let redirect = get(&server.addr, "/dir?a=1&b=2");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/dir/?a=1&b=2"));
    assert_eq!(get(&server.addr, "/dir").header("location"), Some("/dir/"));
    assert_eq!(
        get(&server.addr, "//dir").header("location"),
        Some("/dir/"),
        "never //host"
    );
    assert_eq!(get(&server.addr, "/hello.txt/").status, 404);
    assert_eq!(get(&server.addr, "/.env").status, 404);
    assert_eq!(get(&server.addr, "/.git/config").status, 404);
    assert_eq!(get(&server.addr, "/dir/%2e%65nv").status, 404);
    assert_eq!(get(&server.addr, "/.well-known/security.txt").status, 200);
    assert_eq!(get(&server.addr, "/out.txt").status, 404);
    assert_eq!(get(&server.addr, "/outdir/secret.txt").status, 404);
    assert_eq!(get(&server.addr, "/outdir").status, 404);
    assert_eq!(get(&server.addr, "/in.txt").text(), "hello, world\n");
    drop(server);

    let server = Server::start(&["--docroot", &root, "--static-dotfiles"]);
    assert_eq!(get(&server.addr, "/.env").text(), "SECRET=1");
    let by_env = pyrite()
        .args(&["--docroot", &root])
        .env("PYRITE_STATIC_DOTFILES", "1")
        .start();
    assert_eq!(get(&by_env.addr, "/.env").text(), "SECRET=1");
    drop(by_env);
    assert_eq!(get(&server.addr, "/.git/config").status, 200);
    assert_eq!(get(&server.addr, "/out.txt").status, 404);

    let mounted = Server::start(&["--static", &format!("/assets={root}")]);
    assert_eq!(
        get(&mounted.addr, "/assets").header("location"),
        Some("/assets/")
    );
    assert_eq!(
        get(&mounted.addr, "/assets/dir").header("location"),
        Some("/assets/dir/")
    );
    assert_eq!(get(&mounted.addr, "/assets/hello.txt").status, 200);
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
    assert_eq!(get(&off.addr, "/empty/").status, 404);
    drop(off);
    let server = Server::start(&["--docroot", &root, "--static-autoindex"]);
    let page = get(&server.addr, "/empty/");
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
    assert_eq!(get(&server.addr, "/empty").status, 301);
    // A directory with an index.html still serves it.
    assert_eq!(get(&server.addr, "/dir/").text(), "<p>dir index</p>\n");
    // The linked names resolve.
    assert_eq!(
        get(
            &server.addr,
            "/empty/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"
        )
        .text(),
        "x"
    );
    assert_eq!(get(&server.addr, "/empty/a%26b%20%22q%22.txt").text(), "y");
}
