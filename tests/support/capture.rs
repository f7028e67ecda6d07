//! Output capture: one reader thread per pipe of the server under test appends what arrives,
//! a line at a time, to a shared buffer that a test can wait on. Waiting is on a condition
//! variable (no sleeps) and always bounded, so a log line that never comes fails the test
//! instead of hanging it.

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Text read so far from one pipe, and whether the pipe has closed.
#[derive(Default)]
pub struct Captured {
    state: Mutex<(String, bool)>,
    changed: Condvar,
}

impl Captured {
    /// Starts a thread that appends what `pipe` yields until it closes.
    pub fn pump(pipe: impl Read + Send + 'static) -> Arc<Captured> {
        Captured::pump_until(pipe, |_| false)
    }

    /// Like [`Captured::pump`], but once `enough` holds for the text read so far, the reading
    /// end is closed (as `| head -1` does): the writer's next writes fail with EPIPE. The pipe
    /// then counts as closed.
    pub fn pump_until(
        pipe: impl Read + Send + 'static,
        enough: impl Fn(&str) -> bool + Send + 'static,
    ) -> Arc<Captured> {
        let captured = Arc::new(Captured::default());
        let shared = captured.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let mut state = shared.state.lock().unwrap();
                state.0 += &String::from_utf8_lossy(&line);
                let done = enough(&state.0);
                drop(state);
                shared.changed.notify_all();
                line.clear();
                if done {
                    break;
                }
            }
            drop(reader);
            shared.state.lock().unwrap().1 = true;
            shared.changed.notify_all();
        });
        captured
    }

    /// Nothing read: the pipe's reading end was closed at once.
    pub fn hung_up() -> Arc<Captured> {
        let captured = Captured::default();
        captured.state.lock().unwrap().1 = true;
        Arc::new(captured)
    }

    pub fn text(&self) -> String {
        self.state.lock().unwrap().0.clone()
    }

    /// Waits until `needle` occurs `count` times; false on timeout or once the pipe closed
    /// without it.
    pub fn wait_for(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |text, _| text.matches(needle).count() >= count)
    }

    /// Waits until the pipe is closed (the process and every holder of the pipe are gone).
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |_, closed| closed)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn(&str, bool) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            if done(&state.0, state.1) {
                return true;
            }
            let now = Instant::now();
            if state.1 || now >= deadline {
                return false;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}
