//! Files or the app: a `--static` mount answers files or 404 and never calls the app;
//! `--docroot` falls back to the app for what is not a file; `--app-suffix` sends only
//! matching paths to the app; with no app, what no root holds is 404.

use crate::support::{apps_dir, fetch, get, Server};

use super::{s, site};

#[test]
fn static_mount_is_files_or_404_even_with_an_app() {
    let root = site();
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
    let root = site();
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
    let root = site();
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
    let root = site();
    let mount = format!("/assets={}", s(&root));
    let server = Server::start(&["--static", &mount]);
    let r = fetch(&server.addr, "GET", "/other", &[], b"");
    assert_eq!(r.status, 404);
}
