//! Opening a name relative to a directory descriptor, so that what is checked is what is
//! opened: openat2(2) with `RESOLVE_BENEATH` (the kernel refuses any step out of the
//! directory), and the pieces of a walk one component at a time where the kernel lacks it
//! (openat with `O_NOFOLLOW`, readlinkat on the link itself). Files are opened `O_NONBLOCK`:
//! opening a FIFO then returns at once instead of waiting for a writer.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// How a file meant for reading is opened: never blocking, never becoming a controlling tty.
pub const OPEN_READ: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
/// A handle on a name that is not opened for I/O (a directory to walk from, a link to read).
pub const OPEN_PATH: libc::c_int = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// `struct open_how` of linux/openat2.h (libc's is not constructible).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `name` as a C string for a system call; a NUL inside is `InvalidInput`.
pub(super) fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// openat2(`dir`, `path`, `flags`) resolving beneath `dir`: `..` past it, absolute symlinks
/// and magic links (`/proc/self/fd/N`) fail (EXDEV, ELOOP). ENOSYS: the kernel has no openat2
/// (before 5.6), or a seccomp filter hides it.
pub fn openat2_beneath(
    dir: BorrowedFd<'_>,
    path: &OsStr,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let path = c_name(path)?;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `path` is a NUL-terminated string and `how` a valid open_how whose size is
    // passed; both outlive the call. The kernel writes no memory of ours.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of openat2 is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// openat(`dir`, `name`, `flags`) for one component.
pub fn openat(dir: BorrowedFd<'_>, name: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let name = c_name(name)?;
    // SAFETY: `name` is NUL-terminated and outlives the call; no mode is read without O_CREAT.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return of openat is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The target of the symlink `link` (opened with [`OPEN_PATH`]): readlinkat with an empty
/// name reads the link the descriptor itself stands for.
pub fn read_link(link: BorrowedFd<'_>) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the empty name is a static
    // NUL-terminated string.
    let n = unsafe {
        libc::readlinkat(
            link.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    if n >= buf.len() {
        // Possibly truncated: such a link cannot be followed safely.
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    buf.truncate(n);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn beneath_refuses_to_leave() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("secret"), "s").unwrap();
        std::fs::write(dir.path().join("root/in"), "i").unwrap();
        std::os::unix::fs::symlink("../secret", dir.path().join("root/out")).unwrap();
        let root = std::fs::File::open(dir.path().join("root")).unwrap();
        let open = |name: &str| openat2_beneath(root.as_fd(), OsStr::new(name), OPEN_READ);
        match open("in") {
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => return,
            other => assert!(other.is_ok(), "{other:?}"),
        }
        assert_eq!(open("out").unwrap_err().raw_os_error(), Some(libc::EXDEV));
        assert_eq!(
            open("../secret").unwrap_err().raw_os_error(),
            Some(libc::EXDEV)
        );
        let link = openat(root.as_fd(), OsStr::new("out"), OPEN_PATH).unwrap();
        assert_eq!(read_link(link.as_fd()).unwrap(), PathBuf::from("../secret"));
    }
}
