//! The response for a file: the representation chosen by `Accept-Encoding`, its validators
//! and caching headers, the preconditions of RFC 9110 §13.2.2, then the whole file (200), one
//! range (206), several (206 `multipart/byteranges`, §14.6) or none satisfiable (416).

use std::hash::{BuildHasher, Hasher};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE};
use http::{Method, Response, StatusCode};

use super::cache::{self, Entry, Opened};
use super::conditional::{self, Verdict};
use super::encoding;
use super::options::Options;
use super::range::{self, ByteRange, Ranges};
use super::resolve;
use crate::http::fields::{text, Fields, Known};
use crate::http::{pages, Body, FileBody, Head};

/// Answers a GET or HEAD for the file `main` (already found under `root`). The entry's
/// prerendered fields go with the body, so a plain 200 or a 304 builds no field map. A HEAD
/// gets the GET's body, which the writer measures for Content-Length but never sends.
pub fn file(req: &Head, root: &Path, main: Opened, options: &Options) -> Response<Body> {
    let headers = &req.fields;
    let chosen = precompressed(headers, root, &main).unwrap_or(main);
    let entry = chosen.entry.clone();
    let cache_control = if entry.hashed_name {
        options.cache_control_immutable.clone()
    } else {
        options.cache_control.clone()
    };
    match conditional::evaluate(headers, &entry.etag, entry.modified) {
        Verdict::Proceed => {}
        // §15.4.5: a 304 carries the validators and caching fields a 200 would have.
        Verdict::NotModified => {
            let body = Body::empty().with_fields(entry.fields.validators(), cache_control);
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        Verdict::Failed => return pages::error(StatusCode::PRECONDITION_FAILED),
    }
    let (status, body) = match requested_ranges(req, &entry) {
        Ranges::Ignore => (
            StatusCode::OK,
            whole(chosen).with_fields(entry.fields.all(), cache_control),
        ),
        Ranges::Unsatisfiable => {
            let mut refused = pages::error(StatusCode::RANGE_NOT_SATISFIABLE);
            let value = HeaderValue::try_from(format!("bytes */{}", entry.len));
            if let Ok(value) = value {
                refused.headers_mut().insert(CONTENT_RANGE, value);
            }
            return refused;
        }
        Ranges::Satisfiable(parts) if parts.len() == 1 => {
            let part = parts[0];
            let body = one_range(chosen, part).with_fields(entry.fields.all(), cache_control);
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(value) = HeaderValue::try_from(part.content_range(entry.len)) {
                response.headers_mut().insert(CONTENT_RANGE, value);
            }
            return response;
        }
        Ranges::Satisfiable(parts) => {
            let boundary = boundary();
            let body = multipart(chosen, &parts, &boundary)
                .with_fields(entry.fields.without_type(), cache_control);
            let mut response = Response::new(body);
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let content_type = format!("multipart/byteranges; boundary={boundary}");
            if let Ok(value) = HeaderValue::try_from(content_type) {
                response.headers_mut().insert(CONTENT_TYPE, value);
            }
            return response;
        }
    };
    tracing::debug!(path = %entry.path.display(), status = status.as_u16(), len = entry.len, coding = ?entry.coding, "static file");
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// The precompressed sibling the client prefers, if one exists inside the root. That a sibling
/// is missing is remembered too, for as long as its directory is unchanged (adding a file to a
/// directory changes its times): one stat of the directory instead of one per coding, and
/// none while the change watches stand.
fn precompressed(headers: &Fields, root: &Path, main: &Opened) -> Option<Opened> {
    let mut dir = cache::DirCheck::new(main);
    let main = &main.entry;
    encoding::acceptable(headers)
        .into_iter()
        .find_map(|coding| {
            let mut raw = main.path.clone().into_os_string().into_vec();
            raw.push(b'.');
            raw.extend_from_slice(coding.extension().as_bytes());
            let key = PathBuf::from(std::ffi::OsString::from_vec(raw));
            if let Some(opened) = cache::get(root, &key) {
                return Some(opened);
            }
            if dir.known_missing(&key) {
                return None;
            }
            if std::fs::symlink_metadata(&key).is_err() {
                dir.remember_missing(&key);
                return None;
            }
            let on_disk = resolve::open_file(root, &key)?;
            cache::insert(&key, on_disk, Some(coding))
        })
}

/// The ranges to send, after `If-Range` (RFC 9110 §13.1.5); ranges apply to GET only (§14.2).
fn requested_ranges(req: &Head, entry: &Entry) -> Ranges {
    if req.method != Method::GET {
        return Ranges::Ignore;
    }
    let Some(value) = req.fields.get(Known::Range).and_then(text) else {
        return Ranges::Ignore;
    };
    if let Some(if_range) = req.fields.get(Known::IfRange) {
        if !conditional::if_range_holds(if_range, &entry.etag, entry.modified) {
            return Ranges::Ignore;
        }
    }
    range::parse(value, entry.len)
}

fn whole(opened: Opened) -> Body {
    let len = opened.entry.len;
    one_range(opened, ByteRange { start: 0, end: len })
}

/// One slice of the representation: from memory when cached, else streamed from the file.
fn one_range(opened: Opened, part: ByteRange) -> Body {
    if let Some(data) = &opened.entry.data {
        return Body::full(data.slice(part.start as usize..part.end as usize));
    }
    let mut stream = FileBody::new(opened.file);
    stream.push_file(part.start, part.len());
    Body::file(stream)
}

/// A `multipart/byteranges` body (RFC 9110 §14.6).
fn multipart(opened: Opened, parts: &[ByteRange], boundary: &str) -> Body {
    let entry = opened.entry.clone();
    let content_type = entry
        .content_type
        .to_str()
        .unwrap_or("application/octet-stream");
    let mut stream = FileBody::new(opened.file);
    for part in parts {
        let header = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            part.content_range(entry.len)
        );
        stream.push_bytes(Bytes::from(header));
        match &entry.data {
            Some(data) => stream.push_bytes(data.slice(part.start as usize..part.end as usize)),
            None => stream.push_file(part.start, part.len()),
        }
    }
    stream.push_bytes(Bytes::from(format!("\r\n--{boundary}--\r\n")));
    Body::file(stream)
}

/// A boundary that cannot be guessed, so a file cannot contain it by design (RFC 2046 §5.1.1).
fn boundary() -> String {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("pyrite{random:016x}")
}
