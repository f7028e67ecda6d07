//! The grammar of a request's authority (RFC 9112 §3.2, RFC 9110 §7.2, RFC 3986 §3.2.2): `Host`
//! and an absolute-form target's authority are `uri-host [ ":" port ]`, where uri-host is an
//! IP-literal in brackets (IPv6 or IPvFuture), or a reg-name (an IPv4 address is one) of
//! unreserved characters, percent-encodings and sub-delims, and port is decimal digits (at most
//! 65535; empty means the scheme's default). No userinfo: RFC 9110 §4.2.4 makes it an error in
//! an http(s) URI. Anything else is refused before it can become `SERVER_NAME`/`SERVER_PORT`.

use std::net::Ipv6Addr;

/// RFC 9110 §7.2 `Host` (also an absolute-form target's authority). Empty is allowed (RFC 9112
/// §3.2: a target without an authority).
pub fn valid_host(value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    let (host_ok, port) = match value.strip_prefix(b"[") {
        Some(rest) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let port = match &rest[end + 1..] {
                [] => None,
                [b':', port @ ..] => Some(port),
                _ => return false,
            };
            (ip_literal(&rest[..end]), port)
        }
        None => match value.iter().position(|&b| b == b':') {
            // An empty host with a port is no host at all (RFC 9110 §4.2.1).
            Some(colon) => (
                colon > 0 && reg_name(&value[..colon]),
                Some(&value[colon + 1..]),
            ),
            None => (reg_name(value), None),
        },
    };
    host_ok && port.is_none_or(valid_port)
}

/// The last `Host` value found valid on a connection, so that the same value on the requests
/// after it (the usual case: a client names one host per connection) is compared, not parsed
/// again. Held inline (no allocation); a longer value is checked every time.
pub struct KnownHost {
    len: u8,
    bytes: [u8; KnownHost::CAPACITY],
}

impl Default for KnownHost {
    fn default() -> KnownHost {
        KnownHost {
            len: 0,
            bytes: [0; KnownHost::CAPACITY],
        }
    }
}

impl KnownHost {
    const CAPACITY: usize = 63;

    /// [`valid_host`], remembering a valid `value` for the next call.
    pub fn check(&mut self, value: &[u8]) -> bool {
        if value == &self.bytes[..usize::from(self.len)] {
            return true;
        }
        if !valid_host(value) {
            return false;
        }
        if value.len() <= Self::CAPACITY {
            self.bytes[..value.len()].copy_from_slice(value);
            self.len = value.len() as u8;
        }
        true
    }
}

/// `*DIGIT`, at most 65535.
fn valid_port(port: &[u8]) -> bool {
    port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
        && port.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65535
}

/// RFC 3986 reg-name: unreserved, pct-encoded, sub-delims.
fn reg_name(name: &[u8]) -> bool {
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            match tail {
                [h, l, more @ ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    rest = more;
                    continue;
                }
                _ => return false,
            }
        }
        if !REG_NAME[usize::from(b)] {
            return false;
        }
        rest = tail;
    }
    true
}

/// `IPv6address / IPvFuture` (between the brackets). A zone identifier (RFC 6874) is not
/// accepted: it means nothing to a server.
fn ip_literal(inner: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inner {
        // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(inner).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// The bytes a reg-name holds as they are (`%` escapes aside): unreserved and sub-delims.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_unreserved(b as u8) || is_sub_delim(b as u8);
        b += 1;
    }
    table
};

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            "",
            "a",
            "example.com",
            "example.com:8080",
            "a:",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::7]",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%20b",
            "a_b~c!$&'()*+,;=",
            "a:65535",
        ] {
            assert!(valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "a:xyz",
            "a:-1",
            "a:+80",
            "a:80:80",
            "a:65536",
            "a:000080",
            "[::1",
            "::1",
            "[zz]",
            "[::1]x",
            "[::1]:x",
            "[::1%25eth0]",
            "[v.x]",
            "[v1.]",
            ":80",
            "user@a",
            "user:pw@a:80",
            "a b",
            "a/b",
            "a%2",
            "a%zz",
            "a\\b",
            "a\"b",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_known_host_is_checked_like_any_other() {
        let mut known = KnownHost::default();
        for (value, valid) in [
            ("example.com:80", true),
            ("example.com:80", true),
            ("a b", false),
            ("example.com:80", true),
            ("a:65536", false),
            ("", true),
            ("a:65536", false),
        ] {
            assert_eq!(known.check(value.as_bytes()), valid, "{value}");
        }
    }
}
