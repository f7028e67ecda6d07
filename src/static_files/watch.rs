//! Change notification for the cache, so that a hit need not `stat` its file: every step of
//! the lookup of a cached file's path (each directory, with the name looked up in it, symlinks
//! followed) and the file itself are watched with inotify, and any event that may change what
//! the path leads to, or the file's content and times, moves the worker's generation on. An
//! entry checked against the disk and armed at generation G is served without a `stat` while
//! the generation is still G; the generation is read after the request was, with one
//! non-blocking `read` of the inotify descriptor (a fraction of a path lookup's cost), so a
//! change made before the request arrived is seen by that request.
//!
//! Only local filesystems report every change to their watchers (NFS, SMB and FUSE do not
//! report another host's), so only paths that stay on them are armed; everywhere else, and
//! wherever the kernel refuses a watch (`max_user_watches`, `max_user_instances`), every hit is
//! checked with a `stat` as before. What inotify never reports — writes through a shared `mmap`
//! of the file, a filesystem mounted over a directory of the path — is caught by the clock: an
//! armed entry is still checked with one `stat` once every [`RECHECK`] it is hit (its watches
//! stand), so such a change is seen within that time.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sys;

/// What is watched on a directory of a lookup: its entries created, removed, renamed or
/// changed (by name, filtered below), and the directory itself changed, moved or removed.
const DIR_EVENTS: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW;
/// What is watched on a cached file: its content, size, times, links, moving or removal.
const FILE_EVENTS: u32 = libc::IN_MODIFY
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_DONT_FOLLOW;

/// How often an armed entry is checked with a `stat` all the same.
const RECHECK: Duration = Duration::from_secs(1);

/// Symlinks one lookup follows at most, as the kernel's own limit (ELOOP).
const MAX_LINKS: usize = 40;
/// Watches one worker holds at most: a 64th of the user's `fs.inotify.max_user_watches` (which
/// every other program the user runs draws on too), between 64 and 4,096; and names of
/// interest. Past either, the watches start afresh, which also lets go of files long replaced
/// whose inodes live on (old releases kept on disk).
const MAX_WATCHES: usize = 4096;
const MIN_WATCHES: usize = 64;
const MAX_NAMES: usize = 16 * 1024;

fn watch_budget() -> usize {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok())
        .map_or(1024, |user| (user / 64).clamp(MIN_WATCHES, MAX_WATCHES))
}

/// `f_type`s of the filesystems whose changes all reach their watchers: ext2/3/4, XFS, Btrfs,
/// tmpfs, ramfs, F2FS, ZFS, overlayfs (changes made through the overlay) and squashfs.
const LOCAL_FILESYSTEMS: [i64; 9] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0x8584_58f6,
    0xF2F5_2010,
    0x2fc1_2fc1,
    0x794c_7630,
    0x7371_7368,
];

/// Where a worker's watches stand: an entry armed at one stamp is served without a `stat`
/// while the stamp stays the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Moves on with every event that may concern a cached file: entries must be armed again.
    pub generation: u64,
    /// Moves on every [`RECHECK`]: entries are checked with a `stat`, their watches standing.
    epoch: u64,
}

struct Watches {
    fd: OwnedFd,
    generation: u64,
    epoch: u64,
    epoch_start: Instant,
    /// Per watch: the names in that directory whose events matter (none for a file's own
    /// watch, whose every event does).
    names: HashMap<i32, HashSet<Box<[u8]>>>,
    name_count: usize,
    /// Watches held at most: see [`MAX_WATCHES`].
    budget: usize,
    /// Where events are read to (made once: a hit reads into it).
    buf: Box<[u8]>,
}

enum State {
    Untried,
    Off,
    On(Watches),
}

thread_local! {
    static WATCHES: RefCell<State> = const { RefCell::new(State::Untried) };
}

/// The worker's stamp, once the events queued so far are taken in; `None` when nothing is
/// watched (no inotify here).
pub fn now() -> Option<Stamp> {
    with_watches(|watches| {
        watches.drain();
        if watches.epoch_start.elapsed() >= RECHECK {
            watches.epoch += 1;
            watches.epoch_start = Instant::now();
        }
        Some(watches.stamp())
    })
}

/// Watches every step of the lookup of `path` and the file it leads to; returns the stamp from
/// which a hit may skip its `stat`, if the file found once everything is watched passes
/// `expected` and nothing changed meanwhile. `None`: keep checking with `stat`.
pub fn arm(path: &Path, expected: impl Fn(&Metadata) -> bool) -> Option<Stamp> {
    with_watches(|watches| watches.arm(path, Target::File, expected))
}

/// The same for the name `name` missing from the directory `dir` (which must pass `expected`):
/// it is known missing without a `stat` while the stamp holds.
pub fn arm_missing(
    dir: &Path,
    name: &OsStr,
    expected: impl Fn(&Metadata) -> bool,
) -> Option<Stamp> {
    with_watches(|watches| watches.arm(dir, Target::Missing(name), expected))
}

/// What a watched lookup ends at.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// A file (not a directory): watched itself.
    File,
    /// A directory, for a name missing from it.
    Missing(&'a OsStr),
}

