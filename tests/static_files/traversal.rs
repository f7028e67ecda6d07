//! Nothing a client names leaves the document root: `..` in every spelling and encoding,
//! symlinks pointing out, absolute paths and absolute-form targets; always a 4xx (404 for the
//! plain escapes), never a 500, never the secret next to the root.

use crate::support::{exchange, get, manifest_dir, Server};

use super::{docroot, s, site, SECRET};

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
fn traversal_attempts_are_404_in_the_docroot_and_under_a_static_mount() {
    let root = site();
    let server = Server::start(&["--docroot", &s(&root)]);
    assert_escape_refused(&server.addr, "");
    // The server still works normally afterwards.
    assert_eq!(get(&server.addr, "/notes.txt").status, 200);
    let mount = format!("/assets={}", s(&root));
    let server = Server::start(&["--static", &mount]);
    assert_eq!(
        get(&server.addr, "/assets/notes.txt").text(),
        "plain notes\n"
    );
    assert_escape_refused(&server.addr, "/assets");
}

#[test]
fn traversal_corpus_never_leaves_the_root() {
    let (dir, root) = docroot("traversal");
    std::fs::create_dir_all(dir.join("root/a/b")).unwrap();
    let server = Server::start(&[
        "--access-logfile",
        "-",
        "--docroot",
        &root,
        "--static-dotfiles",
        "--static-autoindex",
    ]);
    let mounted = Server::start(&[
        "--access-logfile",
        "-",
        "--static",
        &format!("/s={root}"),
        "--static-dotfiles",
    ]);
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
            let r = exchange(
                &srv.addr,
                format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .response();
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
        let r = exchange(
            &server.addr,
            format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .response();
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
