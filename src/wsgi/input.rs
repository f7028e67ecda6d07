//! `wsgi.input`: a file-like object over a request body that was read completely before the
//! app was called, so no method ever blocks on the socket (PEP 3333 "Input and Error Streams").

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::http::RequestBody;

enum Source {
    Memory { data: Bytes, pos: usize },
    File(BufReader<File>),
}

#[pyclass(module = "pyrite")]
pub struct Input {
    source: Source,
}

impl Input {
    pub fn new(body: RequestBody) -> Input {
        let source = match body {
            RequestBody::Memory(data) => Source::Memory { data, pos: 0 },
            RequestBody::File { file, .. } => {
                Source::File(BufReader::with_capacity(64 * 1024, file))
            }
        };
        Input { source }
    }

    /// Up to `limit` bytes (all that remain when `None`). From memory, a slice of the body, not
    /// a copy: the Python bytes made from it are the only copy.
    fn read_bytes(&mut self, limit: Option<usize>) -> std::io::Result<Bytes> {
        match &mut self.source {
            Source::Memory { data, pos } => {
                let start = *pos;
                let left = data.len() - start;
                *pos += limit.map_or(left, |l| l.min(left));
                Ok(data.slice(start..*pos))
            }
            Source::File(reader) => {
                let mut out = Vec::new();
                match limit {
                    Some(l) => reader.take(l as u64).read_to_end(&mut out)?,
                    None => reader.read_to_end(&mut out)?,
                };
                Ok(out.into())
            }
        }
    }

    /// One line including its `\n`, at most `limit` bytes.
    fn read_line(&mut self, limit: Option<usize>) -> std::io::Result<Bytes> {
        match &mut self.source {
            Source::Memory { data, pos } => {
                let start = *pos;
                let rest = &data[start..];
                let cap = limit.map_or(rest.len(), |l| l.min(rest.len()));
                *pos += memchr(b'\n', &rest[..cap]).map_or(cap, |i| i + 1);
                Ok(data.slice(start..*pos))
            }
            Source::File(reader) => {
                let mut out = Vec::new();
                match limit {
                    Some(l) => reader.take(l as u64).read_until(b'\n', &mut out)?,
                    None => reader.read_until(b'\n', &mut out)?,
                };
                Ok(out.into())
            }
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Negative or missing sizes mean "no limit", as in `io.RawIOBase`.
fn size_limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|s| usize::try_from(s).ok())
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let data = self.read_bytes(size_limit(size))?;
        Ok(PyBytes::new(py, &data))
    }

    #[pyo3(signature = (size = None))]
    fn readline<'py>(
        &mut self,
        py: Python<'py>,
        size: Option<isize>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.read_line(size_limit(size))?;
        Ok(PyBytes::new(py, &line))
    }

    /// Lines until the end, or until their total size reaches `hint` (`io.IOBase.readlines`).
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &mut self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let hint = size_limit(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.read_line(None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.read_line(None)?;
        Ok((!line.is_empty()).then(|| PyBytes::new(py, &line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};

    fn bodies(data: &[u8]) -> Vec<Input> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(data).unwrap();
        file.rewind().unwrap();
        vec![
            Input::new(RequestBody::Memory(Bytes::copy_from_slice(data))),
            Input::new(RequestBody::File {
                file,
                len: data.len() as u64,
            }),
        ]
    }

    #[test]
    fn lines_and_reads_agree_for_memory_and_file() {
        for mut input in bodies(b"one\ntwo\nthree") {
            assert_eq!(&*input.read_line(Some(2)).unwrap(), b"on");
            assert_eq!(&*input.read_line(None).unwrap(), b"e\n");
            assert_eq!(&*input.read_bytes(Some(3)).unwrap(), b"two");
            assert_eq!(&*input.read_line(None).unwrap(), b"\n");
            assert_eq!(&*input.read_bytes(None).unwrap(), b"three");
            assert_eq!(&*input.read_bytes(None).unwrap(), b"");
            assert_eq!(&*input.read_line(None).unwrap(), b"");
        }
    }

    #[test]
    fn negative_size_means_everything() {
        assert_eq!(size_limit(Some(-1)), None);
        assert_eq!(size_limit(None), None);
        assert_eq!(size_limit(Some(5)), Some(5));
    }
}
