//! A file body, one of the body kinds the connection writer knows: what a large static file, a
//! `multipart/byteranges` response or the file a WSGI app hands to `wsgi.file_wrapper` is made
//! of (built above, by static files and the WSGI bridge). A queue of segments — bytes already in memory (multipart headers, cached
//! content, an app's `write()` output) and byte ranges of an open file — so memory stays flat
//! whatever the file's size. A writer on a plain socket takes the large file ranges whole
//! (`next_file_range`) and sends them with sendfile(2), the kernel moving the bytes from the page
//! cache to the socket; everything else, and everything on a stream that cannot do that, is
//! yielded by `next_chunk` one bounded block at a time (ranges read with pread in 256 KiB blocks),
//! each pulled only once the socket has taken the previous ones.

use std::collections::VecDeque;
use std::fs::File;

use bytes::Bytes;

use crate::sys;

/// How much of a file is read per block.
const BLOCK: usize = 256 * 1024;

enum Segment {
    Bytes(Bytes),
    /// `len` bytes of the file from `offset`.
    File {
        offset: u64,
        len: u64,
    },
}

/// A response body made of in-memory pieces and ranges of one file.
pub struct FileBody {
    file: Option<File>,
    segments: VecDeque<Segment>,
    remaining: u64,
}

impl FileBody {
    pub fn new(file: Option<File>) -> FileBody {
        FileBody {
            file,
            segments: VecDeque::new(),
            remaining: 0,
        }
    }

    pub fn push_bytes(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.remaining += bytes.len() as u64;
            self.segments.push_back(Segment::Bytes(bytes));
        }
    }

    pub fn push_file(&mut self, offset: u64, len: u64) {
        if len > 0 {
            self.remaining += len;
            self.segments.push_back(Segment::File { offset, len });
        }
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// The next piece when it is a range of the file longer than `min` bytes: the file, where
    /// the range starts, and its length. A writer that sends it itself (sendfile) reports what
    /// went out with `sent_from_file`; anything else comes from `next_chunk`.
    pub fn next_file_range(&self, min: u64) -> Option<(&File, u64, u64)> {
        match (self.segments.front()?, &self.file) {
            (Segment::File { offset, len }, Some(file)) if *len > min => {
                Some((file, *offset, *len))
            }
            _ => None,
        }
    }

    /// Takes `n` bytes, sent by the writer itself, off the front range of the file.
    pub fn sent_from_file(&mut self, n: u64) {
        if let Some(Segment::File { offset, len }) = self.segments.front_mut() {
            let n = n.min(*len);
            *offset += n;
            *len -= n;
            self.remaining -= n;
            if *len == 0 {
                self.segments.pop_front();
            }
        }
    }

    /// The next block; an error (or the file shrinking under us) aborts the connection, since
    /// Content-Length was already promised.
    pub fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        let segment = self.segments.front_mut()?;
        let chunk = match segment {
            Segment::Bytes(bytes) => {
                let bytes = std::mem::take(bytes);
                self.segments.pop_front();
                bytes
            }
            Segment::File { offset, len } => {
                let Some(file) = &self.file else {
                    return Some(Err(std::io::Error::other("no file to read from")));
                };
                let want = BLOCK.min(usize::try_from(*len).unwrap_or(BLOCK));
                let mut buf = pool::take();
                let read = sys::read_at(file, &mut buf, want, *offset);
                let chunk = buf.split().freeze();
                pool::give_back(buf);
                match read {
                    Ok(0) => {
                        return Some(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "file shrank while being sent",
                        )))
                    }
                    Ok(n) => {
                        *offset += n as u64;
                        *len -= n as u64;
                        if *len == 0 {
                            self.segments.pop_front();
                        }
                        chunk
                    }
                    Err(err) => return Some(Err(err)),
                }
            }
        };
        self.remaining -= chunk.len() as u64;
        Some(Ok(chunk))
    }
}

/// Block buffers reused across reads and connections. A block handed to the writer stays shared
/// until the socket has taken it; `try_reclaim` then gives its whole allocation back. Fresh
/// 128 KiB allocations on every read would cost page faults and kernel zeroing per block.
mod pool {
    use std::cell::RefCell;

    use bytes::BytesMut;

    use super::BLOCK;

    /// Enough for the blocks in flight on a dozen busy connections (8 MiB at most kept).
    const KEEP: usize = 32;

    thread_local! {
        static FREE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer with room for a block.
    pub fn take() -> BytesMut {
        FREE.with(|free| {
            let mut free = free.borrow_mut();
            match free.iter_mut().position(|b| b.try_reclaim(BLOCK)) {
                Some(i) => free.swap_remove(i),
                None => BytesMut::with_capacity(BLOCK),
            }
        })
    }

    /// Keeps `buf` (emptied, possibly still shared with a block in flight) for later.
    pub fn give_back(buf: BytesMut) {
        FREE.with(|free| {
            let mut free = free.borrow_mut();
            if free.len() < KEEP {
                free.push(buf);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn yields_segments_in_order() {
        let mut tmp = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        tmp.write_all(&content).unwrap();
        let mut stream = FileBody::new(Some(tmp));
        stream.push_bytes(Bytes::from_static(b"head"));
        stream.push_file(10, 200_000);
        stream.push_bytes(Bytes::from_static(b"tail"));
        assert_eq!(stream.remaining(), 200_008);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next_chunk() {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= BLOCK);
            out.extend_from_slice(&chunk);
        }
        assert!(stream.is_done());
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..200_004], &content[10..200_010]);
        assert_eq!(&out[200_004..], b"tail");
    }

    #[test]
    fn large_ranges_are_handed_out_whole_and_small_ones_read() {
        let mut tmp = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        tmp.write_all(&content).unwrap();
        let mut stream = FileBody::new(Some(tmp));
        stream.push_bytes(Bytes::from_static(b"head"));
        stream.push_file(7, 50_000);
        stream.push_file(60_000, 100);
        assert!(stream.next_file_range(1000).is_none(), "bytes come first");
        assert_eq!(&stream.next_chunk().unwrap().unwrap()[..], b"head");
        let (_, offset, len) = stream.next_file_range(1000).unwrap();
        assert_eq!((offset, len), (7, 50_000));
        stream.sent_from_file(20_000);
        let (_, offset, len) = stream.next_file_range(1000).unwrap();
        assert_eq!((offset, len), (20_007, 30_000));
        assert_eq!(stream.remaining(), 30_100);
        stream.sent_from_file(30_000);
        assert!(stream.next_file_range(1000).is_none(), "100 bytes are read");
        assert_eq!(
            stream.next_chunk().unwrap().unwrap(),
            &content[60_000..60_100]
        );
        assert!(stream.is_done());
        assert!(stream.next_chunk().is_none());
    }

    #[test]
    fn a_shrunk_file_is_an_error() {
        let tmp = tempfile::tempfile().unwrap();
        let mut stream = FileBody::new(Some(tmp));
        stream.push_file(0, 10);
        assert!(stream.next_chunk().unwrap().is_err());
    }
}
