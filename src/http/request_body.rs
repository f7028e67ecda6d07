//! Reads a request body completely before the app runs (DESIGN.md "inline executor"): in
//! memory up to a threshold, spooled to an unlinked temporary file past it, refused past
//! `--limit-request-body`. hyper has already de-chunked it and sends `100 Continue` when the
//! first frame is polled.

use std::io::{Seek, Write};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::wsgi::RequestBody;

/// Bodies larger than this go to a temporary file instead of memory.
pub const MEMORY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyReadError {
    #[error("request body larger than the limit")]
    TooLarge,
    #[error("reading the request body failed: {0}")]
    Read(#[from] hyper::Error),
    #[error("spooling the request body failed: {0}")]
    Spool(#[from] std::io::Error),
}

/// After refusing a body, at most this much more of it is read and thrown away, so the 413
/// reaches a client still sending (closing with unread data makes the kernel reset the
/// connection, and the client may never see the response; RFC 9112 §9.6).
const DRAIN_LIMIT: u64 = 4 * 1024 * 1024;

async fn drain(incoming: &mut Incoming) {
    let mut drained = 0u64;
    while drained < DRAIN_LIMIT {
        match incoming.frame().await {
            Some(Ok(frame)) => drained += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

pub async fn read(
    mut incoming: Incoming,
    limit: Option<u64>,
) -> Result<RequestBody, BodyReadError> {
    use http_body::Body as _;
    if incoming.is_end_stream() {
        return Ok(RequestBody::Memory(Bytes::new()));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total: u64 = 0;
    let mut spool: Option<std::fs::File> = None;
    while let Some(frame) = incoming.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if limit.is_some_and(|l| total > l) {
            drain(&mut incoming).await;
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
