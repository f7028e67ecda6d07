//! The response for a resolved file: Content-Type from the extension, Content-Length,
//! Last-Modified, and the bytes — read whole when small, in blocks when large.

use std::fs::File;
use std::io::Read;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, LAST_MODIFIED, SERVER};
use http::{Method, Response, StatusCode};

use super::Resolved;
use crate::http::{pages, Body};

/// Files up to this size are read in one go; larger ones stream block by block.
const WHOLE_FILE_LIMIT: u64 = 256 * 1024;
const BLOCK: usize = 64 * 1024;

/// Serves `file` for a GET or HEAD; any other method gets 405.
pub fn serve(method: &Method, file: Resolved) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = pages::error(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let len = file.meta.len();
    let body = if method == Method::HEAD {
        Ok(Body::empty())
    } else if len <= WHOLE_FILE_LIMIT {
        std::fs::read(&file.path).map(Body::full)
    } else {
        File::open(&file.path).map(|f| {
            Body::file(FileStream {
                file: f,
                remaining: len,
            })
        })
    };
    let body = match body {
        Ok(body) => body,
        Err(err) => {
            tracing::warn!(path = %file.path.display(), error = %err, "cannot read file");
            return pages::error(StatusCode::NOT_FOUND);
        }
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, content_type(&file.path));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(modified) = file.meta.modified() {
        if let Ok(value) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
            headers.insert(LAST_MODIFIED, value);
        }
    }
    headers.insert(SERVER, pages::SERVER_NAME);
    response
}

/// The MIME type for a file name; text types are declared UTF-8.
fn content_type(path: &std::path::Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.essence_str(),
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    let value = if textual && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// A large file read one block per poll, so memory stays bounded whatever its size.
pub struct FileStream {
    file: File,
    remaining: u64,
}

impl FileStream {
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// The next block; an error (or the file shrinking under us) aborts the connection, since
    /// Content-Length was already promised.
    pub fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if self.remaining == 0 {
            return None;
        }
        let want = BLOCK.min(self.remaining as usize);
        let mut buf = BytesMut::zeroed(want);
        match self.file.read(&mut buf) {
            Ok(0) => Some(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while being sent",
            ))),
            Ok(n) => {
                buf.truncate(n);
                self.remaining -= n as u64;
                Some(Ok(buf.freeze()))
            }
            Err(err) => Some(Err(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let ct = |p: &str| {
            content_type(std::path::Path::new(p))
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(ct("a.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a.css"), "text/css; charset=utf-8");
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("a.unknownext"), "application/octet-stream");
    }
}
