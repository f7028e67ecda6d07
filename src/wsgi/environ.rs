//! Builds the PEP 3333 `environ` dict for one request. Every value is a native `str` holding
//! the request's bytes decoded as latin-1 ("bytes as unicode", PEP 3333 "Unicode Issues").

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
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
use super::strings;
use crate::http::fields::KNOWN_COUNT;
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
    /// `wsgi.url_scheme`: `http` (`https` on a TLS listener), or what a trusted proxy said
    /// (`--forwarded-allow-ips`).
    pub url_scheme: &'static str,
    /// On a TLS connection: what `tls_environ` adds (`HTTPS`, `SSL_*`).
    pub tls: Option<&'a crate::http::TlsInfo>,
}

/// A `str` whose code points are the bytes (latin-1).
pub fn latin1<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    ffi::latin1(py, bytes)
}

/// What every environ shares, made once per worker: a template dict holding the constant keys
/// (and placeholders for the per-request ones, so its copy needs no resize; the empty
/// `wsgi.input` every request without a body shares, as it has no state to change), and the
/// `HTTP_*` keys of the fields the parser recognises.
pub struct EnvironCache {
    template: Py<PyDict>,
    /// The templates of TLS requests, with the `SSL_*` keys of their protocol and suite.
    tls_templates: super::tls_environ::Templates,
    known_keys: Vec<Option<Py<PyString>>>,
    /// The template's values of the keys that usually repeat from request to request.
    sticky: [Sticky; STICKY_KEYS],
    /// The `Host` value and local port the template's `HTTP_HOST`, `SERVER_NAME` and
    /// `SERVER_PORT` were made from (`None`: from no `Host`, or not known): a plain request with
    /// the same ones needs none of the three, not even a look in the strings' cache.
    sticky_host: Mutex<Option<(Vec<u8>, Option<u16>)>>,
    /// How often the plain template's sticky values changed (under the GIL). Another pool thread
    /// can change them between a copy and its sticky keys if the GIL is let go in between: such
    /// a copy gets every key set. (Without this, 4 pool threads under load gave 5 test runs of
    /// 40 an empty `REMOTE_ADDR`.)
    changes: AtomicU64,
}

/// A copy of a template: of the plain one or not, and its `changes` when the copy began.
struct Copied {
    plain: bool,
    seen: u64,
}

/// One environ key whose value is usually the same object request after request (the cached
/// strings of `strings`): the template holds the last value seen, so a copy of it needs no
/// insertion while the value stays. The pointer is only compared, never followed; it names the
/// object the template holds (alive while it does), and is read and written with the GIL held.
struct Sticky {
    key: Py<PyString>,
    value: AtomicPtr<pyo3::ffi::PyObject>,
}

/// `SERVER_NAME`, `SERVER_PORT`, `HTTP_HOST`, `REMOTE_ADDR`, by index.
const STICKY_KEYS: usize = 4;
const SERVER_NAME: usize = 0;
const SERVER_PORT: usize = 1;
const HTTP_HOST: usize = 2;
const REMOTE_ADDR: usize = 3;

/// More distinct header names than this are not cached (a client could send endless ones).
const HEADER_KEYS_CACHED: usize = 256;

thread_local! {
    /// `HTTP_*` keys of the other field names seen, by lowercase name.
    static HEADER_KEYS: RefCell<HashMap<Vec<u8>, Py<PyString>>> = RefCell::new(HashMap::new());
}

