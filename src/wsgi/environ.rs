//! Builds the PEP 3333 `environ` dict for one request. Every value is a native `str` holding
//! the request's bytes decoded as latin-1 ("bytes as unicode", PEP 3333 "Unicode Issues").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use http::Method;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, IntoPyObjectExt};

use super::app::App;
use super::errors::ErrorStream;
use super::ffi;
use super::file_wrapper::FileWrapper;
use super::input::Input;
use crate::http::{Head, Known, RequestBody};

/// What the environ is built from, besides the request head.
pub struct RequestInfo<'a> {
    pub head: &'a Head,
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
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    ffi::latin1(py, bytes)
}

/// What every environ shares, made once per worker: a template dict holding the constant keys
/// (and placeholders for the per-request ones, so its copy needs no resize), and the `HTTP_*`
/// keys already seen as Python strings.
pub struct EnvironCache {
    template: Py<PyDict>,
    header_keys: Mutex<HashMap<Vec<u8>, Py<PyString>>>,
}

/// More distinct header names than this are not cached (a client could send endless ones).
const HEADER_KEYS_CACHED: usize = 256;

impl EnvironCache {
    pub fn new(py: Python<'_>, app: &App, errors: &Py<ErrorStream>) -> PyResult<EnvironCache> {
        let env = PyDict::new(py);
        // Per-request keys first, as placeholders: each request overwrites them in place.
        for key in [
            "REQUEST_METHOD",
            "PATH_INFO",
            "QUERY_STRING",
            "RAW_URI",
            "SERVER_NAME",
            "SERVER_PORT",
            "REMOTE_ADDR",
            "REMOTE_PORT",
            "wsgi.input",
        ] {
            env.set_item(PyString::intern(py, key), intern!(py, ""))?;
        }
        env.set_item(intern!(py, "SCRIPT_NAME"), latin1(py, &app.script_name)?)?;
        env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.1"))?;
        env.set_item(intern!(py, "wsgi.version"), (1, 0))?;
        env.set_item(intern!(py, "wsgi.url_scheme"), intern!(py, "http"))?;
        env.set_item(intern!(py, "wsgi.errors"), errors.clone_ref(py))?;
        env.set_item(intern!(py, "wsgi.multithread"), app.multithread)?;
        env.set_item(intern!(py, "wsgi.multiprocess"), app.multiprocess)?;
        env.set_item(intern!(py, "wsgi.run_once"), false)?;
        env.set_item(intern!(py, "wsgi.input_terminated"), true)?;
        env.set_item(
            intern!(py, "wsgi.file_wrapper"),
            py.get_type::<FileWrapper>(),
        )?;
        Ok(EnvironCache {
            template: env.unbind(),
            header_keys: Mutex::new(HashMap::new()),
        })
    }

    /// `HTTP_<NAME>` for a header name (any case).
    fn header_key<'py>(&self, py: Python<'py>, name: &[u8]) -> Bound<'py, PyString> {
        let lower = name.to_ascii_lowercase();
        let Ok(mut keys) = self.header_keys.lock() else {
            return PyString::new(py, &http_key(&lower));
        };
        if let Some(key) = keys.get(&lower) {
            return key.bind(py).clone();
        }
        let key = PyString::intern(py, &http_key(&lower));
        if keys.len() < HEADER_KEYS_CACHED {
            keys.insert(lower, key.clone().unbind());
        }
        key
    }
}

pub fn build<'py>(
    py: Python<'py>,
    cache: &EnvironCache,
    req: RequestInfo<'_>,
    path_info: &[u8],
) -> PyResult<Bound<'py, PyDict>> {
    let env = cache.template.bind(py).copy()?;
    let head = req.head;
    let set = |key: &Bound<'py, PyString>, value: &[u8]| env.set_item(key, latin1(py, value)?);

    let method = match head.method {
        Method::GET => intern!(py, "GET").clone(),
        Method::POST => intern!(py, "POST").clone(),
        Method::HEAD => intern!(py, "HEAD").clone(),
        _ => latin1(py, head.method.as_str().as_bytes())?,
    };
    env.set_item(intern!(py, "REQUEST_METHOD"), method)?;
    set(intern!(py, "PATH_INFO"), path_info)?;
    match head.query() {
        Some(query) => set(intern!(py, "QUERY_STRING"), query.as_bytes())?,
        None => env.set_item(intern!(py, "QUERY_STRING"), intern!(py, ""))?,
    }
    set(intern!(py, "RAW_URI"), head.path_and_query().as_bytes())?;
    if head.version == http::Version::HTTP_10 {
        env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.0"))?;
    }

    let (server_name, server_port) = server_name_port(head, req.local);
    set(intern!(py, "SERVER_NAME"), server_name.as_bytes())?;
    set(intern!(py, "SERVER_PORT"), server_port.as_bytes())?;
    let (remote_addr, remote_port) = match req.peer {
        Some(peer) => (peer.ip().to_string(), peer.port().to_string()),
        None => (String::new(), String::new()),
    };
    set(intern!(py, "REMOTE_ADDR"), remote_addr.as_bytes())?;
    set(intern!(py, "REMOTE_PORT"), remote_port.as_bytes())?;

    if let Some(ct) = head.fields.get(Known::ContentType) {
        set(intern!(py, "CONTENT_TYPE"), ct)?;
    }
    if req.has_body {
        set(
            intern!(py, "CONTENT_LENGTH"),
            req.body.len().to_string().as_bytes(),
        )?;
    }
    add_http_headers(py, cache, &env, head)?;
    if req.url_scheme != "http" {
        env.set_item(intern!(py, "wsgi.url_scheme"), req.url_scheme)?;
    }
    env.set_item(
        intern!(py, "wsgi.input"),
        Input::new(req.body).into_py_any(py)?,
    )?;
    Ok(env)
}

