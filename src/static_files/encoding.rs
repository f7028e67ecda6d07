//! Precompressed siblings: `file.br` and `file.gz` next to `file`, chosen by the request's
//! `Accept-Encoding` with its q-values (RFC 9110 §12.5.3).

use http::header::HeaderValue;

use crate::http::fields::{text, Fields, Known};

/// A content coding pyrite can serve from a sibling file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
}

impl Coding {
    /// Preferred first when the client likes them equally: brotli is smaller.
    const ALL: [Coding; 2] = [Coding::Br, Coding::Gzip];

    /// The sibling's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gz",
        }
    }

    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Br => "-br",
            Coding::Gzip => "-gz",
        }
    }

    pub fn header(self) -> HeaderValue {
        match self {
            Coding::Br => HeaderValue::from_static("br"),
            Coding::Gzip => HeaderValue::from_static("gzip"),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Coding::Br => &["br"],
            // RFC 9110 §8.4.1.3: `x-gzip` is an alias.
            Coding::Gzip => &["gzip", "x-gzip"],
        }
    }
}

/// The codings the client accepts, best first; q=0 means "not acceptable". No header at all
/// means identity only: a client that did not ask may not understand.
pub fn acceptable(headers: &Fields) -> Vec<Coding> {
    let mut weighted: Vec<(Coding, u16)> = Vec::new();
    let mut star: Option<u16> = None;
    let mut explicit = [None::<u16>; 2];
    for value in headers.get_all(Known::AcceptEncoding) {
        let Some(value) = text(value) else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| parse_qvalue(v.trim()))
                })
                .unwrap_or(Some(1000));
            let Some(q) = q else { continue };
            if name == "*" {
                star = Some(q);
            }
            for (i, coding) in Coding::ALL.iter().enumerate() {
                if coding.names().contains(&name.as_str()) {
                    explicit[i] = Some(q);
                }
            }
        }
    }
    for (i, coding) in Coding::ALL.iter().enumerate() {
        let q = explicit[i].or(star).unwrap_or(0);
        if q > 0 {
            weighted.push((*coding, q));
        }
    }
    // A stable sort keeps brotli ahead of gzip on equal weights.
    weighted.sort_by_key(|w| std::cmp::Reverse(w.1));
    weighted.into_iter().map(|(c, _)| c).collect()
}

/// A qvalue (RFC 9110 §12.4.2) in thousandths; `None` when malformed.
fn parse_qvalue(raw: &str) -> Option<u16> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Vec<Coding> {
        acceptable(&Fields::from_pairs([("Accept-Encoding", value.as_bytes())]))
    }

    #[test]
    fn q_values_order_the_codings() {
        assert_eq!(accept("gzip, deflate, br"), [Coding::Br, Coding::Gzip]);
        assert_eq!(accept("br;q=0.5, gzip"), [Coding::Gzip, Coding::Br]);
        assert_eq!(accept("br;q=0, gzip;q=0.1"), [Coding::Gzip]);
        assert_eq!(accept("*"), [Coding::Br, Coding::Gzip]);
        assert_eq!(accept("*;q=0.2, gzip;q=0"), [Coding::Br]);
        assert_eq!(accept("identity"), []);
        assert_eq!(accept("x-gzip;Q=1.000"), [Coding::Gzip]);
        assert_eq!(accept("gzip;q=2"), [], "a malformed qvalue is ignored");
        assert!(acceptable(&Fields::new()).is_empty());
    }
}
