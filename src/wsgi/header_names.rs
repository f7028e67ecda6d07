//! The app's header names (PEP 3333 "The start_response() Callable"), each checked against
//! RFC 9110 §5.6.2, classified (what the server makes of it) and title-cased once per name
//! object: apps pass the same few `str` objects (literals, module constants) response after
//! response, so a per-thread cache keyed by the object itself turns the per-byte work into one
//! pointer comparison. A cached name is held (a strong reference), so its address cannot be
//! reused by another string while it is in the cache; `str` is immutable, so what was checked
//! stays true.

use std::cell::RefCell;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// What a header name is to the server, by its lowercase spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Rendered as given.
    Plain,
    Date,
    Server,
    ContentLength,
    Connection,
    /// Another hop-by-hop header: dropped.
    HopByHop,
}

/// A checked name: its role and its title-cased bytes (`content-TYPE` → `Content-Type`, the
/// form most clients and tools print).
pub struct Name {
    pub role: Role,
    pub rendered: Box<[u8]>,
    object: Py<PyString>,
}

/// Names kept per thread; past this many, the oldest slot is replaced.
const CACHED: usize = 16;

#[derive(Default)]
struct Cache {
    names: Vec<Name>,
    next: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// Calls `f` with the checked form of `name`; an invalid name is a `ValueError`.
pub fn with<R>(name: &Bound<'_, PyString>, f: impl FnOnce(&Name) -> PyResult<R>) -> PyResult<R> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let found = cache
            .names
            .iter()
            .position(|n| n.object.as_ptr() == name.as_ptr());
        let index = match found {
            Some(index) => index,
            None => {
                let checked = check(name)?;
                if cache.names.len() < CACHED {
                    cache.names.push(checked);
                    cache.names.len() - 1
                } else {
                    let index = cache.next;
                    cache.next = (index + 1) % CACHED;
                    cache.names[index] = checked;
                    index
                }
            }
        };
        f(&cache.names[index])
    })
}

fn check(name: &Bound<'_, PyString>) -> PyResult<Name> {
    let text = name.to_str()?;
    if text.is_empty() || !text.bytes().all(|b| TCHAR[usize::from(b)]) {
        return Err(PyValueError::new_err(format!(
            "header name {text:?} is not a valid token"
        )));
    }
    let mut rendered = text.as_bytes().to_vec().into_boxed_slice();
    let mut upper = true;
    for b in rendered.iter_mut() {
        *b = if upper {
            b.to_ascii_uppercase()
        } else {
            b.to_ascii_lowercase()
        };
        upper = *b == b'-';
    }
    Ok(Name {
        role: role(text),
        rendered,
        object: name.clone().unbind(),
    })
}

fn role(name: &str) -> Role {
    let is = |lower: &str| name.eq_ignore_ascii_case(lower);
    match name.len() {
        2 if is("te") => Role::HopByHop,
        4 if is("date") => Role::Date,
        6 if is("server") => Role::Server,
        7 if is("trailer") || is("upgrade") => Role::HopByHop,
        10 if is("connection") => Role::Connection,
        10 if is("keep-alive") => Role::HopByHop,
        14 if is("content-length") => Role::ContentLength,
        16 if is("proxy-connection") => Role::HopByHop,
        17 if is("transfer-encoding") => Role::HopByHop,
        _ => Role::Plain,
    }
}

/// RFC 9110 §5.6.2 `tchar`, as a table.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric()
            || matches!(
                b as u8,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};
