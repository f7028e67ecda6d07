//! Listening sockets, bound once by the master (SO_REUSEADDR, `--backlog`, `--reuse-port`) and
//! inherited by every worker across fork; and how a stopping server stops taking connections on
//! them without resetting the ones the kernel already accepted (`refuse_new`).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use socket2::{Domain, SockAddr, SockFilter, SockRef, Socket, Type};

/// How listening sockets are set up (`--backlog`, `--reuse-port`); `config` builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Pending-connection queue length (gunicorn's default, 2048).
    pub backlog: i32,
    /// SO_REUSEPORT, as gunicorn's `reuse_port`.
    pub reuse_port: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            backlog: 2048,
            reuse_port: false,
        }
    }
}

/// A listening address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// `fd://N`: a socket already bound and listening, inherited from the parent.
    Fd(i32),
}

impl std::fmt::Display for BindAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindAddr::Tcp(addr) => write!(f, "{addr}"),
            BindAddr::Unix(path) => write!(f, "unix:{}", path.display()),
            BindAddr::Fd(fd) => write!(f, "fd://{fd}"),
        }
    }
}

#[derive(Debug)]
pub enum Listener {
    /// `owned` is false for a socket inherited from outside (systemd's `LISTEN_FDS`, `fd://N`):
    /// its owner keeps it open after pyrite exits, so it is left as it was found.
    Tcp(TcpListener, bool),
    /// The path is `Some` when pyrite owns the socket file and removes it on exit (a socket
    /// without one came from outside).
    Unix(UnixListener, Option<PathBuf>),
}

impl Listener {
    /// Binds `addr`. A stale unix socket file (one nobody answers on) is replaced.
    pub fn bind(addr: &BindAddr, options: &Options) -> io::Result<Listener> {
        match addr {
            BindAddr::Tcp(sa) => {
                let socket = Socket::new(Domain::for_address(*sa), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                if options.reuse_port {
                    socket.set_reuse_port(true)?;
                }
                if sa.is_ipv6() {
                    socket.set_only_v6(true)?;
                }
                socket.bind(&(*sa).into())?;
                socket.listen(options.backlog)?;
                Ok(Listener::Tcp(socket.into(), true))
            }
            BindAddr::Unix(path) => {
                if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
                    std::fs::remove_file(path)?;
                }
                let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
                socket.bind(&SockAddr::unix(path)?)?;
                socket.listen(options.backlog)?;
                Ok(Listener::Unix(socket.into(), Some(path.clone())))
            }
            BindAddr::Fd(fd) => Listener::adopt(crate::sys::adopt_fd(*fd)?, false),
        }
    }

    /// Wraps an inherited listening socket (`fd://N`, systemd's `LISTEN_FDS`, or the sockets a
    /// re-executed master receives). `ours` says whether pyrite made it (the master this one
    /// upgrades from bound it): a unix socket's file is then ours to remove on exit, and a
    /// stop may refuse new connections on it.
    pub fn adopt(fd: std::os::fd::OwnedFd, ours: bool) -> io::Result<Listener> {
        let socket = Socket::from(fd);
        if socket.r#type()? != Type::STREAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a stream socket",
            ));
        }
        let local = socket.local_addr()?;
        if local.is_unix() {
            let path = local.as_pathname().map(|p| p.to_path_buf());
            Ok(Listener::Unix(socket.into(), path.filter(|_| ours)))
        } else {
            Ok(Listener::Tcp(socket.into(), ours))
        }
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Listener::Tcp(l, _) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        }
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<BindAddr> {
        match self {
            Listener::Tcp(l, _) => l.local_addr().map(BindAddr::Tcp),
            Listener::Unix(l, _) => {
                let addr = l.local_addr()?;
                let path = addr
                    .as_pathname()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default();
                Ok(BindAddr::Unix(path))
            }
        }
    }

    /// Whether pyrite made this socket (see [`Listener::adopt`]); one inherited from outside
    /// outlives pyrite and is left as it was found.
    pub fn owned(&self) -> bool {
        match self {
            Listener::Tcp(_, owned) => *owned,
            Listener::Unix(_, path) => path.is_some(),
        }
    }

    /// Removes a unix socket's file; called by the master on its way out.
    pub fn cleanup(&self) {
        if let Listener::Unix(_, Some(path)) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The server stops for good: from now on the kernel drops new connection requests (TCP SYNs)
/// on this listening socket, in every process that holds it, while connections it already
/// accepted stay queued for `accept` — and so do handshakes already under way, whose last ACK
/// still gets through. Once the last copy of the socket is closed, a client's retried SYN is
/// refused: a new connection attempt is refused (safe to retry elsewhere), never accepted and
/// then reset. Closing a listening socket resets whatever is still queued on it, and
/// `shutdown(SHUT_RD)` does the same at once, which is why neither is the way to stop.
///
/// A classic BPF socket filter sees a TCP segment from its header: byte 13 holds the flags.
/// Not for a unix socket (nothing to filter: the master removes its file instead) nor for one
/// inherited from outside, which outlives us and must keep taking connections.
pub fn refuse_new(socket: &impl AsFd) -> io::Result<()> {
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    const SYN: u32 = 0x02;
    let program = [
        SockFilter::new(LD_B_ABS, 0, 0, 13),
        // SYN set: the next instruction (drop); otherwise skip it (keep).
        SockFilter::new(JSET_K, 0, 1, SYN),
        SockFilter::new(RET_K, 0, 0, 0),
        SockFilter::new(RET_K, 0, 0, u32::MAX),
    ];
    SockRef::from(socket).attach_filter(&program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    /// What was queued is still served; what comes after is never accepted.
    #[test]
    fn refusing_keeps_the_queue_and_drops_new_requests() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = TcpStream::connect(addr).unwrap();
        queued.write_all(b"queued").unwrap();
        refuse_new(&listener).unwrap();
        let late = TcpStream::connect_timeout(&addr, Duration::from_millis(300));
        assert!(late.is_err(), "a connection was accepted after refuse_new");
        let (mut served, _) = listener.accept().unwrap();
        let mut got = [0u8; 6];
        served.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"queued");
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "nothing else was queued");
    }
}
