//! Static files: `--docroot`, `--static PREFIX=DIR`, `--app-suffix`, HEAD, index.html,
//! Content-Type/Length, and every way of trying to leave the root (always 404, never 500).

mod common;

use common::http::{fetch, get, Conn, Framing};
use common::{apps_dir, manifest_dir, tmpdir, Server};
use std::fs;
use std::path::{Path, PathBuf};

const SECRET: &str = "TOP-SECRET-OUTSIDE-ROOT";

/// `<tmp>/root/` with a few files, and `<tmp>/secret.txt` + `<tmp>/outside/secret.txt` next to
/// it (outside the root), plus symlinks in the root pointing out.
fn site() -> (PathBuf, PathBuf) {
    let base = tmpdir("static");
    let root = base.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    fs::write(root.join("index.html"), "<h1>root index</h1>\n").unwrap();
    fs::write(root.join("style.css"), "body { color: red; }\n").unwrap();
    fs::write(root.join("data.json"), "{\"a\": 1}\n").unwrap();
    fs::write(root.join("notes.txt"), "plain notes\n").unwrap();
    fs::write(root.join("pixel.png"), b"\x89PNG\r\n\x1a\nnot-really").unwrap();
    fs::write(root.join("sub").join("index.html"), "<h1>sub index</h1>\n").unwrap();
    fs::write(root.join("sub").join("page.txt"), "sub page\n").unwrap();
    fs::write(root.join("a").join("inner.txt"), "inner\n").unwrap();
    fs::write(base.join("secret.txt"), SECRET).unwrap();
    fs::write(base.join("outside").join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(base.join("outside"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel-leak.txt")).unwrap();
    (base, root)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn file_served_with_type_and_length() {
    let (_base, root) = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    for (path, ty) in [
        ("/style.css", "text/css"),
        ("/index.html", "text/html"),
        ("/data.json", "application/json"),
        ("/notes.txt", "text/plain"),
        ("/pixel.png", "image/png"),
        ("/sub/page.txt", "text/plain"),
    ] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 200, "{path}");
        let on_disk = fs::read(root.join(&path[1..])).unwrap();
        assert_eq!(r.body, on_disk, "{path}");
        assert_eq!(r.framing, Framing::ContentLength, "{path}");
        assert_eq!(
            r.header("content-length"),
            Some(on_disk.len().to_string().as_str()),
            "{path}"
        );
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with(ty), "{path}: content-type {ct:?}, want {ty}");
    }
}

#[test]
fn large_file_is_byte_exact() {
    let (_base, root) = site();
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(root.join("big.bin"), &data).unwrap();
    let server = Server::start(&["--docroot", &s(&root)]);
    let r = get(&server.addr, "/big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "large file body differs");
}

#[test]
fn root_and_directories_serve_index_html() {
    let (_base, root) = site();
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
    let (_base, root) = site();
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
fn head_gives_headers_without_body() {
    let (_base, root) = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    let mut conn = Conn::connect(&server.addr);
    let head = conn.roundtrip("HEAD", "/style.css", &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("21"));
    assert!(head.header("content-type").unwrap().starts_with("text/css"));
    // If HEAD had carried a body, it would corrupt the next response on this connection.
    let next = conn.roundtrip("GET", "/notes.txt", &[("Connection", "close")], b"");
    assert_eq!(next.status, 200);
    assert_eq!(next.text(), "plain notes\n");
    assert!(conn.closed_by_server());
}

#[test]
fn head_of_missing_file_is_404_without_body() {
    let (_base, root) = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    let mut conn = Conn::connect(&server.addr);
    let r = conn.roundtrip("HEAD", "/nope.txt", &[], b"");
    assert_eq!(r.status, 404);
    let next = conn.roundtrip("GET", "/notes.txt", &[("Connection", "close")], b"");
    assert_eq!(next.status, 200);
    assert_eq!(next.text(), "plain notes\n");
}

const ESCAPES: &[&str] = &[
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/a%2f..%2f..%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/a%5c..%5c..%5csecret.txt",
    "/link/secret.txt",
    "/link/",
    "/leak.txt",
    "/rel-leak.txt",
    "/%2e%2e/outside/secret.txt",
    "//../secret.txt",
];

fn assert_escape_refused(addr: &str, prefix: &str) {
    for path in ESCAPES {
        let target = format!("{prefix}{path}");
        let r = get(addr, &target);
        assert_eq!(r.status, 404, "{target}: status {}", r.status);
        assert!(!r.text().contains(SECRET), "{target} leaked the secret");
    }
}

#[test]
fn traversal_attempts_are_404_in_docroot() {
    let (_base, root) = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    assert_escape_refused(&server.addr, "");
    // The server still works normally afterwards.
    assert_eq!(get(&server.addr, "/notes.txt").status, 200);
}

#[test]
fn traversal_attempts_are_404_under_static_mount() {
    let (_base, root) = site();
    let mount = format!("/assets={}", s(&root));
    let server = Server::start(&["--static", &mount]);
    assert_eq!(
        get(&server.addr, "/assets/notes.txt").text(),
        "plain notes\n"
    );
    assert_escape_refused(&server.addr, "/assets");
}

#[test]
fn traversal_to_the_repository_is_404() {
    // The seed's html folder lies two levels below Cargo.toml.
    let html = manifest_dir().join("examples").join("seed").join("html");
    let server = Server::start(&["--docroot", &s(&html)]);
    for path in [
        "/../../Cargo.toml",
        "/../Cargo.toml",
        "/%2e%2e/%2e%2e/Cargo.toml",
        "/..%2f..%2fCargo.toml",
        "/x/..%2f..%2f..%2fCargo.toml",
    ] {
        let r = get(&server.addr, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.text().contains("[package]"), "{path} leaked Cargo.toml");
    }
}

#[test]
fn static_mount_is_files_or_404_even_with_an_app() {
    let (_base, root) = site();
    let mount = format!("/assets={}", s(&root));
    let server = Server::start(&["--static", &mount, "--pythonpath", &apps_dir(), "hello"]);
    let r = get(&server.addr, "/assets/style.css");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "body { color: red; }\n");
    let r = get(&server.addr, "/assets/missing.css");
    assert_eq!(
        r.status, 404,
        "a missing file under a mount must not reach the app"
    );
    let r = get(&server.addr, "/elsewhere");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, world!\n");
}

#[test]
fn docroot_falls_back_to_app() {
    let (_base, root) = site();
    let server = Server::start(&["--docroot", &s(&root), "--pythonpath", &apps_dir(), "echo"]);
    let r = get(&server.addr, "/notes.txt");
    assert_eq!(r.text(), "plain notes\n");
    let r = get(&server.addr, "/");
    assert_eq!(r.text(), "<h1>root index</h1>\n");
    let r = get(&server.addr, "/not/a/file?q=1");
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j.at("path").str(), "/not/a/file");
    assert_eq!(j.at("query").str(), "q=1");
}

#[test]
fn app_suffix_routes_only_matching_paths_to_app() {
    let (_base, root) = site();
    let server = Server::start(&[
        "--docroot",
        &s(&root),
        "--app-suffix",
        ".py",
        "--pythonpath",
        &apps_dir(),
        "echo",
    ]);
    let r = get(&server.addr, "/app.py?name=x");
    assert_eq!(r.status, 200);
    assert_eq!(r.json().at("path").str(), "/app.py");
    assert_eq!(r.json().at("query").str(), "name=x");
    let r = get(&server.addr, "/deep/er/thing.py");
    assert_eq!(r.json().at("path").str(), "/deep/er/thing.py");
    let r = get(&server.addr, "/missing.html");
    assert_eq!(r.status, 404, "non-.py paths must not reach the app");
    let r = get(&server.addr, "/");
    assert_eq!(r.text(), "<h1>root index</h1>\n");
    let r = get(&server.addr, "/sub/page.txt");
    assert_eq!(r.text(), "sub page\n");
}

#[test]
fn no_app_and_no_docroot_match_is_404() {
    let (_base, root) = site();
    let mount = format!("/assets={}", s(&root));
    let server = Server::start(&["--static", &mount]);
    let r = fetch(&server.addr, "GET", "/other", &[], b"");
    assert_eq!(r.status, 404);
}