impl EnvironCache {
    pub fn new(py: Python<'_>, app: &App, errors: &Py<ErrorStream>) -> PyResult<EnvironCache> {
        let env = PyDict::new(py);
        let empty_input = Input::new(RequestBody::Memory(Default::default())).into_py_any(py)?;
        // Per-request keys first, as placeholders: each request overwrites them in place, unless
        // the request's value is the placeholder (a GET, no query, no body).
        env.set_item(intern!(py, "REQUEST_METHOD"), intern!(py, "GET"))?;
        for key in ["PATH_INFO", "QUERY_STRING", "RAW_URI", "REMOTE_PORT"] {
            env.set_item(PyString::intern(py, key), intern!(py, ""))?;
        }
        env.set_item(intern!(py, "wsgi.input"), empty_input.clone_ref(py))?;
        let sticky = ["SERVER_NAME", "SERVER_PORT", "HTTP_HOST", "REMOTE_ADDR"].map(|key| Sticky {
            key: PyString::intern(py, key).unbind(),
            value: AtomicPtr::new(intern!(py, "").as_ptr()),
        });
        for s in &sticky {
            env.set_item(s.key.bind(py), intern!(py, ""))?;
        }
        env.set_item(intern!(py, "SCRIPT_NAME"), latin1(py, &app.script_name)?)?;
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
        let known_keys = KNOWN_NAMES
            .iter()
            .map(|name| name.map(|n| PyString::intern(py, &http_key(n.as_bytes())).unbind()))
            .collect();
        let tls_templates = super::tls_environ::Templates::new(py, &env)?;
        Ok(EnvironCache {
            template: env.unbind(),
            tls_templates,
            known_keys,
            sticky,
            sticky_host: Mutex::new(None),
            changes: AtomicU64::new(0),
        })
    }

    /// Whether the template's host keys were made from `host` on `local` (see `sticky_host`).
    fn host_is_sticky(&self, host: Option<&[u8]>, local: Option<SocketAddr>) -> bool {
        let (Some(host), Ok(known)) = (host, self.sticky_host.lock()) else {
            return false;
        };
        known
            .as_ref()
            .is_some_and(|(h, port)| h == host && *port == local.map(|l| l.port()))
    }

    /// Records what the template's host keys were made from: `host` on `local`, or nothing
    /// known (`None`, also said before they change, so a failure halfway leaves nothing stale).
    fn remember_host(&self, host: Option<(&[u8], Option<SocketAddr>)>) {
        if let Ok(mut known) = self.sticky_host.lock() {
            match (host, known.as_mut()) {
                (Some((host, local)), Some((h, port))) => {
                    h.clear();
                    h.extend_from_slice(host);
                    *port = local.map(|l| l.port());
                }
                (Some((host, local)), None) => {
                    *known = Some((host.to_vec(), local.map(|l| l.port())));
                }
                (None, _) => *known = None,
            }
        }
    }

    /// Whether `copy` is of the plain template as it still is (no other thread changed it).
    fn current(&self, copy: &Copied) -> bool {
        copy.plain && self.changes.load(Ordering::Relaxed) == copy.seen
    }

    /// Gives `env` `value` for the sticky key `index`. A current copy of the plain template needs
    /// nothing when the template holds that very object; else it is set in the copy, and in
    /// the plain template so the next copy has it (a TLS template keeps no sticky values).
    fn set_sticky<'py>(
        &self,
        env: &Bound<'py, PyDict>,
        copy: &mut Copied,
        index: usize,
        value: &Bound<'py, PyString>,
    ) -> PyResult<()> {
        let sticky = &self.sticky[index];
        let key = sticky.key.bind(env.py());
        if !copy.plain {
            return env.set_item(key, value);
        }
        let current = self.current(copy);
        let held = sticky.value.load(Ordering::Relaxed) == value.as_ptr();
        if current && held {
            return Ok(());
        }
        env.set_item(key, value)?;
        if !held {
            self.template.bind(env.py()).set_item(key, value)?;
            sticky.value.store(value.as_ptr(), Ordering::Relaxed);
            let changes = self.changes.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            // This copy and the template changed alike: still the same, if they were.
            copy.seen = if current { changes } else { copy.seen };
        }
        Ok(())
    }

    /// `HTTP_<NAME>` for a header name (any case).
    fn header_key<'py>(&self, py: Python<'py>, name: &[u8], known: Known) -> Bound<'py, PyString> {
        if let Some(Some(key)) = self.known_keys.get(known as usize) {
            return key.bind(py).clone();
        }
        let lower = name.to_ascii_lowercase();
        HEADER_KEYS.with(|keys| {
            let mut keys = keys.borrow_mut();
            if let Some(key) = keys.get(&lower) {
                return key.bind(py).clone();
            }
            let key = PyString::intern(py, &http_key(&lower));
            if keys.len() < HEADER_KEYS_CACHED {
                keys.insert(lower, key.clone().unbind());
            }
            key
        })
    }
}

