//! A request's header fields, as they arrived: the head's bytes and, for each field line, where
//! its name and value lie in them. No map, no hashing, no copy per field: a request carries a
//! handful of fields, which a scan finds faster than a hash lookup, and the names the server
//! itself asks about are recognised once, while parsing, as [`Known`] tags. The bytes and the
//! index live in buffers that return to a per-thread pool when the request is done, so a
//! request head costs no allocation once a worker is warm.

use std::cell::RefCell;
use std::sync::Mutex;

use bytes::BytesMut;

/// The field names the server looks at itself (RFC 9110, RFC 7239, and the usual proxies'),
/// recognised when the head is parsed; every other name is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Known {
    Other = 0,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    ContentType,
    Cookie,
    Forwarded,
    XForwardedFor,
    XForwardedProto,
    XForwardedHost,
    Authorization,
    Referer,
    UserAgent,
    IfMatch,
    IfNoneMatch,
    IfModifiedSince,
    IfUnmodifiedSince,
    IfRange,
    Range,
    AcceptEncoding,
    ProxyAuthorization,
}

/// How many `Known` tags there are (`Other` included): one bit each in a `u32`.
pub const KNOWN_COUNT: usize = Known::ProxyAuthorization as usize + 1;
const _: () = assert!(KNOWN_COUNT <= 32);

impl Known {
    /// The tag of a field name (any case).
    pub fn of(name: &[u8]) -> Known {
        let is = |lower: &[u8]| name.eq_ignore_ascii_case(lower);
        match name.len() {
            4 if is(b"host") => Known::Host,
            5 if is(b"range") => Known::Range,
            6 if is(b"cookie") => Known::Cookie,
            6 if is(b"expect") => Known::Expect,
            7 if is(b"referer") => Known::Referer,
            8 if is(b"if-match") => Known::IfMatch,
            8 if is(b"if-range") => Known::IfRange,
            9 if is(b"forwarded") => Known::Forwarded,
            10 if is(b"connection") => Known::Connection,
            10 if is(b"user-agent") => Known::UserAgent,
            12 if is(b"content-type") => Known::ContentType,
            13 if is(b"authorization") => Known::Authorization,
            13 if is(b"if-none-match") => Known::IfNoneMatch,
            14 if is(b"content-length") => Known::ContentLength,
            15 if is(b"accept-encoding") => Known::AcceptEncoding,
            15 if is(b"x-forwarded-for") => Known::XForwardedFor,
            16 if is(b"x-forwarded-host") => Known::XForwardedHost,
            17 if is(b"transfer-encoding") => Known::TransferEncoding,
            17 if is(b"x-forwarded-proto") => Known::XForwardedProto,
            17 if is(b"if-modified-since") => Known::IfModifiedSince,
            19 if is(b"if-unmodified-since") => Known::IfUnmodifiedSince,
            19 if is(b"proxy-authorization") => Known::ProxyAuthorization,
            _ => Known::Other,
        }
    }

