//! inotify(7) for the static file cache: an instance that is read without blocking, watches
//! added by name, and the type of the filesystem a name lives on (statfs), since only a local
//! filesystem reports every change to its watchers.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::openat::c_name;

/// A new inotify instance, non-blocking and close-on-exec.
pub fn inotify() -> io::Result<OwnedFd> {
    // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of inotify_init1 is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Watches `path` for the events of `mask`; returns the watch descriptor (the same one again
/// for an inode already watched, whose mask `mask` then replaces).
pub fn inotify_add_watch(fd: BorrowedFd<'_>, path: &OsStr, mask: u32) -> io::Result<i32> {
    let path = c_name(path)?;
    // SAFETY: `path` is NUL-terminated and outlives the call; the kernel only reads it.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

/// Reads queued events into `buf`; `Ok(0)` when none are queued (EAGAIN).
pub fn inotify_read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::EAGAIN) => Ok(0),
            _ => Err(err),
        };
    }
    Ok(n as usize)
}

/// One event of a buffer filled by [`inotify_read`]: (watch descriptor, mask, name — empty
/// for an event on the watched inode itself), and the offset of the next event.
pub fn inotify_event(buf: &[u8], at: usize) -> Option<(i32, u32, &[u8], usize)> {
    const HEAD: usize = std::mem::size_of::<libc::inotify_event>();
    let head = buf.get(at..at + HEAD)?;
    let wd = i32::from_ne_bytes(head[0..4].try_into().ok()?);
    let mask = u32::from_ne_bytes(head[4..8].try_into().ok()?);
    let len = u32::from_ne_bytes(head[12..16].try_into().ok()?) as usize;
    let name = buf.get(at + HEAD..at + HEAD + len)?;
    // The name is NUL-padded to an alignment.
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some((wd, mask, &name[..end], at + HEAD + len))
}

/// The `f_type` magic number of the filesystem `path` is on (statfs(2)).
pub fn filesystem_type(path: &OsStr) -> io::Result<i64> {
    let path = c_name(path)?;
    let mut out = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `path` is NUL-terminated; `out` is valid for writes of one statfs, which the
    // kernel fills on success.
    let rc = unsafe { libc::statfs(path.as_ptr(), out.as_mut_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statfs returned 0, so `out` is initialised.
    let kind = unsafe { out.assume_init() }.f_type;
    // `f_type` is an i64 here, a narrower integer on some other targets.
    #[allow(clippy::useless_conversion)]
    Ok(i64::from(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_change_is_read_back_as_an_event() {
        let dir = tempfile::tempdir().unwrap();
        let fd = inotify().unwrap();
        let mut buf = [0u8; 4096];
        let wd = inotify_add_watch(
            fd.as_fd(),
            dir.path().as_os_str(),
            libc::IN_CREATE | libc::IN_ONLYDIR,
        )
        .unwrap();
        assert_eq!(inotify_read(fd.as_fd(), &mut buf).unwrap(), 0);
        std::fs::write(dir.path().join("new.txt"), "x").unwrap();
        let n = inotify_read(fd.as_fd(), &mut buf).unwrap();
        let (got, mask, name, next) = inotify_event(&buf[..n], 0).unwrap();
        assert_eq!((got, name), (wd, &b"new.txt"[..]));
        assert_ne!(mask & libc::IN_CREATE, 0);
        assert!(inotify_event(&buf[..n], next).is_none());
        assert!(filesystem_type(dir.path().as_os_str()).is_ok());
    }
}
