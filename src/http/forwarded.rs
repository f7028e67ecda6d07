//! Trusted proxies (`--forwarded-allow-ips`): from a trusted peer, `Forwarded` (RFC 7239) or
//! else `X-Forwarded-For`/`-Proto`/`-Host` decide the client address, the URL scheme and the
//! host the app sees. From any other peer those fields are plain headers and change nothing.
//! The client is found walking the chain from the nearest hop back past every trusted proxy,
//! so a client cannot pose as another by prepending an address.

use std::net::{IpAddr, SocketAddr};

use http::header::HeaderValue;

use super::fields::{text, Fields, Known};

/// The peers whose forwarding headers (and PROXY protocol headers) are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    any: bool,
    nets: Vec<(IpAddr, u8)>,
}

impl AllowList {
    /// `*`, or a comma-separated list of addresses and `ADDR/PREFIX` networks.
    pub fn parse(items: &[String]) -> Result<AllowList, String> {
        let mut list = AllowList::default();
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if item == "*" {
                list.any = true;
                continue;
            }
            let (addr, prefix) = match item.split_once('/') {
                Some((addr, prefix)) => (addr, Some(prefix)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("'{item}' is not an IP address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= max)
                    .ok_or_else(|| format!("'{item}' has an invalid prefix length"))?,
                None => max,
            };
            list.nets.push((ip, prefix));
        }
        Ok(list)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.any
            || self
                .nets
                .iter()
                .any(|&(net, prefix)| in_net(ip, canonical(net), prefix))
    }
}

/// IPv4-mapped IPv6 addresses count as their IPv4 selves.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// What a trusted proxy told us about the original request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    pub client: Option<SocketAddr>,
    pub scheme: Option<&'static str>,
    pub host: Option<HeaderValue>,
}

/// One hop of the chain: `for`, `proto`, `host`.
#[derive(Debug, Default)]
struct Hop {
    client: Option<SocketAddr>,
    proto: Option<&'static str>,
    host: Option<HeaderValue>,
}

/// Whether a request carries any forwarding field (cheap: the parser tagged them).
pub fn present(headers: &Fields) -> bool {
    [
        Known::Forwarded,
        Known::XForwardedFor,
        Known::XForwardedProto,
        Known::XForwardedHost,
    ]
    .iter()
    .any(|&k| headers.contains(k))
}

/// Reads the forwarding fields of a request that came from a trusted peer.
pub fn resolve(headers: &Fields, allow: &AllowList) -> Forwarded {
    let rfc7239 = headers.contains(Known::Forwarded);
    if !present(headers) {
        return Forwarded::default();
    }
    let hops = if rfc7239 {
        rfc7239_hops(headers)
    } else {
        legacy_hops(headers)
    };
    // Nearest hop first: skip the trusted proxies; the first other address is the client.
    let chosen = hops
        .iter()
        .rev()
        .find(|hop| hop.client.is_none_or(|c| !allow.allows(c.ip())))
        .or_else(|| hops.first());
    match chosen {
        Some(hop) => Forwarded {
            client: hop.client,
            scheme: hop.proto,
            host: hop.host.clone(),
        },
        None => Forwarded::default(),
    }
}

fn scheme(value: &str) -> Option<&'static str> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http" => Some("http"),
        "https" => Some("https"),
        _ => None,
    }
}

/// `X-Forwarded-For: client, proxy1, proxy2`; proto and host apply to the client's hop.
fn legacy_hops(headers: &Fields) -> Vec<Hop> {
    let list = |name: Known| -> Vec<String> {
        headers
            .get_all(name)
            .filter_map(text)
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut hops: Vec<Hop> = list(Known::XForwardedFor)
        .iter()
        .map(|addr| Hop {
            client: node(addr),
            ..Hop::default()
        })
        .collect();
    let proto = list(Known::XForwardedProto).last().and_then(|p| scheme(p));
    let host = list(Known::XForwardedHost)
        .last()
        .and_then(|h| HeaderValue::from_str(h).ok());
    if hops.is_empty() && (proto.is_some() || host.is_some()) {
        hops.push(Hop::default());
    }
    for hop in &mut hops {
        hop.proto = proto;
        hop.host.clone_from(&host);
    }
    hops
}

/// RFC 7239 §4: `Forwarded: for=…;proto=…;host=…, for=…` (values token or quoted-string).
fn rfc7239_hops(headers: &Fields) -> Vec<Hop> {
    let mut hops = Vec::new();
    for value in headers.get_all(Known::Forwarded) {
        let Some(value) = text(value) else { continue };
        for element in value.split(',') {
            let mut hop = Hop::default();
            for pair in element.split(';') {
                let Some((key, val)) = pair.split_once('=') else {
                    continue;
                };
                let val = val.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.client = node(val),
                    "proto" => hop.proto = scheme(val),
                    "host" => hop.host = HeaderValue::from_str(val).ok(),
                    _ => {}
                }
            }
            hops.push(hop);
        }
    }
    hops
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5`, `[::1]:5`, `::1`. Anything else
/// (`unknown`, obfuscated identifiers) is no address.
fn node(raw: &str) -> Option<SocketAddr> {
    let raw = raw.trim();
    if let Ok(addr) = raw.parse::<SocketAddr>() {
        return Some(addr);
    }
    let bare = raw.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(items: &[&str]) -> AllowList {
        AllowList::parse(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_bytes())))
    }

    #[test]
    fn allow_lists() {
        let list = allow(&["127.0.0.1", "::1", "10.0.0.0/8"]);
        assert!(list.allows("127.0.0.1".parse().unwrap()));
        assert!(list.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(list.allows("10.1.2.3".parse().unwrap()));
        assert!(!list.allows("11.0.0.1".parse().unwrap()));
        assert!(allow(&["*"]).allows("8.8.8.8".parse().unwrap()));
        assert!(AllowList::parse(&["nope".into()]).is_err());
        assert!(AllowList::parse(&["1.2.3.4/33".into()]).is_err());
    }

    #[test]
    fn legacy_chain_skips_trusted_hops() {
        let list = allow(&["127.0.0.1", "10.0.0.0/8"]);
        let got = resolve(
            &headers(&[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "example.com"),
            ]),
            &list,
        );
        assert_eq!(got.client, Some("203.0.113.7:0".parse().unwrap()));
        assert_eq!(got.scheme, Some("https"));
        assert_eq!(got.host.unwrap(), "example.com");
    }

    #[test]
    fn rfc7239() {
        let list = allow(&["127.0.0.1"]);
        let got = resolve(
            &headers(&[(
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https;host=a.example, for=127.0.0.1",
            )]),
            &list,
        );
        assert_eq!(got.client, Some("[2001:db8::1]:4711".parse().unwrap()));
        assert_eq!(got.scheme, Some("https"));
        assert_eq!(got.host.unwrap(), "a.example");
        let got = resolve(&headers(&[("forwarded", "for=unknown;proto=ftp")]), &list);
        assert_eq!(got, Forwarded::default());
    }
}
