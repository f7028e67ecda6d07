//! A per-worker cache of what was learnt about each file: its identity on disk, validators and
//! headers, and — below [`SMALL_FILE_LIMIT`] — its bytes. Every hit is revalidated against the
//! disk, so a changed, replaced or removed file is seen on the very next request: a cached body
//! by the change watches of [`super::watch`] (one non-blocking read of an inotify descriptor),
//! or where they cannot watch its path, or since the last change they reported, by one `stat`;
//! a streamed body by `open` + `fstat`. Workers are single-threaded, so the cache is a
//! thread-local with no locking.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::HeaderValue;

use super::encoding::Coding;
use super::headers;
use super::resolve::{self, OnDisk};
use super::watch;

/// Files up to this size are kept in memory; larger ones are streamed from disk.
pub const SMALL_FILE_LIMIT: u64 = 256 * 1024;
/// Bytes of file content one worker keeps at most; past it the cache starts afresh.
const BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// Entries one worker keeps at most (metadata of large files included).
const BUDGET_ENTRIES: usize = 16 * 1024;

/// How old a file's modification time must be before its entry is kept.
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What tells two versions of a file apart without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One file (or one precompressed sibling) as last seen on disk.
#[derive(Debug)]
pub struct Entry {
    /// The path as requested; revalidation follows it afresh.
    pub path: PathBuf,
    id: FileId,
    pub len: u64,
    /// Whole seconds: HTTP dates have no finer grain (RFC 9110 §5.6.7).
    pub modified: SystemTime,
    pub etag: HeaderValue,
    pub content_type: HeaderValue,
    /// The name carries a content hash: the file may be marked `immutable`.
    pub hashed_name: bool,
    pub coding: Option<Coding>,
    /// The whole content, for small files.
    pub data: Option<Bytes>,
    /// The header lines of a response with this file, rendered once: see [`Fields`].
    pub fields: Fields,
    /// Where it stands with the change watches.
    armed: Cell<Armed>,
}

/// An entry's standing with the change watches.
#[derive(Debug, Clone, Copy, Default)]
struct Armed {
    /// When it was last checked with a `stat`.
    stamp: watch::Stamp,
    /// Its path is watched since that stamp's generation: while the stamp holds, a hit needs
    /// no `stat`. Not watched, it is not armed again before the generation moves on.
    watched: bool,
}

impl Armed {
    /// Whether the watches vouch for the entry at `now` (this request's reading of them): it is
    /// watched and nothing was reported, nor has the clock asked for a `stat`, since it was
    /// checked.
    fn holds(self, now: Option<watch::Stamp>) -> bool {
        self.watched && now == Some(self.stamp)
    }

    /// The standing once a `stat` found the file (or directory) unchanged at `now`: the
    /// watches stand if only the clock moved on (or arming already failed at this
    /// generation); else they are set up with `arm`.
    fn checked(self, now: watch::Stamp, arm: impl FnOnce() -> Option<watch::Stamp>) -> Armed {
        if now.generation == self.stamp.generation {
            return Armed { stamp: now, ..self };
        }
        match arm() {
            Some(stamp) => Armed {
                stamp,
                watched: true,
            },
            None => Armed {
                stamp: now,
                watched: false,
            },
        }
    }
}

/// `ETag`, `Last-Modified`, `Vary` | `Accept-Ranges`, `Content-Encoding` | `Content-Type`, as
/// `Name: value\r\n` lines, with the two places a response may cut them: a 304 carries the
/// validators only (RFC 9110 §15.4.5), a `multipart/byteranges` 206 its own Content-Type.
#[derive(Debug)]
pub struct Fields {
    lines: Bytes,
    validators_end: usize,
    type_start: usize,
}

impl Fields {
    fn render(
        etag: &HeaderValue,
        last_modified: &HeaderValue,
        content_type: &HeaderValue,
        coding: Option<Coding>,
    ) -> Fields {
        let mut lines = Vec::with_capacity(192);
        fn line(lines: &mut Vec<u8>, name: &[u8], value: &[u8]) {
            lines.extend_from_slice(name);
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value);
            lines.extend_from_slice(b"\r\n");
        }
        line(&mut lines, b"ETag", etag.as_bytes());
        line(&mut lines, b"Last-Modified", last_modified.as_bytes());
        // Every file may have precompressed siblings, now or later: caches must key on the field.
        line(&mut lines, b"Vary", b"Accept-Encoding");
        let validators_end = lines.len();
        line(&mut lines, b"Accept-Ranges", b"bytes");
        if let Some(coding) = coding {
            line(&mut lines, b"Content-Encoding", coding.header().as_bytes());
        }
        let type_start = lines.len();
        line(&mut lines, b"Content-Type", content_type.as_bytes());
        Fields {
            lines: Bytes::from(lines),
            validators_end,
            type_start,
        }
    }

    /// Every line.
    pub fn all(&self) -> Bytes {
        self.lines.clone()
    }

    /// `ETag`, `Last-Modified`, `Vary`.
    pub fn validators(&self) -> Bytes {
        self.lines.slice(..self.validators_end)
    }

    /// Every line but `Content-Type`.
    pub fn without_type(&self) -> Bytes {
        self.lines.slice(..self.type_start)
    }
}

