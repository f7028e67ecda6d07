//! `--access-logformat`: gunicorn's format (a Python `%`-format over named atoms, such as
//! `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`), compiled once at start-up
//! into segments — literal text and atoms — so that a line costs a walk over them and no
//! parsing. The atoms are gunicorn's (`glogging.Logger.atoms`): an unknown one logs `-`, as
//! gunicorn's `SafeAtoms` does.

/// gunicorn's default, Apache's combined log format.
pub const DEFAULT: &str = r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

/// One atom of the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// `h`: the client's address (after trusted-proxy resolution).
    RemoteAddr,
    /// `l`: always `-`.
    Dash,
    /// `u`: the user of HTTP Basic authentication.
    User,
    /// `t`: the time of the request, `[10/Oct/2000:13:55:36 -0700]`.
    Time,
    /// `r`: the request line, `METHOD TARGET PROTOCOL`.
    RequestLine,
    /// `m`: the method.
    Method,
    /// `U`: the URL path, percent-decoded.
    Path,
    /// `q`: the query string.
    Query,
    /// `H`: the protocol.
    Protocol,
    /// `s`: the status code.
    Status,
    /// `B`: the body's bytes sent.
    Bytes,
    /// `b`: the body's bytes sent, or `-`.
    BytesOrDash,
    /// `f`: the referer.
    Referer,
    /// `a`: the user agent.
    UserAgent,
    /// `T`: the request time in whole seconds.
    Seconds,
    /// `D`: in microseconds.
    Micros,
    /// `M`: in milliseconds.
    Millis,
    /// `L`: in seconds, with six decimals.
    SecondsDecimal,
    /// `p`: the worker's pid, `<1234>`.
    Pid,
    /// `{name}i`: a request header (lowercase name).
    RequestHeader(String),
    /// `{name}o`: a response header (lowercase name).
    ResponseHeader(String),
    /// `{name}e`: a variable of the app's environ.
    Environ(String),
    /// Anything else: `-`.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// An atom, the name it was written with (a JSON line's key), and its `-` flag and width.
    Atom {
        atom: Atom,
        key: String,
        left: bool,
        width: usize,
    },
}

/// A compiled format, and what rendering it needs besides the request and response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub segments: Vec<Segment>,
    /// The response's header lines are kept for `{name}o` atoms.
    pub response_headers: bool,
    /// The environ variables the `{name}e` atoms name, in order (each once).
    pub environ: Vec<String>,
}

impl Format {
    pub fn compile(format: &str) -> Result<Format, String> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = format;
        while let Some(at) = rest.find('%') {
            text.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                text.push('%');
                rest = after;
                continue;
            }
            let Some(named) = rest.strip_prefix('(') else {
                return Err(format!(
                    "'%' must be followed by '(name)' or '%' (at {:?})",
                    truncate(rest)
                ));
            };
            let close = closing_paren(named)
                .ok_or_else(|| format!("unclosed '%(' in {:?}", truncate(rest)))?;
            let key = &named[..close];
            rest = &named[close + 1..];
            let left = rest.starts_with('-');
            rest = rest.trim_start_matches(['-', '#', '0', ' ', '+']);
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let width = rest[..digits].parse().unwrap_or(0);
            rest = &rest[digits..];
            match rest.chars().next() {
                Some('s' | 'd' | 'r' | 'a') => rest = &rest[1..],
                other => {
                    return Err(format!(
                        "'%({key})' must end in a conversion such as 's', found {other:?}"
                    ))
                }
            }
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Atom {
                atom: atom(key),
                key: key.to_owned(),
                left,
                width: width.min(256),
            });
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        let mut environ: Vec<String> = Vec::new();
        let mut response_headers = false;
        for segment in &segments {
            match segment {
                Segment::Atom {
                    atom: Atom::Environ(name),
                    ..
                } if !environ.contains(name) => environ.push(name.clone()),
                Segment::Atom {
                    atom: Atom::ResponseHeader(_),
                    ..
                } => response_headers = true,
                _ => {}
            }
        }
        Ok(Format {
            segments,
            response_headers,
            environ,
        })
    }
}

/// Where a `%(` key ends: its `)`, parentheses nested in it (Python's rule) counted.
fn closing_paren(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn truncate(s: &str) -> &str {
    let end = s.char_indices().nth(20).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

fn atom(key: &str) -> Atom {
    if let Some(inner) = key.strip_prefix('{') {
        if let Some((name, kind)) = inner.rsplit_once('}') {
            let name = name.to_ascii_lowercase();
            return match kind {
                "i" => Atom::RequestHeader(name),
                "o" => Atom::ResponseHeader(name),
                // gunicorn looks environ variables up lowercased, its keys too: any case works.
                "e" => Atom::Environ(name),
                _ => Atom::Unknown,
            };
        }
    }
    match key {
        "h" => Atom::RemoteAddr,
        "l" => Atom::Dash,
        "u" => Atom::User,
        "t" => Atom::Time,
        "r" => Atom::RequestLine,
        "m" => Atom::Method,
        "U" => Atom::Path,
        "q" => Atom::Query,
        "H" => Atom::Protocol,
        "s" => Atom::Status,
        "B" => Atom::Bytes,
        "b" => Atom::BytesOrDash,
        "f" => Atom::Referer,
        "a" => Atom::UserAgent,
        "T" => Atom::Seconds,
        "D" => Atom::Micros,
        "M" => Atom::Millis,
        "L" => Atom::SecondsDecimal,
        "p" => Atom::Pid,
        _ => Atom::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atoms(format: &str) -> Vec<Atom> {
        Format::compile(format)
            .unwrap()
            .segments
            .into_iter()
            .filter_map(|s| match s {
                Segment::Atom { atom, .. } => Some(atom),
                Segment::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn the_default_is_apache_combined() {
        let format = Format::compile(DEFAULT).unwrap();
        assert_eq!(format.segments.len(), 18);
        assert_eq!(
            atoms(DEFAULT),
            [
                Atom::RemoteAddr,
                Atom::Dash,
                Atom::User,
                Atom::Time,
                Atom::RequestLine,
                Atom::Status,
                Atom::BytesOrDash,
                Atom::Referer,
                Atom::UserAgent
            ]
        );
        assert!(!format.response_headers);
    }

    #[test]
    fn braced_atoms_and_literals() {
        let format = Format::compile(
            "%% %({X-Request-Id}i)s %({Content-Type}o)s %({REMOTE_ADDR}e)-8s %(zz)s",
        )
        .unwrap();
        assert_eq!(format.segments[0], Segment::Text("% ".into()));
        assert_eq!(
            atoms("%({X-Request-Id}i)s %({Content-Type}o)s %({REMOTE_ADDR}e)s %(zz)s"),
            [
                Atom::RequestHeader("x-request-id".into()),
                Atom::ResponseHeader("content-type".into()),
                Atom::Environ("remote_addr".into()),
                Atom::Unknown
            ]
        );
        assert!(format.response_headers);
        assert_eq!(format.environ, ["remote_addr"]);
        assert!(matches!(
            &format.segments[5],
            Segment::Atom {
                left: true,
                width: 8,
                ..
            }
        ));
    }

    #[test]
    fn malformed_formats_are_refused() {
        for bad in ["%s", "%(h", "%(h)", "%(h)z", "100%"] {
            assert!(Format::compile(bad).is_err(), "{bad}");
        }
    }
}
