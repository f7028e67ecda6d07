//! Builds the PEP 3333 `environ` dict for one request. Every value is a native `str` holding
//! the request's bytes decoded as latin-1 ("bytes as unicode", PEP 3333 "Unicode Issues").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use http::header::{HeaderName, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use http::request::Parts;
use http::Method;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::{intern, IntoPyObjectExt};

use super::app::App;
use super::errors::ErrorStream;
use super::file_wrapper::FileWrapper;
use super::input::Input;
use crate::http::RequestBody;

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
    /// `wsgi.url_scheme`: `http` (`https` on a TLS listener), or what a trusted proxy said
    /// (`--forwarded-allow-ips`).
    pub url_scheme: &'static str,
    /// On a TLS connection: what `tls_environ` adds (`HTTPS`, `SSL_*`).
    pub tls: Option<&'a crate::http::TlsInfo>,
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

/// What every environ shares, made once per worker: a template dict holding the constant keys
/// (and placeholders for the per-request ones, so its copy needs no resize), and the `HTTP_*`
/// keys already seen as Python strings.
pub struct EnvironCache {
    template: Py<PyDict>,
    header_keys: Mutex<HashMap<HeaderName, Py<PyString>>>,
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
        env.set_item(intern!(py, "SCRIPT_NAME"), latin1(py, &app.script_name))?;
        env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.1"))?;
        // As gunicorn's `gunicorn/VERSION`: some apps and middleware read it.
        env.set_item(
            intern!(py, "SERVER_SOFTWARE"),
            concat!("pyrite/", env!("CARGO_PKG_VERSION")),
        )?;
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

    /// `HTTP_<NAME>` for a header name.
    fn header_key<'py>(&self, py: Python<'py>, name: &HeaderName) -> Bound<'py, PyString> {
        let Ok(mut keys) = self.header_keys.lock() else {
            return PyString::new(py, &http_key(name.as_str()));
        };
        if let Some(key) = keys.get(name) {
            return key.bind(py).clone();
        }
        let key = PyString::intern(py, &http_key(name.as_str()));
        if keys.len() < HEADER_KEYS_CACHED {
            keys.insert(name.clone(), key.clone().unbind());
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
    let parts = req.parts;
    let set = |key: &Bound<'py, PyString>, value: &[u8]| env.set_item(key, latin1(py, value));

    let method = match parts.method {
        Method::GET => intern!(py, "GET").clone(),
        Method::POST => intern!(py, "POST").clone(),
        Method::HEAD => intern!(py, "HEAD").clone(),
        _ => latin1(py, parts.method.as_str().as_bytes()),
    };
    env.set_item(intern!(py, "REQUEST_METHOD"), method)?;
    set(intern!(py, "PATH_INFO"), path_info)?;
    match parts.uri.query() {
        Some(query) => set(intern!(py, "QUERY_STRING"), query.as_bytes())?,
        None => env.set_item(intern!(py, "QUERY_STRING"), intern!(py, ""))?,
    }
    // As gunicorn passes it: an absolute-form target whole (RFC 9112 §3.2.2), else the path
    // and query. (An HTTP/2 request's URI is always absolute, from its pseudo-header fields: its
    // target is the path.)
    match parts.uri.scheme() {
        Some(_) if parts.version != http::Version::HTTP_2 => {
            set(intern!(py, "RAW_URI"), parts.uri.to_string().as_bytes())?
        }
        _ => {
            let raw_uri = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
            set(intern!(py, "RAW_URI"), raw_uri.as_bytes())?
        }
    }
    match parts.version {
        http::Version::HTTP_10 => {
            env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.0"))?
        }
        http::Version::HTTP_2 => {
            env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/2"))?
        }
        _ => {}
    }

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
    add_http_headers(py, cache, &env, parts)?;
    if req.url_scheme != "http" {
        env.set_item(intern!(py, "wsgi.url_scheme"), req.url_scheme)?;
    }
    if let Some(tls) = req.tls {
        super::tls_environ::add(py, &env, tls)?;
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
    // `OPTIONS *` (RFC 9112 §3.2.4) reaches the app with `PATH_INFO` `*`, as in gunicorn.
    if path == b"*" {
        return Some(path);
    }
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
    parts: &Parts,
) -> PyResult<()> {
    for name in parts.headers.keys() {
        if name == CONTENT_TYPE || name == CONTENT_LENGTH || name.as_str().contains('_') {
            continue;
        }
        let key = cache.header_key(py, name);
        let mut values = parts.headers.get_all(name).iter();
        let first = values.next().map(|v| v.as_bytes()).unwrap_or_default();
        let Some(second) = values.next() else {
            env.set_item(key, latin1(py, first))?;
            continue;
        };
        let separator: &[u8] = if name == COOKIE { b"; " } else { b", " };
        let mut joined = first.to_vec();
        for value in std::iter::once(second).chain(values) {
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

    fn parts(host: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().uri("/x");
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn script_name_split() {
        assert_eq!(path_info(b"", b"/a/b"), Some(&b"/a/b"[..]));
        assert_eq!(path_info(b"/app", b"/app/x"), Some(&b"/x"[..]));
        assert_eq!(path_info(b"/app", b"/app"), Some(&b""[..]));
        assert_eq!(path_info(b"/app", b"/apple"), None);
        assert_eq!(path_info(b"/app", b"/other"), None);
        assert_eq!(path_info(b"/app", b"*"), Some(&b"*"[..]));
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
