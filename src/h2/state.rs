//! What a connection's streams tell it: how many are open (the connection idles out only
//! when none is), and how many the client has reset lately (its rapid-reset budget).

use std::cell::Cell;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::settings::RESET_WINDOW;

/// What a connection's streams tell it.
pub struct ConnState {
    open: Cell<usize>,
    /// Wakes the connection when its last stream ends, or when the reset budget is spent.
    changed: Notify,
    resets: Cell<u32>,
    window_start: Cell<Instant>,
    max_resets: u32,
    calm: Cell<bool>,
}

/// Counts a stream as open while it lives.
pub struct OpenStream<'a>(&'a ConnState);

impl Drop for OpenStream<'_> {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get() - 1);
        if self.0.open.get() == 0 {
            self.0.changed.notify_one();
        }
    }
}

impl ConnState {
    pub fn open_stream(&self) -> OpenStream<'_> {
        self.open.set(self.open.get() + 1);
        OpenStream(self)
    }

    /// The client reset a stream it had opened.
    pub fn client_reset(&self) {
        let now = Instant::now();
        if now.duration_since(self.window_start.get()) > RESET_WINDOW {
            self.window_start.set(now);
            self.resets.set(0);
        }
        self.resets.set(self.resets.get().saturating_add(1));
        if self.resets.get() > self.max_resets && !self.calm.get() {
            self.calm.set(true);
            self.changed.notify_one();
        }
    }
}

impl ConnState {
    pub fn new(max_resets: u32) -> ConnState {
        ConnState {
            open: Cell::new(0),
            changed: Notify::new(),
            resets: Cell::new(0),
            window_start: Cell::new(Instant::now()),
            max_resets,
            calm: Cell::new(false),
        }
    }

    /// Streams running now.
    pub fn open(&self) -> usize {
        self.open.get()
    }

    /// Whether the client has spent its reset budget.
    pub fn calm(&self) -> bool {
        self.calm.get()
    }

    /// Resolves when the last stream ends or the budget is spent.
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }
}