/// The lowercase name of each `Known` tag, by tag (`None` for `Other`, and for the two that
/// are not `HTTP_*` keys).
const KNOWN_NAMES: [Option<&str>; KNOWN_COUNT] = [
    None,
    Some("host"),
    None,
    Some("transfer-encoding"),
    Some("connection"),
    Some("expect"),
    None,
    Some("cookie"),
    Some("forwarded"),
    Some("x-forwarded-for"),
    Some("x-forwarded-proto"),
    Some("x-forwarded-host"),
    Some("authorization"),
    Some("referer"),
    Some("user-agent"),
    Some("if-match"),
    Some("if-none-match"),
    Some("if-modified-since"),
    Some("if-unmodified-since"),
    Some("if-range"),
    Some("range"),
    Some("accept-encoding"),
    Some("proxy-authorization"),
];

/// The environ of `req`, whose body it takes (borrowed, not moved: the request's description is
/// some 150 bytes, copied at each move).
pub fn build<'py>(
    py: Python<'py>,
    cache: &EnvironCache,
    req: &mut RequestInfo<'_>,
    path_info: &[u8],
) -> PyResult<Bound<'py, PyDict>> {
    let mut copy = Copied {
        plain: req.tls.is_none(),
        seen: cache.changes.load(Ordering::Relaxed),
    };
    // A TLS request's template holds its `SSL_*` keys and `https` already.
    let (env, scheme) = match req.tls {
        Some(tls) => (cache.tls_templates.get(py, tls)?.copy()?, "https"),
        None => (cache.template.bind(py).copy()?, "http"),
    };
    let head = req.head;
    let set = |key: &Bound<'py, PyString>, value: &[u8]| env.set_item(key, latin1(py, value)?);

    match head.method {
        Method::GET => {}
        Method::POST => env.set_item(intern!(py, "REQUEST_METHOD"), intern!(py, "POST"))?,
        Method::HEAD => env.set_item(intern!(py, "REQUEST_METHOD"), intern!(py, "HEAD"))?,
        _ => set(
            intern!(py, "REQUEST_METHOD"),
            head.method.as_str().as_bytes(),
        )?,
    }
    let path = latin1(py, path_info)?;
    env.set_item(intern!(py, "PATH_INFO"), &path)?;
    if let Some(query) = head.query().filter(|q| !q.is_empty()) {
        set(intern!(py, "QUERY_STRING"), query.as_bytes())?;
    }
    // As gunicorn passes it: an absolute-form target whole (RFC 9112 §3.2.2), else the path
    // and query. (An HTTP/2 request's target is its path and query, from its pseudo-header
    // fields.) The usual target, a plain path, is the same string as PATH_INFO.
    let target = head.target().as_bytes();
    if target == path_info {
        env.set_item(intern!(py, "RAW_URI"), path)?;
    } else {
        set(intern!(py, "RAW_URI"), target)?;
    }
    match head.version {
        http::Version::HTTP_10 => {
            env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/1.0"))?
        }
        http::Version::HTTP_2 => {
            env.set_item(intern!(py, "SERVER_PROTOCOL"), intern!(py, "HTTP/2"))?
        }
        _ => {}
    }

    let host = head.fields.get(Known::Host);
    // The usual request names the host the last one did: the copy holds its three keys.
    if !(cache.current(&copy) && cache.host_is_sticky(host, req.local)) {
        if copy.plain {
            cache.remember_host(None);
        }
        let (http_host, server_name, server_port) = strings::host(py, host, req.local)?;
        cache.set_sticky(&env, &mut copy, SERVER_NAME, &server_name)?;
        cache.set_sticky(&env, &mut copy, SERVER_PORT, &server_port)?;
        match host {
            Some(_) => cache.set_sticky(&env, &mut copy, HTTP_HOST, &http_host)?,
            None => env.del_item(cache.sticky[HTTP_HOST].key.bind(py))?,
        }
        if copy.plain {
            cache.remember_host(host.map(|h| (h, req.local)));
        }
    }
    match req.peer {
        Some(peer) => {
            let (addr, port) = strings::peer(py, peer)?;
            cache.set_sticky(&env, &mut copy, REMOTE_ADDR, &addr)?;
            env.set_item(intern!(py, "REMOTE_PORT"), port)?;
        }
        None => cache.set_sticky(&env, &mut copy, REMOTE_ADDR, intern!(py, ""))?,
    }

    if let Some(ct) = head.fields.get(Known::ContentType) {
        set(intern!(py, "CONTENT_TYPE"), ct)?;
    }
    if req.has_body {
        let mut digits = [0u8; 20];
        set(
            intern!(py, "CONTENT_LENGTH"),
            crate::text::decimal(req.body.len(), &mut digits),
        )?;
    }
    add_http_headers(py, cache, &env, head)?;
    if req.url_scheme != scheme {
        env.set_item(intern!(py, "wsgi.url_scheme"), req.url_scheme)?;
    }
    if let Some(tls) = req.tls {
        super::tls_environ::add_client(py, &env, tls)?;
    }
    // Without a body, the template's shared empty `wsgi.input` stays.
    if !req.body.is_empty() {
        env.set_item(
            intern!(py, "wsgi.input"),
            Input::new(std::mem::replace(
                &mut req.body,
                RequestBody::Memory(Default::default()),
            ))
            .into_py_any(py)?,
        )?;
    }
    Ok(env)
}