/// A revalidated entry, with the open file when its body is streamed.
pub struct Opened {
    pub entry: Rc<Entry>,
    pub file: Option<File>,
    /// The watches' stamp this request read (`None`: none read yet), for [`DirCheck`].
    pub now: Option<Option<watch::Stamp>>,
}

#[derive(Default)]
struct Cache {
    /// Keyed by the raw bytes of the path: `Path` equality ignores a trailing `/`, which here
    /// tells `/dir/` (its index) from `/dir` (a redirect).
    map: HashMap<OsString, Rc<Entry>>,
    bytes: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The entry cached under `key` (a name beneath `root`), if the file on disk is still the one
/// it describes. Entries are only ever made from files opened beneath their root, and a hit is
/// served only while the name still leads to that very file (device, inode, size and times;
/// linking or moving a file changes its ctime): a name swapped for a symlink to another file
/// is a miss, and the fresh resolution refuses what lies outside. A cached body is checked with
/// one `stat` — none while the watches armed on its first unchanged hit report nothing and
/// the clock has not asked for one; a streamed one is opened beneath the root again and its
/// descriptor checked.
pub fn get(root: &Path, key: &Path) -> Option<Opened> {
    let entry = CACHE.with(|c| c.borrow().map.get(key.as_os_str()).cloned())?;
    let mut read = None;
    let fresh = if entry.data.is_some() {
        let now = *read.insert(watch::now());
        let armed = entry.armed.get();
        if armed.holds(now) {
            Some(None)
        } else {
            let same = |meta: &Metadata| FileId::of(meta) == entry.id;
            let fresh = std::fs::metadata(&entry.path)
                .ok()
                .filter(same)
                .map(|_| None);
            if let Some(now) = now.filter(|_| fresh.is_some()) {
                entry.armed.set(armed.checked(now, || {
                    let stamp = watch::arm(&entry.path, same)?;
                    tracing::debug!(path = %entry.path.display(), "file watched: hits skip the stat");
                    Some(stamp)
                }));
            }
            fresh
        }
    } else {
        resolve::open_file(root, &entry.path)
            .filter(|on_disk| FileId::of(&on_disk.meta) == entry.id)
            .map(|on_disk| Some(on_disk.file))
    };
    match fresh {
        Some(file) => Some(Opened {
            entry,
            file,
            now: read,
        }),
        None => {
            tracing::debug!(path = %entry.path.display(), "file changed on disk");
            remove(key);
            None
        }
    }
}

/// Builds the entry for a file just opened, caches it under `key`, and returns it.
pub fn insert(key: &Path, on_disk: OnDisk, coding: Option<Coding>) -> Option<Opened> {
    let OnDisk {
        path,
        mut file,
        meta,
    } = on_disk;
    let id = FileId::of(&meta);
    let data = if id.len <= SMALL_FILE_LIMIT {
        let mut buf = Vec::with_capacity(id.len as usize);
        if let Err(err) = file.read_to_end(&mut buf) {
            tracing::warn!(path = %path.display(), error = %err, "cannot read file");
            return None;
        }
        if buf.len() as u64 != id.len {
            tracing::debug!(path = %path.display(), "file changed while being read");
            return None;
        }
        Some(Bytes::from(buf))
    } else {
        None
    };
    // Content-Type and the hashed-name rule follow the name without the `.br` / `.gz`.
    let name = match coding {
        Some(_) => path.with_extension(""),
        None => path.clone(),
    };
    // RFC 9110 §8.8.2.1: never a Last-Modified later than now (a clock set wrong, a copy
    // from elsewhere).
    let now = SystemTime::now();
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let modified = whole_seconds(id.mtime.0.min(i64::try_from(now_secs).unwrap_or(i64::MAX)));
    let etag = headers::etag(id.mtime, id.len, coding);
    let last_modified = headers::http_date(modified);
    let content_type = headers::content_type(&name);
    let entry = Rc::new(Entry {
        fields: Fields::render(&etag, &last_modified, &content_type, coding),
        etag,
        content_type,
        hashed_name: headers::is_hashed_name(&name),
        path,
        id,
        len: id.len,
        modified,
        coding,
        data,
        armed: Cell::new(Armed::default()),
    });
    // File timestamps are coarse (a clock tick): a file written again within the same tick
    // keeps its size and times. One modified moments ago is served but not remembered, so
    // such a second write cannot hide behind a cached copy ("racily clean" files, as git
    // calls them).
    let settled = since_epoch(id.mtime)
        .and_then(|modified| now.duration_since(modified).ok())
        .is_some_and(|age| age >= RACY_WINDOW);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if !settled {
            return;
        }
        let size = entry.data.as_ref().map_or(0, Bytes::len);
        if cache.bytes + size > BUDGET_BYTES || cache.map.len() >= BUDGET_ENTRIES {
            tracing::debug!(
                entries = cache.map.len(),
                bytes = cache.bytes,
                "static cache full, emptied"
            );
            cache.map.clear();
            cache.bytes = 0;
            watch::reset();
        }
        cache.bytes += size;
        if let Some(old) = cache.map.insert(key.as_os_str().to_owned(), entry.clone()) {
            cache.bytes -= old.data.as_ref().map_or(0, Bytes::len);
        }
    });
    let file = entry.data.is_none().then_some(file);
    Some(Opened {
        entry,
        file,
        now: None,
    })
}

