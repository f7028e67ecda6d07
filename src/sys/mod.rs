//! The unsafe OS calls, each wrapped once with a `// SAFETY:` comment (enforced by clippy's
//! `undocumented_unsafe_blocks`); everything else in the crate is safe code, but for the few raw
//! CPython calls of `wsgi::ffi`. `process` forks, reaps and signals processes, `signals` turns
//! the master's signals into bytes on a pipe, `pipe` carries boot announcements, `shm` is the
//! liveness memory shared with the workers, `identity` users, groups and process titles,
//! `io` the system calls of a file or streamed response (pread, sendfile, MSG_MORE and pushing
//! what it held), `openat` opening a name beneath a directory (static files), `inotify` the
//! static cache's change notification, `limits` how many tasks the machine allows, `memory`
//! giving freed memory back, `clock` the local calendar time, and `uring` writing several
//! sockets from one system call.

mod clock;
mod identity;
mod inotify;
mod io;
mod limits;
mod memory;
mod openat;
mod pipe;
mod process;
mod shm;
mod signals;
mod uring;

pub use clock::*;
pub use identity::*;
pub use inotify::*;
pub use io::*;
pub use limits::*;
pub use memory::*;
pub use openat::*;
pub use pipe::*;
pub use process::*;
pub use shm::*;
pub use signals::*;
pub use uring::*;
