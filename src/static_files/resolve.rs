//! Request path → file under a root, never outside it. The path is percent-decoded once;
//! `..` segments, encoded slashes and backslashes, NUL, dotfiles (unless allowed) and symlinks
//! that lead out of the root all resolve to "not found" (a 404, never a 500). The name is
//! opened beneath the root in one step (`beneath`), and what was opened is checked, not the
//! path: only a regular file is served; a FIFO, socket or device is "not found", as in nginx.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::beneath;

/// A request path checked segment by segment and joined onto its root, not yet looked up.
#[derive(Debug)]
pub struct Target {
    /// The joined path, with a trailing `/` when the request had one: the cache key.
    pub key: PathBuf,
    pub trailing_slash: bool,
}

/// What a target names on disk. Short-lived, on the stack: a boxed file would cost an
/// allocation per lookup.
#[allow(clippy::large_enum_variant)]
pub enum Found {
    /// A file, open: the cache takes it from here.
    File(OnDisk),
    /// A directory inside the root (opened) with no `index.html` to serve.
    Directory(File),
}

/// A regular file found on disk, open, with the metadata of the open handle.
pub struct OnDisk {
    /// The path as requested (symlinks not followed): the cache's revalidation looks it up
    /// afresh.
    pub path: PathBuf,
    pub file: File,
    pub meta: std::fs::Metadata,
}

/// Checks `rel` (raw, still-encoded, relative to `root`) without touching the disk.
pub fn target(root: &Path, rel: &str, dotfiles: bool) -> Option<Target> {
    // Encoded separators and NUL would let one segment smuggle a path (RFC 3986 §7.3).
    let smuggled = rel.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'f') | (b'5', b'c') | (b'0', b'0')
            )
    });
    if smuggled {
        return None;
    }
    let decoded: std::borrow::Cow<[u8]> = percent_encoding::percent_decode_str(rel).into();
    if decoded.contains(&0) || decoded.contains(&b'\\') {
        return None;
    }
    // One allocation: the root, a separator per segment, the segments and a trailing slash.
    let mut key = PathBuf::with_capacity(root.as_os_str().len() + decoded.len() + 2);
    key.push(root);
    let mut first = true;
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return None,
            // RFC 8615: `/.well-known/` is meant to be served.
            b".well-known" if first => key.push(".well-known"),
            _ if segment[0] == b'.' && !dotfiles => return None,
            _ => key.push(OsStr::from_bytes(segment)),
        }
        first &= segment.is_empty();
    }
    // An empty `rel` is a bare mount prefix (`/static`): a directory to redirect to `/static/`.
    let trailing_slash = decoded.ends_with(b"/");
    if trailing_slash {
        let mut raw = OsString::from(key);
        raw.push("/");
        key = PathBuf::from(raw);
    }
    Some(Target {
        key,
        trailing_slash,
    })
}

/// Looks `target` up on disk: a file (opened), a directory, or nothing.
pub fn find(root: &Path, target: &Target) -> Option<Found> {
    let rel = target.key.strip_prefix(root).ok()?;
    let dir = beneath::root(root).ok()?;
    let file = beneath::open(&dir, root, rel).ok()?;
    let meta = file.metadata().ok()?;
    if meta.is_dir() {
        if !target.trailing_slash {
            return Some(Found::Directory(file));
        }
        let index = target.key.join("index.html");
        return match open_in(&dir, root, &index) {
            Some(on_disk) => Some(Found::File(on_disk)),
            None => Some(Found::Directory(file)),
        };
    }
    if target.trailing_slash || !meta.is_file() {
        return None;
    }
    Some(Found::File(OnDisk {
        path: target.key.clone(),
        file,
        meta,
    }))
}

/// Opens `path` (the root joined with a checked relative path) if it is a regular file beneath
/// `root`.
pub fn open_file(root: &Path, path: &Path) -> Option<OnDisk> {
    let dir = beneath::root(root).ok()?;
    open_in(&dir, root, path)
}

fn open_in(dir: &File, root: &Path, path: &Path) -> Option<OnDisk> {
    let rel = path.strip_prefix(root).ok()?;
    let file = beneath::open(dir, root, rel).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    Some(OnDisk {
        path: path.to_path_buf(),
        file,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".well-known")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("sub/a b.txt"), "a").unwrap();
        std::fs::write(root.join(".env"), "secret").unwrap();
        std::fs::write(root.join(".well-known/x"), "x").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    fn file(root: &Path, rel: &str) -> Option<PathBuf> {
        let target = target(root, rel, false)?;
        match find(root, &target)? {
            Found::File(on_disk) => Some(on_disk.path),
            Found::Directory(_) => None,
        }
    }

    #[test]
    fn finds_files_and_indexes() {
        let (_dir, root) = root();
        assert!(file(&root, "/").unwrap().ends_with("index.html"));
        assert!(file(&root, "/sub/a%20b.txt").is_some());
        assert!(
            file(&root, "/sub/a%20b.txt/").is_none(),
            "a file is no directory"
        );
        assert!(
            file(&root, "/sub/").is_none(),
            "a directory without index.html"
        );
        assert!(file(&root, "/missing").is_none());
        assert!(file(&root, "/.well-known/x").is_some());
    }

    #[test]
    fn directories_are_told_apart_by_their_slash() {
        let (_dir, root) = root();
        let bare = target(&root, "/sub", false).unwrap();
        assert!(!bare.trailing_slash);
        assert!(matches!(find(&root, &bare), Some(Found::Directory(_))));
        assert!(!target(&root, "", false).unwrap().trailing_slash);
    }

    #[test]
    fn dotfiles_are_hidden_unless_allowed() {
        let (_dir, root) = root();
        assert!(target(&root, "/.env", false).is_none());
        assert!(target(&root, "/sub/.git/config", false).is_none());
        assert!(target(&root, "/.env", true).is_some());
    }

    #[test]
    fn only_regular_files_are_served() {
        let (_dir, root) = root();
        let made = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        // Would block forever if opened for reading without O_NONBLOCK.
        assert!(file(&root, "/pipe").is_none());
        std::os::unix::fs::symlink("sub/a b.txt", root.join("in.txt")).unwrap();
        assert!(file(&root, "/in.txt").is_some(), "a symlink staying inside");
    }

    #[test]
    fn never_leaves_the_root() {
        let (_dir, root) = root();
        for attack in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/sub/..%2f..%2fsecret.txt",
            "/sub%2f..%2f..%2fsecret.txt",
            "/..%5csecret.txt",
            "/link.txt",
            "/index.html%00.txt",
            "/sub/../../secret.txt",
            "/%c0%ae%c0%ae/secret.txt",
        ] {
            assert!(file(&root, attack).is_none(), "{attack}");
        }
    }
}
