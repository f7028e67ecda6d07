//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`, `If-None-Match`
//! and `If-Modified-Since`, evaluated in the order of §13.2.2, and the entity-tag comparisons
//! of §8.8.3.2 they rely on.

use std::time::SystemTime;

use http::header::HeaderValue;

use crate::http::fields::{text, Fields, Known};

/// What the preconditions say about a GET or HEAD.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve the representation (ranges may still apply).
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: a precondition the client set does not hold.
    Failed,
}

/// RFC 9110 §13.2.2. `etag` and `modified` describe the selected representation.
pub fn evaluate(headers: &Fields, etag: &HeaderValue, modified: SystemTime) -> Verdict {
    // Steps 1 and 2: If-Match, or else If-Unmodified-Since.
    if headers.contains(Known::IfMatch) {
        if !list_matches(headers, Known::IfMatch, etag, true) {
            return Verdict::Failed;
        }
    } else if let Some(since) = date(headers, Known::IfUnmodifiedSince) {
        if modified > since {
            return Verdict::Failed;
        }
    }
    // Steps 3 and 4: If-None-Match wins over If-Modified-Since (§13.1.3).
    if headers.contains(Known::IfNoneMatch) {
        if list_matches(headers, Known::IfNoneMatch, etag, false) {
            return Verdict::NotModified;
        }
    } else if let Some(since) = date(headers, Known::IfModifiedSince) {
        if modified <= since {
            return Verdict::NotModified;
        }
    }
    Verdict::Proceed
}

/// `If-Range` (RFC 9110 §13.1.5): true when the range request may be honoured. An entity-tag
/// must match strongly; a date must equal `Last-Modified` exactly.
pub fn if_range_holds(value: &[u8], etag: &HeaderValue, modified: SystemTime) -> bool {
    let Some(text) = text(value) else {
        return false;
    };
    let text = text.trim();
    if text.starts_with('"') || text.starts_with("W/") {
        return match parse_tags(text) {
            Some(tags) => tags.len() == 1 && !tags[0].0 && etag_matches(tags[0].1, etag),
            None => false,
        };
    }
    httpdate::parse_http_date(text).is_ok_and(|date| date == modified)
}

/// A list-valued `If-Match` / `If-None-Match`: `*` or any tag matching. A malformed field
/// matches nothing.
fn list_matches(headers: &Fields, name: Known, etag: &HeaderValue, strong: bool) -> bool {
    headers.get_all(name).any(|value| {
        let Some(text) = text(value) else {
            return false;
        };
        if text.trim() == "*" {
            return true;
        }
        parse_tags(text).is_some_and(|tags| {
            tags.iter()
                .any(|(weak, tag)| !(strong && *weak) && etag_matches(tag, etag))
        })
    })
}

/// Our tags are always strong, so the strong and the weak comparison differ only in whether
/// the client's tag may be weak (checked by the caller); the opaque parts must be equal.
fn etag_matches(opaque: &str, ours: &HeaderValue) -> bool {
    ours.as_bytes()
        .strip_prefix(b"\"")
        .and_then(|t| t.strip_suffix(b"\""))
        .is_some_and(|t| t == opaque.as_bytes())
}

/// `#entity-tag` (RFC 9110 §8.8.3): each as (weak, opaque-tag without quotes).
fn parse_tags(text: &str) -> Option<Vec<(bool, &str)>> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let weak = rest.starts_with("W/");
        if weak {
            rest = &rest[2..];
        }
        let body = rest.strip_prefix('"')?;
        let end = body.find('"')?;
        tags.push((weak, &body[..end]));
        rest = &body[end + 1..];
        if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) {
            return None;
        }
    }
}

/// A date header; an invalid date means the field is ignored (RFC 9110 §13.1.3).
fn date(headers: &Fields, name: Known) -> Option<SystemTime> {
    let value = text(headers.get(name)?)?;
    httpdate::parse_http_date(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const TAG: HeaderValue = HeaderValue::from_static("\"a-1\"");

    fn verdict(pairs: &[(&str, &str)], modified: u64) -> Verdict {
        let headers = Fields::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_bytes())));
        evaluate(&headers, &TAG, UNIX_EPOCH + Duration::from_secs(modified))
    }

    const DAY1: &str = "Thu, 01 Jan 1970 00:00:01 GMT";
    const DAY2: &str = "Thu, 01 Jan 1970 00:00:02 GMT";

    #[test]
    fn precedence() {
        assert_eq!(verdict(&[], 1), Verdict::Proceed);
        assert_eq!(
            verdict(&[("if-none-match", "\"a-1\"")], 1),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("if-none-match", "W/\"a-1\"")], 1),
            Verdict::NotModified
        );
        assert_eq!(
            verdict(&[("if-none-match", "\"x\", \"a-1\"")], 1),
            Verdict::NotModified
        );
        assert_eq!(verdict(&[("if-none-match", "*")], 1), Verdict::NotModified);
        // If-None-Match that does not match beats a matching If-Modified-Since.
        assert_eq!(
            verdict(
                &[("if-none-match", "\"x\""), ("if-modified-since", DAY2)],
                1
            ),
            Verdict::Proceed
        );
        assert_eq!(
            verdict(&[("if-modified-since", DAY1)], 1),
            Verdict::NotModified
        );
        assert_eq!(verdict(&[("if-modified-since", DAY1)], 2), Verdict::Proceed);
        assert_eq!(
            verdict(&[("if-modified-since", "garbage")], 1),
            Verdict::Proceed
        );
        assert_eq!(verdict(&[("if-match", "\"x\"")], 1), Verdict::Failed);
        assert_eq!(
            verdict(&[("if-match", "W/\"a-1\"")], 1),
            Verdict::Failed,
            "strong only"
        );
        assert_eq!(verdict(&[("if-match", "\"a-1\"")], 1), Verdict::Proceed);
        assert_eq!(
            verdict(&[("if-unmodified-since", DAY1)], 2),
            Verdict::Failed
        );
        assert_eq!(
            verdict(&[("if-unmodified-since", DAY2)], 2),
            Verdict::Proceed
        );
        // If-Match is evaluated first and If-Unmodified-Since is then ignored.
        assert_eq!(
            verdict(&[("if-match", "\"a-1\""), ("if-unmodified-since", DAY1)], 2),
            Verdict::Proceed
        );
        assert_eq!(
            verdict(&[("if-match", "\"x\""), ("if-none-match", "\"a-1\"")], 1),
            Verdict::Failed
        );
    }

    #[test]
    fn if_range() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let v = |s: &'static str| s.as_bytes();
        assert!(if_range_holds(v("\"a-1\""), &TAG, at(1)));
        assert!(!if_range_holds(v("W/\"a-1\""), &TAG, at(1)));
        assert!(!if_range_holds(v("\"b\""), &TAG, at(1)));
        assert!(if_range_holds(v(DAY1), &TAG, at(1)));
        assert!(!if_range_holds(v(DAY1), &TAG, at(2)));
        assert!(!if_range_holds(v("nonsense"), &TAG, at(1)));
    }
}