    /// Fields whose definition allows one value, not a list (RFC 9110 §5.3): a repeat leaves
    /// the request ambiguous — two hosts, two lengths, two media types, two credentials, two
    /// preconditions a cache and the server could each read differently — so it is refused
    /// (gunicorn 23 and later refuse a repeated Host and Content-Type too).
    pub fn is_singleton(self) -> bool {
        matches!(
            self,
            Known::Host
                | Known::ContentLength
                | Known::ContentType
                | Known::Authorization
                | Known::ProxyAuthorization
                | Known::Range
                | Known::IfRange
                | Known::IfModifiedSince
                | Known::IfUnmodifiedSince
        )
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// Where one field line's name and value lie in the head's bytes.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    pub fn new(start: usize, len: usize) -> Span {
        // A head is bounded far below 4 GiB (parse's MAX_HEAD, the line limits).
        Span {
            start: start as u32,
            len: len as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Field {
    name: Span,
    value: Span,
    known: Known,
}

/// The header fields of one request, in the order they arrived.
#[derive(Debug)]
pub struct Fields {
    /// The head's bytes (and anything appended to them, see [`Fields::append`]).
    buf: BytesMut,
    list: Vec<Field>,
    /// One bit per [`Known`] tag present.
    present: u32,
    /// Set when a `Known` tag came more than once.
    repeated: u32,
}

impl Clone for Fields {
    /// A copy in pooled buffers (the access log keeps one of each request's head).
    fn clone(&self) -> Fields {
        let mut copy = Fields::new();
        copy.buf = spare_buffer();
        copy.buf.extend_from_slice(&self.buf);
        copy.list.extend_from_slice(&self.list);
        copy.present = self.present;
        copy.repeated = self.repeated;
        copy
    }
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::new()
    }
}

impl Fields {
    /// No fields and no bytes yet; the index comes from the pool.
    pub fn new() -> Fields {
        let list = SPARE_LISTS
            .with(|spare| spare.borrow_mut().pop())
            .unwrap_or_default();
        Fields {
            buf: BytesMut::new(),
            list,
            present: 0,
            repeated: 0,
        }
    }

    /// Gives up the index to the worker's spares rather than this thread's: for a thread that
    /// drops requests it did not parse (a pool thread), so the thread that parses them finds it
    /// there ([`restock`]) instead of allocating a new one per request.
    pub fn share_index(&mut self) {
        let Some(list) = spare_list(std::mem::take(&mut self.list)) else {
            return;
        };
        if let Ok(mut shared) = SHARED_LISTS.lock() {
            if shared.len() < SHARED_LISTS_KEPT {
                shared.push(list);
            }
        }
    }

    /// Builds fields from name/value pairs (tests, and drivers that receive them parsed).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Fields {
        let mut fields = Fields::new();
        fields.buf = spare_buffer();
        for (name, value) in pairs {
            let name = fields.append(name.as_bytes());
            let value = fields.append(value);
            fields.push(name, value);
        }
        fields
    }

    /// Gives the fields their bytes: what the spans pushed so far index.
    pub fn set_bytes(&mut self, buf: BytesMut) {
        return_buffer(std::mem::replace(&mut self.buf, buf));
    }

    /// The head's bytes, for the parser to fill and the spans to index.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends bytes after the head's (a value the server supplies, say), returning their span.
    pub fn append(&mut self, data: &[u8]) -> Span {
        let start = self.buf.len();
        self.buf.extend_from_slice(data);
        Span::new(start, data.len())
    }

    /// Adds a field whose name and value are spans of the bytes.
    pub fn push(&mut self, name: Span, value: Span) {
        let known = Known::of(&self.buf[name.range()]);
        self.push_known(name, value, known);
    }

    /// Adds a field whose name the caller already recognised as `known`.
    pub fn push_known(&mut self, name: Span, value: Span, known: Known) {
        if known != Known::Other {
            self.repeated |= self.present & known.bit();
            self.present |= known.bit();
        }
        self.list.push(Field { name, value, known });
    }

    /// Replaces the value of every `known` field with `value` (one field is left), or adds
    /// one named `name` when there is none.
    pub fn set(&mut self, known: Known, name: &str, value: &[u8]) {
        let value = self.append(value);
        let mut kept = false;
        self.list.retain_mut(|field| {
            if field.known != known {
                return true;
            }
            field.value = value;
            !std::mem::replace(&mut kept, true)
        });
        self.repeated &= !known.bit();
        if !kept {
            let name = self.append(name.as_bytes());
            self.push_known(name, value, known);
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a field of this kind came.
    #[inline]
    pub fn contains(&self, known: Known) -> bool {
        self.present & known.bit() != 0
    }

    /// Whether a field of this kind came more than once.
    pub fn is_repeated(&self, known: Known) -> bool {
        self.repeated & known.bit() != 0
    }

    /// The value of the first field of this kind.
    #[inline]
    pub fn get(&self, known: Known) -> Option<&[u8]> {
        if !self.contains(known) {
            return None;
        }
        self.get_all(known).next()
    }

    /// The values of every field of this kind, in order.
    pub fn get_all(&self, known: Known) -> impl Iterator<Item = &[u8]> {
        let wanted = self.contains(known);
        self.list
            .iter()
            .filter(move |f| wanted && f.known == known)
            .map(|f| &self.buf[f.value.range()])
    }

    /// The values of every field named `name` (any case), in order.
    pub fn get_named<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let known = Known::of(name);
        self.list
            .iter()
            .filter(move |f| {
                if known != Known::Other {
                    return f.known == known;
                }
                f.known == Known::Other && self.buf[f.name.range()].eq_ignore_ascii_case(name)
            })
            .map(|f| &self.buf[f.value.range()])
    }

    /// The value of the last field named `name` (any case).
    pub fn last_named(&self, name: &[u8]) -> Option<&[u8]> {
        let known = Known::of(name);
        self.list
            .iter()
            .rev()
            .find(|f| {
                if known != Known::Other {
                    return f.known == known;
                }
                f.known == Known::Other && self.buf[f.name.range()].eq_ignore_ascii_case(name)
            })
            .map(|f| &self.buf[f.value.range()])
    }

    /// Every field, in order: its name as sent, its value, its tag.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], Known)> {
        self.list.iter().map(|f| {
            (
                &self.buf[f.name.range()],
                &self.buf[f.value.range()],
                f.known,
            )
        })
    }

    /// The bytes a span of this head's covers.
    pub fn slice(&self, span: Span) -> &[u8] {
        &self.buf[span.range()]
    }
}

/// A field value as text, when it is visible ASCII, spaces and tabs only (as
/// `HeaderValue::to_str` would have it); values with other bytes are `None`.
pub fn text(value: &[u8]) -> Option<&str> {
    if value
        .iter()
        .all(|&b| b == b'\t' || (b' '..0x7f).contains(&b))
    {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// Spare buffers kept per thread, and the largest kept.
const SPARES: usize = 32;
const SPARE_BYTES: usize = 16 * 1024;
const SPARE_FIELDS: usize = 128;

thread_local! {
    static SPARE_BYTES_POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    static SPARE_LISTS: RefCell<Vec<Vec<Field>>> = const { RefCell::new(Vec::new()) };
}

/// Indexes given up by threads that drop requests another thread parsed
/// ([`Fields::share_index`]), for that one to take back ([`restock`]). A worker serving on one
/// thread never uses it: what a request takes, its end gives back to the same thread.
static SHARED_LISTS: Mutex<Vec<Vec<Field>>> = Mutex::new(Vec::new());
const SHARED_LISTS_KEPT: usize = 64;

/// A used index emptied for reuse; `None` if it is not worth keeping (never grown, or grown large).
fn spare_list(mut list: Vec<Field>) -> Option<Vec<Field>> {
    if list.capacity() == 0 || list.capacity() > SPARE_FIELDS {
        return None;
    }
    list.clear();
    Some(list)
}

/// Takes this thread's spare indexes back from the worker's when it has none left, a batch
/// at a time (the runtime thread of a worker with `--threads`, before it hands a request over).
pub fn restock() {
    let _ = SPARE_LISTS.try_with(|own| {
        let mut own = own.borrow_mut();
        if !own.is_empty() {
            return;
        }
        if let Ok(mut shared) = SHARED_LISTS.lock() {
            let from = shared.len().saturating_sub(SPARES);
            own.extend(shared.drain(from..));
        }
    });
}

/// An empty buffer from the pool (a connection's reads, a request head's bytes): an idle
/// connection holds none, and a busy one takes a spare instead of allocating.
pub fn spare_buffer() -> BytesMut {
    SPARE_BYTES_POOL
        .with(|spare| spare.borrow_mut().pop())
        .unwrap_or_default()
}

/// Gives a buffer back to the pool (dropped if it grew large, or if the pool is full).
pub fn return_buffer(mut buf: BytesMut) {
    if buf.capacity() == 0 || buf.capacity() > SPARE_BYTES {
        return;
    }
    buf.clear();
    let _ = SPARE_BYTES_POOL.try_with(|spare| {
        let mut spare = spare.borrow_mut();
        if spare.len() < SPARES {
            spare.push(buf);
        }
    });
}

impl Drop for Fields {
    fn drop(&mut self) {
        return_buffer(std::mem::take(&mut self.buf));
        let Some(list) = spare_list(std::mem::take(&mut self.list)) else {
            return;
        };
        let _ = SPARE_LISTS.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARES {
                spare.push(list);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_given_up_on_another_thread_comes_back_to_the_parsing_one() {
        let mut fields = Fields::from_pairs([("host", b"example.com".as_slice())]);
        let index = fields.list.as_ptr();
        std::thread::spawn(move || {
            fields.share_index();
            drop(fields);
        })
        .join()
        .unwrap();
        // This thread has none of its own left: it takes the shared one back.
        SPARE_LISTS.with(|own| own.borrow_mut().clear());
        restock();
        assert_eq!(Fields::new().list.as_ptr(), index);
    }

    #[test]
    fn known_names_in_any_case() {
        assert_eq!(Known::of(b"Host"), Known::Host);
        assert_eq!(Known::of(b"CONTENT-LENGTH"), Known::ContentLength);
        assert_eq!(Known::of(b"x-forwarded-proto"), Known::XForwardedProto);
        assert_eq!(Known::of(b"hosts"), Known::Other);
    }

    #[test]
    fn lookups() {
        let mut fields = Fields::from_pairs([
            ("Host", &b"a"[..]),
            ("X-Custom", b"1"),
            ("x-custom", b"2"),
            ("Cookie", b"c=1"),
        ]);
        assert_eq!(fields.get(Known::Host), Some(&b"a"[..]));
        assert_eq!(fields.get(Known::Expect), None);
        assert!(!fields.is_repeated(Known::Host));
        let custom: Vec<_> = fields.get_named(b"X-CUSTOM").collect();
        assert_eq!(custom, [&b"1"[..], b"2"]);
        fields.set(Known::Host, "host", b"b");
        assert_eq!(fields.get(Known::Host), Some(&b"b"[..]));
        assert_eq!(fields.len(), 4);
        fields.set(Known::Expect, "expect", b"x");
        assert_eq!(fields.get(Known::Expect), Some(&b"x"[..]));
    }
}
