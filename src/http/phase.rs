//! Where a worker is in its life, as the connection driver sees it. The worker moves it forward
//! (serving → draining → closing, never back) through a `watch` channel that the accept loops,
//! every connection and the health probe read. Draining lets a balancer notice (the probe
//! answers 503) while nothing is refused yet; closing stops taking connections without
//! resetting any the kernel already accepted.

/// One step of a worker's stop; the order of the variants is the order of the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepting and serving; connections persist (keep-alive).
    Serving,
    /// The server is about to stop (`--drain-timeout`): still accepting and serving, but every
    /// response closes its connection — so a keep-alive peer closes its side itself, never
    /// racing us — and the health probe answers 503.
    Draining,
    /// Accepting no more; what is in flight finishes, each response closing its connection,
    /// and an idle connection ends at its keep-alive timeout (a request may be on its way).
    /// `refuse`: the whole server stops, so no process will take the connections still queued
    /// on the shared listening socket: new ones are refused and the queued ones accepted
    /// before this worker lets go of the socket. Without it (a reload, one worker less, a
    /// recycled worker) the other workers keep accepting and this one just lets go.
    Closing { refuse: bool },
}

impl Phase {
    /// Whether a connection may carry another request after the current one.
    pub fn persists(self) -> bool {
        self == Phase::Serving
    }

    /// Whether the health probe says this worker serves (200) rather than stops (503).
    pub fn healthy(self) -> bool {
        self == Phase::Serving
    }
}
