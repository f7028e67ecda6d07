//! Reads a request body completely before the app runs (DESIGN.md "inline executor") into a
//! [`RequestBody`]: in memory up to a threshold, spooled to an unlinked temporary file past it,
//! refused past `--limit-request-body`. `Incoming` de-chunks it and sends `100 Continue` when
//! the first piece is wanted. The app's `wsgi.input` reads what this gathered.
//!
//! The bodies a worker is reading hold memory only within a budget (`--body-memory`): past it,
//! the body that would cross it goes to disk instead, so however many slow uploads arrive at
//! once, what they pin in memory is bounded. Once the bodies of a burst are gone, the freed
//! memory is given back to the kernel.

use std::cell::Cell;
use std::fs::File;
use std::io::{Seek, Write};

use bytes::{Bytes, BytesMut};

use super::incoming::{Incoming, ReadError};

/// A complete request body: in memory, or spooled to an unlinked temporary file.
#[derive(Debug)]
pub enum RequestBody {
    Memory(Bytes),
    File { file: File, len: u64 },
}

impl RequestBody {
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Memory(b) => b.len() as u64,
            RequestBody::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bodies larger than this go to a temporary file instead of memory.
pub const MEMORY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyReadError {
    #[error("request body larger than the limit")]
    TooLarge,
    #[error("reading the request body failed: {0}")]
    Read(#[from] ReadError),
    #[error("spooling the request body failed: {0}")]
    Spool(#[from] std::io::Error),
}

/// Bytes of request bodies this worker holds in memory while reading them, and the most it
/// held since memory was last given back.
#[derive(Default)]
struct Held {
    now: Cell<usize>,
    peak: Cell<usize>,
}

thread_local! {
    static HELD: Held = Held::default();
}

/// After a burst that held at least this much, freed memory is given back once all is read.
const TRIM_AFTER: usize = 8 * 1024 * 1024;

/// One body's share of [`HELD`], given back however its read ends (done, failed, dropped).
struct Share(usize);

impl Share {
    /// Takes `n` more bytes, if `budget` allows.
    fn take(&mut self, n: usize, budget: usize) -> bool {
        HELD.with(|held| {
            let total = held.now.get().saturating_add(n);
            if total > budget {
                return false;
            }
            held.now.set(total);
            held.peak.set(held.peak.get().max(total));
            self.0 += n;
            true
        })
    }

    fn release(&mut self) {
        let n = std::mem::take(&mut self.0);
        if n == 0 {
            return;
        }
        HELD.with(|held| {
            let left = held.now.get().saturating_sub(n);
            held.now.set(left);
            if left == 0 && held.peak.get() >= TRIM_AFTER {
                held.peak.set(0);
                tracing::debug!("request bodies read: giving freed memory back");
                crate::sys::trim_memory();
            }
        });
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.release();
    }
}

/// Reads the whole body: refused past `limit`; in memory while it is at most [`MEMORY_LIMIT`]
/// and this worker's bodies fit in `budget` bytes, else in a temporary file.
pub async fn read(
    mut incoming: Incoming,
    limit: Option<u64>,
    budget: usize,
) -> Result<RequestBody, BodyReadError> {
    if incoming.is_end_stream() {
        return Ok(RequestBody::Memory(Bytes::new()));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut share = Share(0);
    let mut total: u64 = 0;
    let mut spool: Option<std::fs::File> = None;
    while let Some(data) = incoming.data().await {
        let data = data?;
        total += data.len() as u64;
        if limit.is_some_and(|l| total > l) {
            // The connection closes after the 413, lingering so the client still sending sees
            // it (RFC 9112 §9.6).
            return Err(BodyReadError::TooLarge);
        }
        match &mut spool {
            Some(file) => file.write_all(&data)?,
            None if total as usize > MEMORY_LIMIT || !share.take(data.len(), budget) => {
                let mut file = tempfile::tempfile()?;
                for chunk in chunks.drain(..) {
                    file.write_all(&chunk)?;
                }
                file.write_all(&data)?;
                spool = Some(file);
                chunks = Vec::new();
                share.release();
            }
            None => chunks.push(data),
        }
    }
    if let Some(mut file) = spool {
        file.rewind()?;
        return Ok(RequestBody::File { file, len: total });
    }
    Ok(RequestBody::Memory(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(total as usize);
            chunks.iter().for_each(|c| all.extend_from_slice(c));
            all.freeze()
        }
    }))
}