/// `PATH_INFO` for a request whose decoded path is `path`, when the app is mounted at
/// `script_name` (PEP 3333 "environ Variables"; CGI RFC 3875 §4.1.5, §4.1.13): the rest of the
/// path after the prefix, which must end there or at a `/`. `None` means the path is outside
/// the app.
pub fn path_info<'a>(script_name: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    let rest = path.strip_prefix(script_name)?;
    (rest.is_empty() || rest.starts_with(b"/")).then_some(rest)
}

/// One `HTTP_*` key per header name: repeats joined with ", " (`Cookie` with "; ",
/// RFC 6265 §5.4). Names holding `_` are dropped, so `X_Forwarded_For` cannot pose as
/// `X-Forwarded-For` once both become `HTTP_X_FORWARDED_FOR`.
fn add_http_headers<'py>(
    py: Python<'py>,
    cache: &EnvironCache,
    env: &Bound<'py, PyDict>,
    head: &Head,
) -> PyResult<()> {
    let fields: Vec<(&[u8], &[u8], Known)> = head.fields.iter().collect();
    for (i, &(name, value, known)) in fields.iter().enumerate() {
        if matches!(known, Known::ContentType | Known::ContentLength) || name.contains(&b'_') {
            continue;
        }
        let same = |&&(other, _, other_known): &&(&[u8], &[u8], Known)| {
            other_known == known && other.eq_ignore_ascii_case(name)
        };
        if fields[..i].iter().any(|f| same(&f)) {
            continue;
        }
        let key = cache.header_key(py, name);
        let mut rest = fields[i + 1..].iter().filter(|f| same(f)).peekable();
        if rest.peek().is_none() {
            env.set_item(key, latin1(py, value)?)?;
            continue;
        }
        let separator: &[u8] = if known == Known::Cookie { b"; " } else { b", " };
        let mut joined = value.to_vec();
        for &(_, value, _) in rest {
            joined.extend_from_slice(separator);
            joined.extend_from_slice(value);
        }
        env.set_item(key, latin1(py, &joined)?)?;
    }
    Ok(())
}

fn http_key(lower: &[u8]) -> String {
    let mut key = String::with_capacity(5 + lower.len());
    key.push_str("HTTP_");
    key.extend(lower.iter().map(|&c| {
        if c == b'-' {
            '_'
        } else {
            char::from(c.to_ascii_uppercase())
        }
    }));
    key
}

/// `SERVER_NAME` and `SERVER_PORT` from the `Host` header, else from the socket.
fn server_name_port(head: &Head, local: Option<SocketAddr>) -> (String, String) {
    let default_port = local.map_or_else(|| "80".to_owned(), |l| l.port().to_string());
    let host = head
        .fields
        .get(Known::Host)
        .and_then(crate::http::fields::text);
    if let Some(host) = host {
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

    fn parts(host: Option<&str>) -> Head {
        let raw = match host {
            Some(host) => format!("GET /x HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            None => "GET /x HTTP/1.0\r\n\r\n".to_owned(),
        };
        let mut buf = bytes::BytesMut::from(raw.as_bytes());
        let limits = crate::http::parse::Limits::default();
        let raw = crate::http::parse::take_head(&mut buf, &limits)
            .unwrap()
            .unwrap();
        crate::http::framing::interpret(raw).unwrap().head
    }

    #[test]
    fn script_name_split() {
        assert_eq!(path_info(b"", b"/a/b"), Some(&b"/a/b"[..]));
        assert_eq!(path_info(b"/app", b"/app/x"), Some(&b"/x"[..]));
        assert_eq!(path_info(b"/app", b"/app"), Some(&b""[..]));
        assert_eq!(path_info(b"/app", b"/apple"), None);
        assert_eq!(path_info(b"/app", b"/other"), None);
    }

    #[test]
    fn keys() {
        assert_eq!(http_key(b"x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(http_key(b"accept"), "HTTP_ACCEPT");
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