/// The values of the environ variables `names` (lowercase: gunicorn looks them up in any case)
/// as the app left them, as text, for the access log's `{name}e` atoms.
pub fn logged(env: &Bound<'_, PyDict>, names: &[String]) -> Vec<Option<String>> {
    let mut values = vec![None; names.len()];
    for (key, value) in env.iter() {
        let Ok(key) = key.str() else { continue };
        let key = key.to_string_lossy().to_lowercase();
        if let Some(i) = names.iter().position(|n| *n == key) {
            values[i] = value.str().ok().map(|s| s.to_string_lossy().into_owned());
        }
    }
    values
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
/// `X-Forwarded-For` once both become `HTTP_X_FORWARDED_FOR`. `Host` (which appears at most
/// once) is left out: `build` sets `HTTP_HOST` from its cached string.
fn add_http_headers<'py>(
    py: Python<'py>,
    cache: &EnvironCache,
    env: &Bound<'py, PyDict>,
    head: &Head,
) -> PyResult<()> {
    let fields = &head.fields;
    // Past a few fields, each name's values are grouped first (a head may carry thousands of
    // fields if the limits allow); below, repeats are found by comparing names pairwise.
    let groups = (fields.len() > FEW_FIELDS).then(|| {
        let mut groups: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, (name, _, _)) in fields.iter().enumerate() {
            groups.entry(name.to_ascii_lowercase()).or_default().push(i);
        }
        groups
    });
    let all: Vec<&[u8]> = match &groups {
        Some(_) => fields.iter().map(|(_, value, _)| value).collect(),
        None => Vec::new(),
    };
    for (i, (name, value, known)) in fields.iter().enumerate() {
        let own = matches!(
            known,
            Known::ContentType | Known::ContentLength | Known::Host
        );
        if own || name.contains(&b'_') {
            continue;
        }
        let same = |(other, _, other_known): &(&[u8], &[u8], Known)| {
            *other_known == known && other.eq_ignore_ascii_case(name)
        };
        let values: Vec<&[u8]> = match &groups {
            Some(groups) => {
                let group = groups
                    .get(&name.to_ascii_lowercase())
                    .map_or(&[][..], Vec::as_slice);
                if group.first() != Some(&i) {
                    continue;
                }
                group.iter().map(|&j| all[j]).collect()
            }
            None => {
                if fields.iter().take(i).any(|f| same(&f)) {
                    continue;
                }
                let mut rest = fields.iter().skip(i + 1).filter(same).peekable();
                if rest.peek().is_none() {
                    env.set_item(cache.header_key(py, name, known), latin1(py, value)?)?;
                    continue;
                }
                std::iter::once(value)
                    .chain(rest.map(|(_, v, _)| v))
                    .collect()
            }
        };
        let separator: &[u8] = if known == Known::Cookie { b"; " } else { b", " };
        let joined = values.join(separator);
        env.set_item(cache.header_key(py, name, known), latin1(py, &joined)?)?;
    }
    Ok(())
}

/// Up to this many fields, repeats are found by comparing names pairwise; past it, with a set
/// (a head may carry thousands of fields if the limits allow).
const FEW_FIELDS: usize = 32;

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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(http_key(b"x-forwarded-for"), "HTTP_X_FORWARDED_FOR");
        assert_eq!(http_key(b"accept"), "HTTP_ACCEPT");
    }
}
