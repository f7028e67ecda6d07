//! Builds the PEP 3333 `environ` dict for one request. Every value is a native `str` holding
//! the request's bytes decoded as latin-1 ("bytes as unicode", PEP 3333 "Unicode Issues").

use std::net::SocketAddr;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use http::request::Parts;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, IntoPyObjectExt};

use super::errors::ErrorStream;
use super::input::{Input, RequestBody};
use super::App;

/// What the environ is built from, besides the request head.
pub struct RequestInfo<'a> {
    pub parts: &'a Parts,
    /// The request path, percent-decoded once.
    pub path: &'a [u8],
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    pub body: RequestBody,
    /// True when the request had a body (Content-Length or chunked).
    pub has_body: bool,
    /// `wsgi.url_scheme`: `http`, or what a trusted proxy said (`--forwarded-allow-ips`).
    pub url_scheme: &'static str,
}

/// A `str` whose code points are the bytes (latin-1).
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(bytes) {
        Ok(s) if bytes.is_ascii() => PyString::new(py, s),
        _ => PyString::new(
            py,
            &bytes.iter().map(|&b| char::from(b)).collect::<String>(),
        ),
    }
}

pub fn build<'py>(
    py: Python<'py>,
    app: &App,
    errors: &Py<ErrorStream>,
    req: RequestInfo<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    let parts = req.parts;
    let set = |key: &Bound<'py, PyString>, value: &[u8]| env.set_item(key, latin1(py, value));

    set(
        intern!(py, "REQUEST_METHOD"),
        parts.method.as_str().as_bytes(),
    )?;
    set(intern!(py, "SCRIPT_NAME"), b"")?;
    set(intern!(py, "PATH_INFO"), req.path)?;
    set(
        intern!(py, "QUERY_STRING"),
        parts.uri.query().unwrap_or("").as_bytes(),
    )?;
    let raw_uri = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    set(intern!(py, "RAW_URI"), raw_uri.as_bytes())?;
    let protocol = match parts.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    set(intern!(py, "SERVER_PROTOCOL"), protocol.as_bytes())?;

    let (server_name, server_port) = server_name_port(parts, req.local);
    set(intern!(py, "SERVER_NAME"), server_name.as_bytes())?;
    set(intern!(py, "SERVER_PORT"), server_port.as_bytes())?;
    let (remote_addr, remote_port) = match req.peer {
        Some(peer) => (peer.ip().to_string(), peer.port().to_string()),
        None => (String::new(), String::new()),
    };
    set(intern!(py, "REMOTE_ADDR"), remote_addr.as_bytes())?;
    set(intern!(py, "REMOTE_PORT"), remote_port.as_bytes())?;

    if let Some(ct) = parts.headers.get(CONTENT_TYPE) {
        set(intern!(py, "CONTENT_TYPE"), ct.as_bytes())?;
    }
    if req.has_body {
        set(
            intern!(py, "CONTENT_LENGTH"),
            req.body.len().to_string().as_bytes(),
        )?;
    }
    add_http_headers(py, &env, parts)?;

    env.set_item(intern!(py, "wsgi.version"), (1, 0))?;
    env.set_item(intern!(py, "wsgi.url_scheme"), req.url_scheme)?;
    env.set_item(
        intern!(py, "wsgi.input"),
        Input::new(req.body).into_py_any(py)?,
    )?;
    env.set_item(intern!(py, "wsgi.errors"), errors.clone_ref(py))?;
    env.set_item(intern!(py, "wsgi.multithread"), false)?;
    env.set_item(intern!(py, "wsgi.multiprocess"), app.multiprocess)?;
    env.set_item(intern!(py, "wsgi.run_once"), false)?;
    env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
    Ok(env)
}

/// One `HTTP_*` key per header name: repeats joined with ", " (`Cookie` with "; ",
/// RFC 6265 §5.4). Names holding `_` are dropped, so `X_Forwarded_For` cannot pose as
/// `X-Forwarded-For` once both become `HTTP_X_FORWARDED_FOR`.
fn add_http_headers<'py>(py: Python<'py>, env: &Bound<'py, PyDict>, parts: &Parts) -> PyResult<()> {
    for name in parts.headers.keys() {
        if name == CONTENT_TYPE || name == CONTENT_LENGTH || name.as_str().contains('_') {
            continue;
        }
        let key = http_key(name.as_str());
        let separator: &[u8] = if name == COOKIE { b"; " } else { b", " };
        let mut values = parts.headers.get_all(name).iter();
        let first = values.next().map(|v| v.as_bytes()).unwrap_or_default();
        let mut joined = first.to_vec();
        for value in values {
            joined.extend_from_slice(separator);
            joined.extend_from_slice(value.as_bytes());
        }
        env.set_item(key, latin1(py, &joined))?;
    }
    Ok(())
}

fn http_key(name: &str) -> String {
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    key.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    key
}

/// `SERVER_NAME` and `SERVER_PORT` from the `Host` header, else from the socket.
fn server_name_port(parts: &Parts, local: Option<SocketAddr>) -> (String, String) {
    let default_port = local.map_or_else(|| "80".to_owned(), |l| l.port().to_string());
    if let Some(host) = parts.headers.get(HOST).and_then(|h| h.to_str().ok()) {
        if let Some(rest) = host.strip_prefix('[') {
            if let Some((ip6, port)) = rest.split_once(']') {
                let port = port.strip_prefix(':').filter(|p| !p.is_empty());
                return (ip6.to_owned(), port.map_or(default_port, str::to_owned));
            }
        }
        return match host.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), port.to_owned()),
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

    fn parts(host: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().uri("/x");
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn keys() {
        assert_eq!(http_key("x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(http_key("accept"), "HTTP_ACCEPT");
    }

    #[test]
    fn server_name_from_host_or_socket() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let pair = |h| server_name_port(&parts(h), Some(local));
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
        assert_eq!(pair(None), ("127.0.0.1".into(), "8080".into()));
    }
}
