//! Listening sockets, bound once by the master (SO_REUSEADDR, `--backlog`, `--reuse-port`) and
//! inherited by every worker across fork.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use socket2::{Domain, SockAddr, Socket, Type};

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
    Tcp(TcpListener),
    /// The path is `Some` when pyrite owns the socket file and removes it on exit.
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
                Ok(Listener::Tcp(socket.into()))
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
    /// re-executed master receives). `owns_file` says whether a unix socket's file is ours to
    /// remove on exit.
    pub fn adopt(fd: std::os::fd::OwnedFd, owns_file: bool) -> io::Result<Listener> {
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
            Ok(Listener::Unix(socket.into(), path.filter(|_| owns_file)))
        } else {
            Ok(Listener::Tcp(socket.into()))
        }
    }

    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        }
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<BindAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(BindAddr::Tcp),
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

    /// Removes a unix socket's file; called by the master on its way out.
    pub fn cleanup(&self) {
        if let Listener::Unix(_, Some(path)) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
