//! Memory shared by the master and every worker: one [`Slot`] per worker — its liveness, what
//! the master's next SIGTERM means, and its counters (what they count is `metrics`'s business)
//! — in an anonymous mapping made before the first fork (no files on disk).
#![allow(unsafe_code)]

use std::io;

/// One worker's liveness record in memory shared between the master and the workers.
#[repr(C)]
pub struct Slot {
    /// The worker's pid (0 when the slot is free).
    pub pid: std::sync::atomic::AtomicI32,
    /// When the worker's event loop last ran (monotonic ms; 0 before boot).
    pub beat: std::sync::atomic::AtomicU64,
    /// When the app call in progress started (monotonic ms; 0 when not in the app).
    pub in_app_since: std::sync::atomic::AtomicU64,
    /// What the master's SIGTERM asks: a [`StopKind`], written before the signal is sent.
    pub stop: std::sync::atomic::AtomicU32,
    /// The worker's counters, written by the worker, read by the master.
    pub counters: [std::sync::atomic::AtomicU64; COUNTERS],
}

/// How many counters a slot holds.
pub const COUNTERS: usize = 64;

impl Default for Slot {
    fn default() -> Slot {
        Slot {
            pid: Default::default(),
            beat: Default::default(),
            in_app_since: Default::default(),
            stop: Default::default(),
            counters: std::array::from_fn(|_| Default::default()),
        }
    }
}

/// What a SIGTERM from the master asks of a worker. A worker told nothing (or signalled by
/// anyone else) retires: that is always safe, as the other processes keep the listening
/// sockets open; only the master knows when the whole server stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// This worker alone goes (a reload, one worker less, an upgrade's old master).
    Retire = 0,
    /// The whole server stops (TERM to the master): drain, then refuse new connections.
    ServerStops = 1,
}

impl Slot {
    /// Tells the worker what its next SIGTERM means.
    pub fn ask_stop(&self, kind: StopKind) {
        self.stop
            .store(kind as u32, std::sync::atomic::Ordering::SeqCst);
    }

    /// What the master's SIGTERM asked.
    pub fn asked_stop(&self) -> StopKind {
        match self.stop.load(std::sync::atomic::Ordering::SeqCst) {
            1 => StopKind::ServerStops,
            _ => StopKind::Retire,
        }
    }
}

/// An anonymous shared mapping of [`Slot`]s, created by the master before it forks, so every
/// worker writes its own slot and the master reads them all. No files on disk.
///
/// Ahead of the slots, on a cache line of its own, the mapping keeps how many of them have ever
/// been handed out (the master takes the lowest free one, so that is a prefix): a worker that
/// looks over its peers (on every accepted connection, see `metrics::over_share`) reads those
/// few, not every slot the mapping could hold.
pub struct SharedSlots {
    /// The start of the mapping: the count of slots in use.
    in_use: std::ptr::NonNull<std::sync::atomic::AtomicUsize>,
    ptr: std::ptr::NonNull<Slot>,
    len: usize,
}

/// Bytes ahead of the first slot: the in-use count, alone on its cache line.
const HEADER: usize = 64;

impl SharedSlots {
    pub fn new(len: usize) -> io::Result<SharedSlots> {
        const _: () = assert!(std::mem::align_of::<Slot>() <= HEADER);
        let bytes = HEADER + len * std::mem::size_of::<Slot>();
        // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        // SAFETY: the mapping is page-aligned and holds the header and then `len` slots.
        let slots = unsafe { base.add(HEADER) };
        Ok(SharedSlots {
            in_use: base.cast(),
            ptr: slots.cast(),
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, index: usize) -> &Slot {
        assert!(index < self.len, "slot index out of range");
        // SAFETY: the mapping holds `len` zero-initialised Slots (all-zero atomics are valid),
        // lives as long as `self`, and is only accessed through atomics.
        unsafe { &*self.ptr.as_ptr().add(index) }
    }

    fn in_use_count(&self) -> &std::sync::atomic::AtomicUsize {
        // SAFETY: the header is a zero-initialised (valid) atomic in the mapping, which lives
        // as long as `self`.
        unsafe { self.in_use.as_ref() }
    }

    /// Records that slot `index` is handed out (by the master, before the fork that gives it
    /// to a worker); the count never goes down, as a freed slot is taken again first.
    pub fn mark_used(&self, index: usize) {
        assert!(index < self.len, "slot index out of range");
        self.in_use_count()
            .fetch_max(index + 1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many slots from the first have ever been handed out: every worker's slot is below.
    pub fn in_use(&self) -> usize {
        self.in_use_count()
            .load(std::sync::atomic::Ordering::Relaxed)
            .min(self.len)
    }
}

// SAFETY: the mapping is only accessed through atomic fields.
unsafe impl Send for SharedSlots {}
// SAFETY: as above.
unsafe impl Sync for SharedSlots {}

#[cfg(test)]
mod tests {
    use super::SharedSlots;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn in_use_counts_the_slots_handed_out_up_to_the_highest() {
        let slots = SharedSlots::new(16).unwrap();
        assert_eq!(slots.in_use(), 0);
        slots.mark_used(0);
        slots.mark_used(1);
        assert_eq!(slots.in_use(), 2);
        // A freed slot taken again does not lower it.
        slots.mark_used(0);
        assert_eq!(slots.in_use(), 2);
        slots.mark_used(5);
        assert_eq!(slots.in_use(), 6);
        // The slots stay where they were: a write through one is read back from the same one.
        slots.get(5).pid.store(42, Relaxed);
        assert_eq!(slots.get(5).pid.load(Relaxed), 42);
        assert_eq!(slots.get(4).pid.load(Relaxed), 0);
    }
}
