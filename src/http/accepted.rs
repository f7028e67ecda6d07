//! What runs a connection once the accept loop has it. [`Http1`] speaks HTTP/1.1 on it at once;
//! a layer above `http` may look at it first — finish a TLS handshake, pick HTTP/2 by ALPN or by
//! its connection preface — and then hand it to this module's driver or to another one. The
//! accept loop is generic over it, so a worker that needs no such layer runs the very same code
//! as before, and one that does pays one branch per connection.

use std::future::Future;
use std::rc::Rc;

use tokio::sync::watch;

use super::conn::{self, Shared};
use super::phase::Phase;
use super::service::{ConnInfo, Service};
use super::transport::Io;

/// Serves one accepted connection, to its end or until the worker's [`Phase`] has let it finish.
pub trait Connections<S>: Clone + 'static {
    /// `listener` is the index of the listener it came from, in the worker's list.
    fn serve(
        &self,
        listener: usize,
        io: Box<dyn Io>,
        info: ConnInfo,
        shared: Rc<Shared<S>>,
        phase: watch::Receiver<Phase>,
    ) -> impl Future<Output = ()> + 'static;
}

/// Plain HTTP/1.1 on every listener.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1;

impl<S: Service + 'static> Connections<S> for Http1 {
    #[inline]
    fn serve(
        &self,
        _listener: usize,
        io: Box<dyn Io>,
        info: ConnInfo,
        shared: Rc<Shared<S>>,
        phase: watch::Receiver<Phase>,
    ) -> impl Future<Output = ()> + 'static {
        conn::serve(io, info, shared, phase)
    }
}
