//! The environ's strings that repeat from request to request — the client's address and port
//! (the same for every request of a connection), the `Host` header and the server name and port
//! it gives — made once and kept in small caches, so a keep-alive request builds no `str` for
//! them. Each cache is a handful of slots, overwritten in turn: a worker facing many clients
//! only misses, at the cost of a short scan.
//!
//! The caches are the worker's, not each thread's: with `--threads`, every pool thread then
//! hands out the same object for the same address, which is what lets the environ template keep
//! `REMOTE_ADDR` from one request to the next whichever thread serves it (`environ`'s sticky
//! keys compare objects). Every caller holds the GIL, so the lock is never waited for; and
//! nothing done under it runs Python code (only `str` objects are made and dropped), so it is
//! never held while the GIL is let go.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::types::PyString;

use super::ffi;

/// `HTTP_HOST`, `SERVER_NAME` and `SERVER_PORT` for one `Host` value (and local port).
pub struct HostStrings {
    pub http_host: Py<PyString>,
    pub server_name: Py<PyString>,
    pub server_port: Py<PyString>,
}

struct HostSlot {
    host: Vec<u8>,
    local_port: Option<u16>,
    strings: HostStrings,
}

struct Cache {
    hosts: Vec<HostSlot>,
    next_host: usize,
    addrs: Vec<(IpAddr, Py<PyString>)>,
    next_addr: usize,
    ports: Vec<Option<(u16, Py<PyString>)>>,
}

const HOST_SLOTS: usize = 4;
const ADDR_SLOTS: usize = 8;
const PORT_SLOTS: usize = 256;

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    hosts: Vec::new(),
    next_host: 0,
    addrs: Vec::new(),
    next_addr: 0,
    ports: Vec::new(),
});

/// The cache (a panic while it was held left nothing half-written that matters: at worst a
/// slot's strings are those of another key's, which every reader compares first).
fn cache() -> MutexGuard<'static, Cache> {
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The strings for a request with `Host: host` (or none) received on `local`.
pub fn host<'py>(
    py: Python<'py>,
    host: Option<&[u8]>,
    local: Option<SocketAddr>,
) -> PyResult<(
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    Bound<'py, PyString>,
)> {
    let local_port = local.map(|l| l.port());
    let key = host.unwrap_or_default();
    let found = cache()
        .hosts
        .iter()
        .find(|slot| slot.host == key && slot.local_port == local_port && host.is_some())
        .map(|slot| bind(py, &slot.strings));
    if let Some(found) = found {
        return Ok(found);
    }
    let (name, port) = server_name_port(host, local);
    let strings = HostStrings {
        http_host: ffi::latin1(py, key)?.unbind(),
        server_name: ffi::latin1(py, name.as_bytes())?.unbind(),
        server_port: ffi::latin1(py, port.as_bytes())?.unbind(),
    };
    let found = bind(py, &strings);
    if host.is_some() {
        let slot = HostSlot {
            host: key.to_vec(),
            local_port,
            strings,
        };
        let cache = &mut *cache();
        keep(&mut cache.hosts, &mut cache.next_host, HOST_SLOTS, slot);
    }
    Ok(found)
}

fn bind<'py>(
    py: Python<'py>,
    s: &HostStrings,
) -> (
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    Bound<'py, PyString>,
) {
    (
        s.http_host.bind(py).clone(),
        s.server_name.bind(py).clone(),
        s.server_port.bind(py).clone(),
    )
}

/// Puts `item` in the next of a cache's `slots` slots, in turn (a slot's old strings are
/// dropped here, under the GIL the caller holds).
fn keep<T>(ring: &mut Vec<T>, next: &mut usize, slots: usize, item: T) {
    if ring.len() < slots {
        ring.push(item);
    } else {
        ring[*next] = item;
    }
    *next = (*next + 1) % slots;
}

/// `REMOTE_ADDR` and `REMOTE_PORT` for a client.
pub fn peer<'py>(
    py: Python<'py>,
    peer: SocketAddr,
) -> PyResult<(Bound<'py, PyString>, Bound<'py, PyString>)> {
    let mut cache = cache();
    let ip = peer.ip();
    let addr = match cache.addrs.iter().find(|(a, _)| *a == ip) {
        Some((_, s)) => s.bind(py).clone(),
        None => {
            let s = PyString::new(py, &ip.to_string());
            let cache = &mut *cache;
            keep(
                &mut cache.addrs,
                &mut cache.next_addr,
                ADDR_SLOTS,
                (ip, s.clone().unbind()),
            );
            s
        }
    };
    if cache.ports.is_empty() {
        cache.ports.resize_with(PORT_SLOTS, || None);
    }
    let slot = &mut cache.ports[usize::from(peer.port()) % PORT_SLOTS];
    let port = match slot {
        Some((p, s)) if *p == peer.port() => s.bind(py).clone(),
        _ => {
            let s = PyString::new(py, &peer.port().to_string());
            *slot = Some((peer.port(), s.clone().unbind()));
            s
        }
    };
    Ok((addr, port))
}

/// `SERVER_NAME` and `SERVER_PORT` from the `Host` header, else from the socket.
pub fn server_name_port(host: Option<&[u8]>, local: Option<SocketAddr>) -> (String, String) {
    let default_port = local.map_or_else(|| "80".to_owned(), |l| l.port().to_string());
    if let Some(host) = host.and_then(crate::http::fields::text) {
        if let Some(rest) = host.strip_prefix('[') {
            if let Some((ip6, port)) = rest.split_once(']') {
                let port = port.strip_prefix(':').filter(|p| !p.is_empty());
                return (ip6.to_owned(), port.map_or(default_port, str::to_owned));
            }
        }
        // An empty port (`Host: a:`, valid per RFC 3986 §3.2.3) means the default one.
        return match host.rsplit_once(':') {
            Some((name, port)) if !port.is_empty() => (name.to_owned(), port.to_owned()),
            Some((name, _)) => (name.to_owned(), default_port),
            None => (host.to_owned(), default_port),
        };
    }
    match local {
        Some(local) => (local.ip().to_string(), local.port().to_string()),
        None => ("localhost".to_owned(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_name_from_host_or_socket() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let pair = |h: Option<&str>| server_name_port(h.map(str::as_bytes), Some(local));
        assert_eq!(
            pair(Some("example.com")),
            ("example.com".into(), "8080".into())
        );
        assert_eq!(
            pair(Some("example.com:9000")),
            ("example.com".into(), "9000".into())
        );
        assert_eq!(pair(Some("[::1]:81")), ("::1".into(), "81".into()));
        assert_eq!(pair(Some("[::1]")), ("::1".into(), "8080".into()));
        assert_eq!(
            pair(Some("example.com:")),
            ("example.com".into(), "8080".into())
        );
        assert_eq!(pair(None), ("127.0.0.1".into(), "8080".into()));
    }
}