/// Names known not to exist (missing precompressed siblings), each with the state of its
/// directory when it was looked for, and its standing with the change watches (armed, a name
/// is known missing without a `stat` of its directory).
#[derive(Default)]
struct Missing {
    map: HashMap<OsString, (DirStamp, Armed)>,
}

thread_local! {
    static MISSING: RefCell<Missing> = RefCell::new(Missing::default());
}

/// What changes when a directory gains, loses or renames an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl DirStamp {
    fn of(meta: &Metadata) -> DirStamp {
        DirStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The directory of one file, stat'ed at most once per request, for the names missing from it.
pub struct DirCheck<'a> {
    file: &'a Path,
    /// `None`: not stat'ed yet; `Some(None)`: could not be.
    stamp: Option<Option<DirStamp>>,
    /// The watches' stamp, read at most once per request.
    now: Option<Option<watch::Stamp>>,
}

impl<'a> DirCheck<'a> {
    /// For the file `opened`, found by this request (whose reading of the watches serves here).
    pub fn new(opened: &'a Opened) -> DirCheck<'a> {
        DirCheck {
            file: &opened.entry.path,
            stamp: None,
            now: opened.now,
        }
    }

    fn stamp(&mut self) -> Option<DirStamp> {
        *self.stamp.get_or_insert_with(|| {
            let meta = std::fs::metadata(self.file.parent()?).ok()?;
            Some(DirStamp::of(&meta))
        })
    }

    fn now(&mut self) -> Option<watch::Stamp> {
        *self.now.get_or_insert_with(watch::now)
    }

    /// `key` (a name in this directory) was found missing and the directory has not changed
    /// since.
    pub fn known_missing(&mut self, key: &Path) -> bool {
        let Some((seen, armed)) = MISSING.with(|m| m.borrow().map.get(key.as_os_str()).copied())
        else {
            return false;
        };
        let now = self.now();
        if armed.holds(now) {
            return true;
        }
        if self.stamp() != Some(seen) {
            MISSING.with(|m| m.borrow_mut().map.remove(key.as_os_str()));
            return false;
        }
        if let Some(now) = now {
            let armed = armed.checked(now, || {
                let (dir, name) = (self.file.parent()?, key.file_name()?);
                let stamp = watch::arm_missing(dir, name, |meta| DirStamp::of(meta) == seen)?;
                tracing::debug!(path = %key.display(), "missing name watched: no stat of its directory");
                Some(stamp)
            });
            MISSING.with(|m| {
                if let Some(record) = m.borrow_mut().map.get_mut(key.as_os_str()) {
                    record.1 = armed;
                }
            });
        }
        true
    }

    /// Remembers that `key` does not exist — unless the directory changed moments ago, when a
    /// name added within the same clock tick would not change its times again.
    pub fn remember_missing(&mut self, key: &Path) {
        let Some(stamp) = self.stamp() else { return };
        let settled = since_epoch(stamp.mtime.max(stamp.ctime))
            .and_then(|changed| SystemTime::now().duration_since(changed).ok())
            .is_some_and(|age| age >= RACY_WINDOW);
        if !settled {
            return;
        }
        MISSING.with(|m| {
            let mut missing = m.borrow_mut();
            if missing.map.len() >= BUDGET_ENTRIES {
                missing.map.clear();
            }
            missing
                .map
                .insert(key.as_os_str().to_owned(), (stamp, Armed::default()));
        });
    }
}

fn remove(key: &Path) {
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if let Some(old) = cache.map.remove(key.as_os_str()) {
            cache.bytes -= old.data.as_ref().map_or(0, Bytes::len);
        }
    });
}

/// A file time as a `SystemTime`; `None` past what one can hold (a file dated in the year
/// 300 billion must not panic the worker).
fn since_epoch((secs, nanos): (i64, i64)) -> Option<SystemTime> {
    let nanos = u32::try_from(nanos).unwrap_or(0).min(999_999_999);
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).unwrap_or(0), nanos))
}

fn whole_seconds(secs: i64) -> SystemTime {
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH,
    }
}
