//! The seed demo in `examples/seed`, run the way its README line says:
//! `pyrite --docroot html --pythonpath wsgiPy --app-suffix .py app:application` from that folder.

use crate::support::{fetch, get, manifest_dir, post, pyrite, Server};

fn seed() -> Server {
    pyrite()
        .cwd(manifest_dir().join("examples").join("seed"))
        .args(&[
            "--docroot",
            "html",
            "--pythonpath",
            "wsgiPy",
            "--app-suffix",
            ".py",
            "app:application",
        ])
        .start()
}

#[test]
fn seed_index_links_and_forms() {
    let server = seed();
    let r = get(&server.addr, "/");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    assert!(page.contains("href=\"/app.py?name=world\""), "{page}");
    assert!(page.contains("href=\"/about.html\""), "{page}");
    assert!(page.contains("method=\"get\""), "{page}");
    assert!(page.contains("method=\"post\""), "{page}");
    assert_eq!(page.matches("action=\"/app.py\"").count(), 2, "{page}");
    assert_eq!(get(&server.addr, "/index.html").text(), page);
}

#[test]
fn seed_about_page() {
    let server = seed();
    let r = get(&server.addr, "/about.html");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<h1>About</h1>"));
}

#[test]
fn seed_missing_page_is_404() {
    let server = seed();
    let r = get(&server.addr, "/missing.html");
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
}

#[test]
fn seed_app_greets_by_name_and_shows_environ() {
    let server = seed();
    let r = get(&server.addr, "/app.py?name=x");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    assert!(page.contains("Hello, x!"), "{page}");
    for key in [
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "wsgi.version",
    ] {
        assert!(
            page.contains(&format!("<th>{key}</th>")),
            "environ table lacks {key}"
        );
    }
    assert!(page.contains("<td>name=x</td>"), "{page}");
    // Keys are sorted.
    let at = |k: &str| page.find(&format!("<th>{k}</th>")).unwrap();
    assert!(at("PATH_INFO") < at("QUERY_STRING"));
    assert!(at("QUERY_STRING") < at("REQUEST_METHOD"));
    assert!(at("REQUEST_METHOD") < at("wsgi.version"));
}

#[test]
fn seed_app_escapes_html_and_decodes_utf8() {
    let server = seed();
    let r = get(
        &server.addr,
        "/app.py?name=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    );
    let page = r.text();
    assert!(
        page.contains("Hello, &lt;script&gt;alert(1)&lt;/script&gt;!"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "unescaped input in the page");
    let r = get(&server.addr, "/app.py?name=%E4%BD%A0%E5%A5%BD");
    assert!(r.text().contains("Hello, 你好!"), "{}", r.text());
}

#[test]
fn seed_post_form_is_echoed() {
    let server = seed();
    let r = post(
        &server.addr,
        "/app.py",
        "application/x-www-form-urlencoded",
        b"name=Ada&message=hi+there%21",
    );
    assert_eq!(r.status, 200);
    let page = r.text();
    assert!(page.contains("Hello, Ada!"), "{page}");
    assert!(
        page.contains("<th>message</th><td>hi there!</td>"),
        "{page}"
    );
    assert!(page.contains("<td>POST</td>"), "{page}");
}

#[test]
fn seed_head_of_static_page() {
    let server = seed();
    let r = fetch(&server.addr, "HEAD", "/about.html", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let len: usize = r.header("content-length").unwrap().parse().unwrap();
    assert_eq!(len, get(&server.addr, "/about.html").body.len());
}
