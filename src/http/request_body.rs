//! Reads a request body completely before the app runs (DESIGN.md "inline executor") into a
//! [`RequestBody`]: in memory up to a threshold, spooled to an unlinked temporary file past it,
//! refused past `--limit-request-body`. `Incoming` de-chunks it and sends `100 Continue` when
//! the first piece is wanted. The app's `wsgi.input` reads what this gathered.

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

pub async fn read(
    mut incoming: Incoming,
    limit: Option<u64>,
) -> Result<RequestBody, BodyReadError> {
    if incoming.is_end_stream() {
        return Ok(RequestBody::Memory(Bytes::new()));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
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
            None if total as usize > MEMORY_LIMIT => {
                let mut file = tempfile::tempfile()?;
                for chunk in chunks.drain(..) {
                    file.write_all(&chunk)?;
                }
                file.write_all(&data)?;
                spool = Some(file);
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
