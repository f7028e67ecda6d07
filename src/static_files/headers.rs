//! Header values computed once per file: the strong `ETag`, `Last-Modified`, the
//! `Content-Type` from the extension (mime_guess's table, UTF-8 declared for text), and the
//! rule that tells a content-hashed name (`app.3f9a1c2e.js`) from an ordinary one.

use std::path::Path;
use std::time::SystemTime;

use http::header::HeaderValue;

use super::encoding::Coding;

/// A strong validator (RFC 9110 §8.8.3) from the modification time (to the nanosecond) and the
/// size, like nginx's; each precompressed sibling gets its own tag with its coding appended,
/// since its bytes differ (RFC 9110 §8.8.3.3).
pub fn etag(mtime: (i64, i64), len: u64, coding: Option<Coding>) -> HeaderValue {
    let suffix = coding.map_or("", Coding::etag_suffix);
    let value = format!("\"{:x}.{:x}-{len:x}{suffix}\"", mtime.0, mtime.1);
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// An IMF-fixdate (RFC 9110 §5.6.7).
pub fn http_date(time: SystemTime) -> HeaderValue {
    HeaderValue::try_from(httpdate::fmt_http_date(time))
        .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

/// The MIME type for a file name; text types are declared UTF-8 (RFC 9110 §8.3.1).
pub fn content_type(path: &Path) -> HeaderValue {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            mime.essence_str(),
            "application/javascript"
                | "application/json"
                | "application/manifest+json"
                | "application/xml"
                | "image/svg+xml"
        );
    let value = if textual && mime.get_param("charset").is_none() {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.to_string()
    };
    HeaderValue::try_from(value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}

/// A name carries a content hash when, between its first part and its extension, one part
/// (separated by `.` or `-`) is 8 to 64 hex digits with at least one digit 0–9:
/// `app.3f9a1c2e.js`, `chunk-0a1b2c3d4e5f.css`, `logo.5d41402abc4b2a76.svg`. Bundlers put such
/// a hash there so that new content gets a new URL, which lets the old one be `immutable`.
pub fn is_hashed_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    stem.split(['.', '-']).skip(1).any(|part| {
        (8..=64).contains(&part.len())
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && part.bytes().any(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let ct = |p: &str| content_type(Path::new(p)).to_str().unwrap().to_owned();
        assert_eq!(ct("a.html"), "text/html; charset=utf-8");
        assert_eq!(ct("a.css"), "text/css; charset=utf-8");
        assert_eq!(ct("a.png"), "image/png");
        assert_eq!(ct("a.unknownext"), "application/octet-stream");
    }

    #[test]
    fn hashed_names() {
        for hashed in [
            "app.3f9a1c2e.js",
            "chunk-0a1b2c3d4e5f.css",
            "x/logo.5d41402abc4b2a76.svg",
            "vendor.min.0123abcd.js",
        ] {
            assert!(is_hashed_name(Path::new(hashed)), "{hashed}");
        }
        for plain in [
            "app.js",
            "3f9a1c2e.js",
            "app.deadbeef.js",
            "app.3f9a1c2.js",
            "app.js.3f9a1c2e",
            "favicon.ico",
            "app.3F9A1C2E.js",
        ] {
            assert!(!is_hashed_name(Path::new(plain)), "{plain}");
        }
    }

    #[test]
    fn etags_differ_per_coding() {
        let plain = etag((1, 2), 3, None);
        assert_eq!(plain, "\"1.2-3\"");
        assert_ne!(etag((1, 2), 3, Some(Coding::Br)), plain);
        assert_ne!(
            etag((1, 2), 3, Some(Coding::Gzip)),
            etag((1, 2), 3, Some(Coding::Br))
        );
    }
}
