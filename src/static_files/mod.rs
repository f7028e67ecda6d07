//! Static files, served on the runtime thread without ever touching Python.
//! `resolve` maps a request path to a file safely inside its root, `cache` keeps small files
//! (and every file's validators) per worker, `watch` tells it when the disk may have changed,
//! `headers`, `conditional`, `range` and `encoding` hold the RFC 9110 rules, `reply` assembles
//! the response (its body built from the kinds `http` owns: bytes, or a file body of bytes and
//! file ranges), and `listing` the optional directory index.

mod beneath;
mod cache;
mod conditional;
mod encoding;
mod headers;
mod listing;
mod options;
mod range;
mod reply;
mod resolve;
mod watch;

use std::path::Path;

use http::header::{HeaderValue, ALLOW, LOCATION};
use http::{Method, Response, StatusCode};

use crate::http::{pages, Body, Head};

pub use options::Options;

/// Answers `req` from the directory `root`, where `rel` is the still-encoded part of the
/// request path below it. `None` means nothing is there (the caller sends a 404 or asks the
/// app).
pub fn serve(req: &Head, root: &Path, rel: &str, options: &Options) -> Option<Response<Body>> {
    let target = resolve::target(root, rel, options.dotfiles)?;
    // Known and unchanged: from the cache; else looked up on disk, and a file is cached.
    let found = match cache::get(root, &target.key) {
        Some(opened) => Found::File(opened),
        None => match resolve::find(root, &target)? {
            resolve::Found::File(on_disk) => {
                Found::File(cache::insert(&target.key, on_disk, None)?)
            }
            resolve::Found::Directory(dir) => Found::Directory(dir),
        },
    };
    let method = &req.method;
    let allowed = method == Method::GET || method == Method::HEAD;
    match found {
        _ if !allowed => Some(method_not_allowed()),
        Found::File(opened) => Some(reply::file(req, root, opened, options)),
        Found::Directory(_) if !target.trailing_slash => Some(redirect(req)),
        Found::Directory(dir) if options.autoindex => {
            Some(listing::page(method, req.path(), &dir, options.dotfiles))
        }
        Found::Directory(_) => None,
    }
}

/// A request's target: a cached (or just cached) file, or a directory (opened).
enum Found {
    File(cache::Opened),
    Directory(std::fs::File),
}

/// RFC 9110 §15.5.6: a 405 names the methods the resource has.
fn method_not_allowed() -> Response<Body> {
    let mut response = pages::error(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// `/dir` → 301 to `/dir/`, query kept, so relative links inside the directory's index work.
fn redirect(req: &Head) -> Response<Body> {
    // One leading slash only: `//host/dir` must not become a protocol-relative redirect.
    let path = req.path().trim_start_matches('/');
    let location = match req.query() {
        Some(query) => format!("/{path}/?{query}"),
        None => format!("/{path}/"),
    };
    let mut response = pages::error(StatusCode::MOVED_PERMANENTLY);
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}
