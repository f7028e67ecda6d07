//! `--static-autoindex`: an HTML listing of a directory that has no `index.html`. Names are
//! HTML-escaped in the text and percent-encoded in the links; dotfiles are listed only with
//! `--static-dotfiles`.

use std::fmt::Write;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::http::{pages, Body};

/// Everything but unreserved characters and `/` is encoded in a link (RFC 3986 §2.3).
const LINK: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b':')
    .add(b';')
    .add(b'=')
    .add(b'+')
    .add(b'@')
    .add(b'$')
    .add(b',');

/// The listing of the directory `dir` (opened beneath its root), shown at `request_path` (which
/// ends in `/`). It is read through its descriptor, so a directory swapped for a symlink since it
/// was opened cannot have another directory listed in its place.
pub fn page(method: &Method, request_path: &str, dir: &File, dotfiles: bool) -> Response<Body> {
    let opened = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let mut entries: Vec<(String, bool)> = match std::fs::read_dir(&opened) {
        Ok(read) => read
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                if name.as_bytes().starts_with(b".") && !dotfiles {
                    return None;
                }
                let is_dir = e.file_type().ok()?.is_dir();
                Some((
                    String::from_utf8_lossy(name.as_bytes()).into_owned(),
                    is_dir,
                ))
            })
            .collect(),
        Err(err) => {
            tracing::warn!(path = request_path, error = %err, "cannot list directory");
            return pages::error(StatusCode::NOT_FOUND);
        }
    };
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let title = escape(&String::from_utf8_lossy(&crate::text::decode_path(
        request_path,
    )));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1><hr><ul>\n<li><a href=\"../\">../</a></li>\n"
    );
    for (name, is_dir) in &entries {
        let slash = if *is_dir { "/" } else { "" };
        let href = utf8_percent_encode(name, LINK);
        let _ = writeln!(
            html,
            "<li><a href=\"{href}{slash}\">{}{slash}</a></li>",
            escape(name)
        );
    }
    html.push_str("</ul><hr><p>pyrite</p></body></html>\n");
    let len = html.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::full(html)
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// HTML text escaping: `&`, `<`, `>`, `"` and `'`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
