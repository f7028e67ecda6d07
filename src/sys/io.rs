//! The system calls on the hot path of a file response — pread into a buffer that need not be
//! zeroed, sendfile(2) from the page cache to a socket, send with MSG_MORE and pushing what it
//! held — and pointing stdout or stderr at a log file.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `path` opened for appending (created with mode 0644), close-on-exec.
pub fn open_append(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(path)
}

/// Points `target` (1 for stdout, 2 for stderr) at `path`, opened for appending; reopening the
/// same path later picks up a rotated file.
pub fn redirect_to_file(target: RawFd, path: &std::path::Path) -> io::Result<()> {
    let file = open_append(path)?;
    // SAFETY: both descriptors are open; dup2 atomically replaces `target`.
    if unsafe { libc::dup2(file.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads up to `len` bytes of `file` at `offset` (pread(2)) into the spare capacity of `buf`,
/// which grows to hold them; returns how many were read. Unlike `FileExt::read_at`, the
/// buffer need not be zeroed first, which matters when streaming large files.
pub fn read_at(
    file: &std::fs::File,
    buf: &mut bytes::BytesMut,
    len: usize,
    offset: u64,
) -> io::Result<usize> {
    buf.reserve(len);
    let spare = buf.spare_capacity_mut();
    let len = len.min(spare.len());
    let offset =
        libc::off_t::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `spare` is valid for writes of `len` bytes (len ≤ spare.len()), and pread writes
    // at most `len` bytes into it.
    let n = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), len, offset) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: pread initialised the first `n` bytes of the spare capacity (n ≤ len).
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// The most Linux moves in one sendfile(2) call.
const SENDFILE_MAX: usize = 0x7fff_f000;

/// Sends up to `len` bytes of `file` from `offset` to the socket `out` (sendfile(2)) without
/// copying them through user space; `offset` advances by what was sent. The file's own position
/// is never used nor moved. 0 means the file ends at `offset`. On a non-blocking socket that
/// cannot take more, fails with `WouldBlock`.
pub fn sendfile(
    out: std::os::fd::BorrowedFd<'_>,
    file: &std::fs::File,
    offset: &mut u64,
    len: usize,
) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are open for the whole call (one is borrowed, the other owned by
    // a live `File`); `off` is a valid off_t the kernel reads and updates; sendfile writes no
    // other memory of ours.
    let n = unsafe {
        libc::sendfile(
            out.as_raw_fd(),
            file.as_raw_fd(),
            &mut off,
            len.min(SENDFILE_MAX),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset += n as u64;
    Ok(n as usize)
}

/// Writes what the socket `out` takes of `data` with MSG_MORE: TCP holds a partial packet back
/// for the bytes sent right after (a response head then shares its packet with the first bytes
/// of the file that follows). Never raises SIGPIPE.
pub fn send_more(out: std::os::fd::BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    send_with(out.as_raw_fd(), data, libc::MSG_MORE)
}

/// Writes what the socket `fd` takes of `data` now, without waiting (MSG_DONTWAIT) and without
/// SIGPIPE. Takes a raw descriptor: the caller guarantees it stays open for the call.
pub fn send_now(fd: std::os::fd::RawFd, data: &[u8]) -> io::Result<usize> {
    send_with(fd, data, libc::MSG_DONTWAIT)
}

/// send(2) of `data` on `fd` with `flags` and MSG_NOSIGNAL: the bytes it took.
fn send_with(fd: std::os::fd::RawFd, data: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `data` is valid for reads of `data.len()` bytes; send reads nothing else of ours,
    // whatever `fd` refers to.
    let n = unsafe {
        libc::send(
            fd,
            data.as_ptr().cast(),
            data.len(),
            flags | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Makes TCP transmit now what earlier MSG_MORE writes left queued on the socket `fd`
/// (setting TCP_NODELAY, even when already set, pushes the pending frames). Takes a raw
/// descriptor: the caller guarantees it stays open for the call. Fails harmlessly (ENOTSOCK,
/// EBADF, EOPNOTSUPP) on anything that is not a TCP socket.
pub fn push_pending(fd: std::os::fd::RawFd) -> io::Result<()> {
    set_nodelay(fd)
}

/// Sets TCP_NODELAY on the TCP socket `fd`. On a listening socket, every connection accepted
/// from it afterwards starts with it set (Linux copies the listener's TCP options into the
/// connections it accepts), with no call per connection.
pub fn set_nodelay(fd: std::os::fd::RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `on`, a live local; it touches
    // no other memory of ours, whatever `fd` refers to.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    #[test]
    fn a_connection_accepted_from_a_nodelay_listener_has_nodelay() {
        use std::os::fd::AsRawFd;
        let nodelay = |fd: std::os::fd::RawFd| {
            let mut on: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt writes at most `len` bytes into `on`, a live local.
            let rc = unsafe {
                libc::getsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&mut on as *mut libc::c_int).cast(),
                    &mut len,
                )
            };
            assert_eq!(rc, 0);
            on != 0
        };
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(plain.local_addr().unwrap()).unwrap();
        let (accepted, _) = plain.accept().unwrap();
        assert!(!nodelay(accepted.as_raw_fd()), "off unless asked");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_nodelay(listener.as_raw_fd()).unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(nodelay(accepted.as_raw_fd()));
    }

    #[test]
    fn sendfile_sends_a_range_and_leaves_the_file_position_alone() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789abcdef").unwrap();
        file.rewind().unwrap();
        let (out, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut offset = 3;
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 10);
        assert_eq!(offset, 13);
        let mut got = [0u8; 10];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"3456789abc");
        // Past the end: what is left, then 0.
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 3);
        assert_eq!(sendfile(out.as_fd(), &file, &mut offset, 10).unwrap(), 0);
        assert_eq!(offset, 16);
        assert_eq!(file.stream_position().unwrap(), 0);
    }
}
