//! `wsgi.file_wrapper` (PEP 3333 "Optional Platform-Specific File Handling"). Called as
//! `wrapper(filelike, blksize=8192)` it returns an iterable reading `blksize` at a time whose
//! `close()` closes the file. When the app returns one over a regular file with a real
//! `fileno()`, the server reads the file itself in Rust — from the file's current position,
//! never past the app's Content-Length — with no Python call per block.

use std::fs::File;
use std::io::Seek;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::ffi;

const DEFAULT_BLKSIZE: usize = 8192;
/// Size of one read of a native file.
const NATIVE_BLOCK: u64 = 256 * 1024;

#[pyclass(module = "pyrite", name = "FileWrapper")]
pub struct FileWrapper {
    #[pyo3(get)]
    filelike: Py<PyAny>,
    #[pyo3(get)]
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = DEFAULT_BLKSIZE as isize))]
    fn new(filelike: Py<PyAny>, blksize: isize) -> PyResult<FileWrapper> {
        let blksize = usize::try_from(blksize)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| PyValueError::new_err("blksize must be a positive integer"))?;
        Ok(FileWrapper { filelike, blksize })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next `blksize` bytes from `filelike.read`; the end at an empty read.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1(pyo3::intern!(py, "read"), (self.blksize,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let filelike = self.filelike.bind(py);
        if filelike.hasattr(pyo3::intern!(py, "close"))? {
            filelike.call_method0(pyo3::intern!(py, "close"))?;
        }
        Ok(())
    }
}

/// A regular file the server reads itself: a duplicate of the app's descriptor, read with
/// `pread` so the app's file offset is left alone.
pub struct NativeFile {
    file: File,
    offset: u64,
    left: u64,
}

impl NativeFile {
    /// Bytes from the current position to the end of the file.
    pub fn len(&self) -> u64 {
        self.left
    }

    /// The next block, at most `limit` bytes; `None` at the end of the file.
    pub fn read_block(&mut self, limit: Option<u64>) -> std::io::Result<Option<Bytes>> {
        let want = self.left.min(NATIVE_BLOCK).min(limit.unwrap_or(u64::MAX));
        if want == 0 {
            return Ok(None);
        }
        let mut buf = BytesMut::zeroed(want as usize);
        let n = loop {
            match self.file.read_at(&mut buf, self.offset) {
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            // The file shrank after it was handed over.
            self.left = 0;
            return Ok(None);
        }
        buf.truncate(n);
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(Some(buf.freeze()))
    }
}

/// The native file behind `wrapper`, when its file-like has a working `fileno()` naming a
/// regular file; `None` means "iterate it in Python".
pub fn native(wrapper: &Bound<'_, FileWrapper>) -> Option<NativeFile> {
    let py = wrapper.py();
    let filelike = wrapper.borrow().filelike.clone_ref(py).into_bound(py);
    let fd: i32 = filelike
        .call_method0(pyo3::intern!(py, "fileno"))
        .ok()?
        .extract()
        .ok()?;
    let mut file = File::from(ffi::dup_fd(fd).ok()?);
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    // `tell()` knows about Python-side buffering; the descriptor's offset is the fallback.
    let offset = match filelike.call_method0(pyo3::intern!(py, "tell")) {
        Ok(pos) => pos.extract::<u64>().ok()?,
        Err(_) => file.stream_position().ok()?,
    };
    Some(NativeFile {
        file,
        offset,
        left: meta.len().saturating_sub(offset),
    })
}