/// Runs `f` on this thread's watches, made on first use; `None` without inotify.
fn with_watches<T>(f: impl FnOnce(&mut Watches) -> Option<T>) -> Option<T> {
    WATCHES.with(|w| {
        let mut state = w.borrow_mut();
        if let State::Untried = *state {
            *state = match sys::inotify() {
                Ok(fd) => State::On(Watches::new(fd)),
                Err(err) => {
                    tracing::debug!(error = %err, "no inotify: cached files are checked with stat");
                    State::Off
                }
            };
        }
        match &mut *state {
            State::On(watches) => f(watches),
            _ => None,
        }
    })
}

/// Drops every watch (the cache was emptied): what is cached again is armed afresh.
pub fn reset() {
    WATCHES.with(|w| {
        if let State::On(watches) = &mut *w.borrow_mut() {
            // Without a new instance the old one stays, every watch of it still reporting.
            let _ = watches.restart();
        }
    });
}

impl Watches {
    fn new(fd: OwnedFd) -> Watches {
        Watches {
            fd,
            generation: 1,
            epoch: 0,
            epoch_start: Instant::now(),
            names: HashMap::new(),
            name_count: 0,
            budget: watch_budget(),
            buf: vec![0; 4096].into_boxed_slice(),
        }
    }

    /// Takes in every queued event.
    fn drain(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        self.drain_into(&mut buf);
        self.buf = buf;
    }

    fn drain_into(&mut self, buf: &mut [u8]) {
        loop {
            let n = match sys::inotify_read(self.fd.as_fd(), buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(err) => {
                    // Not expected of a readable inotify descriptor: trust no arming.
                    tracing::debug!(error = %err, "inotify read failed");
                    self.generation += 1;
                    return;
                }
            };
            let mut at = 0;
            while let Some((wd, mask, name, next)) = sys::inotify_event(&buf[..n], at) {
                at = next;
                if self.concerns(wd, mask, name) {
                    self.generation += 1;
                }
            }
        }
    }

    /// An event on a watched file, on a watched directory itself, or on a name looked up in
    /// one; a lost event (queue overflow) or a watch gone concerns everything.
    fn concerns(&mut self, wd: i32, mask: u32, name: &[u8]) -> bool {
        if mask & libc::IN_IGNORED != 0 {
            if let Some(names) = self.names.remove(&wd) {
                self.name_count -= names.len();
            }
            return true;
        }
        if mask & libc::IN_Q_OVERFLOW != 0 || name.is_empty() {
            return true;
        }
        self.names.get(&wd).is_none_or(|names| names.contains(name))
    }

    fn arm(
        &mut self,
        path: &Path,
        target: Target<'_>,
        expected: impl Fn(&Metadata) -> bool,
    ) -> Option<Stamp> {
        let (steps, meta, end) = lookup(path)?;
        let is_dir = matches!(target, Target::Missing(_));
        if meta.is_dir() != is_dir || !expected(&meta) {
            return None;
        }
        let mut dirs: Vec<&Path> = steps.iter().map(|(dir, _)| dir.as_path()).collect();
        dirs.dedup();
        for dir in dirs.iter().copied().chain([end.as_path()]) {
            let kind = sys::filesystem_type(dir.as_os_str()).ok()?;
            if !LOCAL_FILESYSTEMS.contains(&kind) {
                tracing::debug!(path = %dir.display(), kind, "not a local filesystem: cached files are checked with stat");
                return None;
            }
        }
        if self.names.len() + steps.len() >= self.budget
            || self.name_count + steps.len() > MAX_NAMES
        {
            self.restart()?;
        }
        self.drain();
        let start = self.generation;
        // From the top down: a step changed after its directory is watched is reported.
        for (dir, name) in &steps {
            self.watch_name(dir, name)?;
        }
        match target {
            Target::File => {
                let wd = self.watch(&end, FILE_EVENTS)?;
                self.names.entry(wd).or_default();
            }
            Target::Missing(name) => self.watch_name(&end, name)?,
        }
        // The lookup again, now that every step is watched: the same steps to what passes (a
        // name still missing), and nothing reported meanwhile.
        let (again, meta, _) = lookup(path)?;
        if again != steps || !expected(&meta) {
            return None;
        }
        if let Target::Missing(name) = target {
            if std::fs::symlink_metadata(end.join(name)).is_ok() {
                return None;
            }
        }
        self.drain();
        (self.generation == start).then(|| self.stamp())
    }

    fn stamp(&self) -> Stamp {
        Stamp {
            generation: self.generation,
            epoch: self.epoch,
        }
    }

    /// A new inotify instance in place of this one (every watch dropped), under a new
    /// generation; `None`, keeping this one, if the kernel gives none.
    fn restart(&mut self) -> Option<()> {
        let fd = sys::inotify().ok()?;
        *self = Watches {
            generation: self.generation + 1,
            ..Watches::new(fd)
        };
        Some(())
    }

