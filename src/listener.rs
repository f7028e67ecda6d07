//! Listening sockets, bound once by the master (SO_REUSEADDR, backlog 2048) and inherited by
//! every worker across fork.

use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::BindAddr;

/// Pending-connection queue length, as gunicorn's default.
const BACKLOG: i32 = 2048;

#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `addr`. A stale unix socket file (one nobody answers on) is replaced.
    pub fn bind(addr: &BindAddr) -> io::Result<Listener> {
        match addr {
            BindAddr::Tcp(sa) => {
                let socket = Socket::new(Domain::for_address(*sa), Type::STREAM, None)?;
                socket.set_reuse_address(true)?;
                if sa.is_ipv6() {
                    socket.set_only_v6(true)?;
                }
                socket.bind(&(*sa).into())?;
                socket.listen(BACKLOG)?;
                Ok(Listener::Tcp(socket.into()))
            }
            BindAddr::Unix(path) => {
                if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
                    std::fs::remove_file(path)?;
                }
                let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
                socket.bind(&SockAddr::unix(path)?)?;
                socket.listen(BACKLOG)?;
                Ok(Listener::Unix(socket.into(), path.clone()))
            }
        }
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<BindAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(BindAddr::Tcp),
            Listener::Unix(_, path) => Ok(BindAddr::Unix(path.clone())),
        }
    }

    /// Removes a unix socket's file; called by the master on its way out.
    pub fn cleanup(&self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
