//! `wsgi.file_wrapper` (PEP 3333 "Optional Platform-Specific File Handling"). Called as
//! `wrapper(filelike, blksize=8192)` it returns an iterable reading `blksize` at a time whose
//! `close()` closes the file. When the app returns one over a regular file with a real
//! `fileno()`, the server sends the file itself, as gunicorn does: a duplicate of the descriptor
//! becomes a file body (`http::FileBody`, see `response`) — from the file's current
//! position, never past the app's Content-Length — whose large ranges the connection writer sends
//! with sendfile(2), so the bytes go from the page cache to the socket with no Python call and no
//! copy through the worker. Other file-likes are iterated in Python, `blksize` at a time.

use std::fs::File;
use std::io::Seek;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::ffi;

const DEFAULT_BLKSIZE: usize = 8192;

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

/// A regular file the server sends itself: a duplicate of the app's descriptor (read with
/// pread or sendfile at explicit offsets, so the app's file offset is left alone), where the app
/// stood in it, and how much is left from there to the end of the file.
pub struct NativeFile {
    pub file: File,
    pub offset: u64,
    pub len: u64,
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
        len: meta.len().saturating_sub(offset),
    })
}
