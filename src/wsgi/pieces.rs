//! The pieces of a WSGI body pulled (or given to `write()`) and not yet handed to the
//! connection, in order. Nearly always one or none: that one lives inline and only a second
//! allocates — a `VecDeque` alone would allocate on its first push, once per streamed response.

use std::collections::VecDeque;

use bytes::Bytes;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyBytesMethods};
use pyo3::Bound;

/// From this size on, a piece the app gives as Python bytes is kept as that object (alive
/// until the piece is written) rather than copied. Below it a copy is cheaper than the object's
/// later release, which, on a thread without the GIL, waits for the next thread to take it.
const SHARE_FROM: usize = 4096;

/// A body piece from the app's bytes object: small ones copied, large ones shared.
pub fn from_python(item: &Bound<'_, PyBytes>) -> Bytes {
    let data = item.as_bytes();
    if data.len() < SHARE_FROM {
        Bytes::copy_from_slice(data)
    } else {
        Bytes::from_owner(PyBackedBytes::from(item.clone()))
    }
}

/// A queue of body pieces; `first` is empty only when `rest` is. `rest` is made (and boxed,
/// keeping the body small to move) only for a second piece.
#[derive(Default)]
pub struct Pieces {
    first: Option<Bytes>,
    // One pointer, not a deque's four words: the body holding this is moved a few times.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<Bytes>>>,
}

impl Pieces {
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn push_back(&mut self, piece: Bytes) {
        if self.first.is_none() {
            self.first = Some(piece);
        } else {
            self.rest.get_or_insert_default().push_back(piece);
        }
    }

    pub fn push_front(&mut self, piece: Bytes) {
        if let Some(old) = self.first.replace(piece) {
            self.rest.get_or_insert_default().push_front(old);
        }
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        let first = self.first.take();
        self.first = self.rest.as_mut().and_then(|rest| rest.pop_front());
        first
    }

    /// The total length of the pieces, in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.iter().map(|p| p.len() as u64).sum()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.first
            .iter()
            .chain(self.rest.iter().flat_map(|rest| rest.iter()))
    }

    /// Takes every piece, in order.
    pub fn drain(&mut self) -> impl Iterator<Item = Bytes> + '_ {
        self.first
            .take()
            .into_iter()
            .chain(self.rest.iter_mut().flat_map(|rest| rest.drain(..)))
    }

    /// Takes every piece as one buffer (the usual single piece as it is, not copied).
    pub fn concat(&mut self) -> Bytes {
        if self.rest.as_ref().is_none_or(|rest| rest.is_empty()) {
            return self.first.take().unwrap_or_default();
        }
        let mut all = Vec::with_capacity(self.len_bytes() as usize);
        for piece in self.drain() {
            all.extend_from_slice(&piece);
        }
        all.into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::ffi::refcount;
    use super::*;

    #[test]
    fn large_python_bytes_are_shared_not_copied() {
        pyo3::Python::initialize();
        pyo3::Python::attach(|py| {
            for len in [0, 1, SHARE_FROM - 1, SHARE_FROM, 70_000] {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let item = PyBytes::new(py, &data);
                let piece = from_python(&item);
                assert_eq!(&piece[..], &data[..]);
                let shared = piece.as_ptr() == item.as_bytes().as_ptr();
                assert_eq!(shared, len >= SHARE_FROM, "{len} bytes");
                // A shared piece holds a reference of its own, given back when it is dropped.
                let held = refcount(item.as_any());
                drop(piece);
                let shares = isize::from(len >= SHARE_FROM);
                assert_eq!(refcount(item.as_any()), held - shares);
            }
        });
    }

    #[test]
    fn pieces_keep_their_order() {
        let mut q = Pieces::default();
        assert!(q.pop_front().is_none());
        q.push_back(Bytes::from_static(b"b"));
        q.push_back(Bytes::from_static(b"c"));
        q.push_front(Bytes::from_static(b"a"));
        assert_eq!(q.len_bytes(), 3);
        assert_eq!(q.pop_front().as_deref(), Some(&b"a"[..]));
        q.push_back(Bytes::from_static(b"d"));
        assert_eq!(&q.concat()[..], b"bcd");
        assert!(q.is_empty());
    }
}
