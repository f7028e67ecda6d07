//! Why the master cannot run (exit code 1): binding, inherited sockets, its own set-up, a fork,
//! the pid file, a start-up hook that raised.

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("inherited sockets (LISTEN_FDS): {0}")]
    Inherit(std::io::Error),
    #[error("cannot set up the master: {0}")]
    Setup(std::io::Error),
    #[error("cannot fork a worker: {0}")]
    Fork(std::io::Error),
    #[error("{0}: start-up stopped (as gunicorn does)")]
    Hook(String),
    #[error("cannot write the pid file {path}: {source}")]
    PidFile {
        path: String,
        source: std::io::Error,
    },
}