    /// Watches the directory `dir` for the events of `name` in it (and of itself).
    fn watch_name(&mut self, dir: &Path, name: &OsStr) -> Option<()> {
        let wd = self.watch(dir, DIR_EVENTS)?;
        if self
            .names
            .entry(wd)
            .or_default()
            .insert(name.as_bytes().into())
        {
            self.name_count += 1;
        }
        Some(())
    }

    fn watch(&self, path: &Path, mask: u32) -> Option<i32> {
        match sys::inotify_add_watch(self.fd.as_fd(), path.as_os_str(), mask) {
            Ok(wd) => Some(wd),
            Err(err) => {
                tracing::debug!(path = %path.display(), error = %err, "cannot watch: cached files are checked with stat");
                None
            }
        }
    }
}

/// One step of a lookup: a directory (a path without symlinks) and the name looked up in it.
type Step = (PathBuf, OsString);

/// Looks `path` up as the kernel does, one name at a time, symlinks followed: the steps taken,
/// what the last name is (`lstat`), and its path without symlinks. `None` when the path leads
/// nowhere, or cannot be followed.
fn lookup(path: &Path) -> Option<(Vec<Step>, Metadata, PathBuf)> {
    let mut dir = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().ok()?
    };
    // Names still to look up, the next one last.
    let mut todo: Vec<OsString> = Vec::new();
    push_names(&mut todo, path);
    let mut steps = Vec::new();
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            // `dir` has no symlinks in it: its parent by name is its parent on disk.
            dir.pop();
            continue;
        }
        let here = dir.join(&name);
        let meta = std::fs::symlink_metadata(&here).ok()?;
        steps.push((dir.clone(), name));
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return None;
            }
            let target = std::fs::read_link(&here).ok()?;
            if target.is_absolute() {
                dir = PathBuf::from("/");
            }
            push_names(&mut todo, &target);
        } else if todo.is_empty() {
            return Some((steps, meta, here));
        } else if meta.is_dir() {
            dir = here;
        } else {
            return None;
        }
    }
    None
}

/// Pushes the names of `path` onto `todo` so that its first name is popped first.
fn push_names(todo: &mut Vec<OsString>, path: &Path) {
    let start = todo.len();
    for component in path.components() {
        match component {
            Component::Normal(name) => todo.push(name.to_owned()),
            Component::ParentDir => todo.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    todo[start..].reverse();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_follows_symlinks_step_by_step() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("releases/2/static")).unwrap();
        std::fs::write(base.join("releases/2/static/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("releases/2", base.join("current")).unwrap();
        std::os::unix::fs::symlink("../current/static", base.join("releases/www")).unwrap();
        let (steps, meta, file) = lookup(&base.join("releases/www/a.txt")).unwrap();
        assert_eq!(meta.len(), 1);
        assert_eq!(file, base.join("releases/2/static/a.txt"));
        // The steps below the temporary directory (those above it depend on where it is).
        let below: Vec<(String, String)> = steps
            .iter()
            .filter_map(|(dir, name)| {
                let dir = dir.strip_prefix(&base).ok()?;
                Some((dir.to_str()?.to_owned(), name.to_str()?.to_owned()))
            })
            .collect();
        let expect = [
            ("", "releases"),
            ("releases", "www"),
            ("", "current"),
            ("", "releases"),
            ("releases", "2"),
            ("releases/2", "static"),
            ("releases/2/static", "a.txt"),
        ];
        let expect: Vec<(String, String)> = expect
            .iter()
            .map(|(dir, name)| (dir.to_string(), name.to_string()))
            .collect();
        assert_eq!(below, expect);
        // A directory is looked up too; a loop or a missing name leads nowhere.
        assert!(lookup(&base.join("current")).unwrap().1.is_dir());
        assert!(lookup(&base.join("releases/9")).is_none());
        std::os::unix::fs::symlink("loop", base.join("loop")).unwrap();
        assert!(lookup(&base.join("loop")).is_none());
    }

    #[test]
    fn watches_start_afresh_past_their_budget() {
        let tmp = tempfile::tempdir().unwrap();
        let Ok(fd) = sys::inotify() else { return };
        let mut watches = Watches::new(fd);
        let any = |_: &Metadata| true;
        let file = |n: usize| {
            let path = tmp.path().join(format!("f{n}"));
            std::fs::write(&path, "x").unwrap();
            path
        };
        let first = watches
            .arm(&file(0), Target::File, any)
            .expect("armed")
            .generation;
        let budget = watches.budget;
        for n in 1..budget {
            watches.arm(&file(n), Target::File, any).expect("armed");
        }
        // The budget was reached once: every watch was dropped and the generation moved on.
        assert!(watches.names.len() < budget);
        assert!(watches.generation > first);
        // A change to a file watched before is no longer reported, but no entry armed before
        // is trusted any more either.
        let gen = watches.generation;
        std::fs::write(tmp.path().join("f0"), "y").unwrap();
        watches.drain();
        assert_eq!(watches.generation, gen);
        // A file watched since is.
        std::fs::write(tmp.path().join(format!("f{}", budget - 1)), "y").unwrap();
        watches.drain();
        assert!(watches.generation > gen);
    }
}
