//! The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a load balancer sends
//! before the first request (`--proxy-protocol`, believed only from `--forwarded-allow-ips`
//! peers): it names the client's address. A malformed header closes the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\x00\r\nQUIT\n";
/// Version 1 lines are at most 107 bytes, CRLF included.
const V1_MAX: usize = 107;

#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// `Ok(None)`: more bytes needed. `Ok(Some((source, len)))`: the header took `len` bytes and
/// names `source` (none for `UNKNOWN`/`LOCAL`: the connection's own peer stands).
pub fn parse(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, Malformed> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] == V2_SIGNATURE[..n] {
        return if n < V2_SIGNATURE.len() {
            Ok(None)
        } else {
            v2(buf)
        };
    }
    let n = buf.len().min(6);
    if buf[..n] != b"PROXY "[..n] {
        return Err(Malformed);
    }
    v1(buf)
}

fn v1(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, Malformed> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(Malformed)
        } else {
            Ok(None)
        };
    };
    if end + 2 > V1_MAX {
        return Err(Malformed);
    }
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| Malformed)?;
    let parts: Vec<&str> = line.split(' ').collect();
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(Some((None, end + 2))),
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let src: IpAddr = src.parse().map_err(|_| Malformed)?;
            let dst: IpAddr = dst.parse().map_err(|_| Malformed)?;
            let v4 = *family == "TCP4";
            if src.is_ipv4() != v4 || dst.is_ipv4() != v4 {
                return Err(Malformed);
            }
            let port = |p: &str| {
                if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                    return Err(Malformed);
                }
                p.parse::<u16>().map_err(|_| Malformed)
            };
            let sport = port(sport)?;
            port(dport)?;
            Ok(Some((Some(SocketAddr::new(src, sport)), end + 2)))
        }
        _ => Err(Malformed),
    }
}

fn v2(buf: &[u8]) -> Result<Option<(Option<SocketAddr>, usize)>, Malformed> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let version_command = buf[12];
    if version_command >> 4 != 2 {
        return Err(Malformed);
    }
    let family = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + len;
    if buf.len() < total {
        return Ok(None);
    }
    let addresses = &buf[16..total];
    match version_command & 0x0f {
        // LOCAL: a health check from the proxy itself.
        0 => return Ok(Some((None, total))),
        1 => {}
        _ => return Err(Malformed),
    }
    let source = match family {
        0x00 => None,
        0x11 => {
            let a = addresses.get(..12).ok_or(Malformed)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Some(SocketAddr::new(ip.into(), u16::from_be_bytes([a[8], a[9]])))
        }
        0x21 => {
            let a = addresses.get(..36).ok_or(Malformed)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let ip = Ipv6Addr::from(octets);
            Some(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([a[32], a[33]]),
            ))
        }
        // UDP and Unix-socket families carry no client this server can use.
        _ => return Err(Malformed),
    };
    Ok(Some((source, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET";
        assert_eq!(
            parse(line),
            Ok(Some((Some("192.0.2.1:56324".parse().unwrap()), 45)))
        );
        assert_eq!(parse(b"PROXY TCP6 ::1 ::1 1 2\r\n").unwrap().unwrap().1, 24);
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), Ok(Some((None, 15))));
        assert_eq!(parse(b"PROXY TCP4 1.2"), Ok(None));
        assert_eq!(parse(b"PRO"), Ok(None));
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n",
            b"PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
        ] {
            assert_eq!(parse(bad), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn version_2() {
        let mut header = V2_SIGNATURE.to_vec();
        header.extend_from_slice(&[
            0x21, 0x11, 0, 12, 203, 0, 113, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 80,
        ]);
        assert_eq!(
            parse(&header),
            Ok(Some((Some("203.0.113.9:8080".parse().unwrap()), 28)))
        );
        assert_eq!(parse(&header[..20]), Ok(None));
        header[12] = 0x31;
        assert_eq!(parse(&header), Err(Malformed));
    }
}
