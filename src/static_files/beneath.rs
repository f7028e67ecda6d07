//! Opening a name below a served directory so that nothing on the way can lead out of it: the
//! check and the open are one step. With openat2(2) the kernel resolves the name beneath the
//! directory's descriptor (`RESOLVE_BENEATH`); where it lacks openat2, and for absolute symlinks
//! (which `RESOLVE_BENEATH` refuses even when they point inside), the name is walked one
//! component at a time from the directory's descriptor, each opened with `O_NOFOLLOW` and each
//! symlink read from the link itself and followed only while it stays inside. A name swapped
//! for a symlink between two requests, or during one, is therefore never followed out; symlinks
//! that stay inside work as before. Files are opened non-blocking (a FIFO cannot hang the loop).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::{self, OPEN_PATH, OPEN_READ};

/// Symlinks followed at most in one name (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Set once openat2 turns out to be missing (ENOSYS, or EPERM from a seccomp filter).
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// A handle on the served directory itself, to open names beneath (`O_PATH`: nothing read).
pub fn root(root: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(root)
}

/// Opens `rel` (relative; its segments already checked by `resolve::target`) beneath `dir`,
/// the handle on the directory `root`, for reading. The caller checks what was opened.
pub fn open(dir: &File, root: &Path, rel: &Path) -> io::Result<File> {
    let name = if rel.as_os_str().is_empty() {
        OsStr::new(".")
    } else {
        rel.as_os_str()
    };
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        match sys::openat2_beneath(dir.as_fd(), name, OPEN_READ) {
            Ok(fd) => return Ok(File::from(fd)),
            Err(err) => match err.raw_os_error() {
                Some(libc::ENOSYS | libc::EPERM) => {
                    tracing::debug!("no openat2: names are walked one component at a time");
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                }
                // An absolute symlink (it may point inside), `..` out of the root, or a rename
                // racing the lookup: the walk decides.
                Some(libc::EXDEV | libc::EAGAIN) => {}
                _ => return Err(err),
            },
        }
    }
    walk(dir, root, rel)
}

/// The walk: one component at a time from `dir`, never following a symlink out of it.
pub fn walk(dir: &File, root: &Path, rel: &Path) -> io::Result<File> {
    let escape = || io::Error::from_raw_os_error(libc::EXDEV);
    // The directories entered below the root, innermost last.
    let mut entered: Vec<OwnedFd> = Vec::new();
    // What is left to resolve, next component last.
    let mut pending: Vec<OsString> = components(rel).ok_or_else(escape)?;
    pending.reverse();
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            entered.pop().ok_or_else(escape)?;
            continue;
        }
        let here = entered.last().map_or(dir.as_fd(), |d| d.as_fd());
        // The name itself, not what it may point to: a link is read, never followed blindly.
        let node = sys::openat(here, &name, OPEN_PATH)?;
        let node = File::from(node);
        let kind = node.metadata()?.file_type();
        if kind.is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = sys::read_link(node.as_fd())?;
            let inside = if target.is_absolute() {
                // Only a link into the root itself, resolved from the root's handle.
                entered.clear();
                target
                    .strip_prefix(root)
                    .map_err(|_| escape())?
                    .to_path_buf()
            } else {
                target
            };
            let mut more = components(&inside).ok_or_else(escape)?;
            more.reverse();
            pending.extend(more);
            continue;
        }
        if pending.is_empty() {
            // The last component: opened for reading, refusing a link swapped in meanwhile.
            let fd = sys::openat(here, &name, OPEN_READ | libc::O_NOFOLLOW)?;
            return Ok(File::from(fd));
        }
        if !kind.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        entered.push(node.into());
    }
    // The name led back to a directory (the root itself, or through `..`).
    let here = entered.last().map_or(dir.as_fd(), |d| d.as_fd());
    sys::openat(here, OsStr::new("."), OPEN_READ).map(File::from)
}

/// The components of a relative path as names (`.` dropped, `..` kept); `None` if it is
/// absolute.
fn components(path: &Path) -> Option<Vec<OsString>> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(Some(name.to_owned())),
            Component::ParentDir => Some(Some(OsString::from(".."))),
            Component::CurDir => None,
            Component::RootDir | Component::Prefix(_) => Some(None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    /// `<tmp>/root` with files, a directory, and links that stay inside or lead out.
    fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        std::fs::write(root.join("sub/deep/b.txt"), "b").unwrap();
        std::fs::write(base.join("secret"), "secret").unwrap();
        symlink("a.txt", root.join("rel-in")).unwrap();
        symlink("../a.txt", root.join("sub/up-in")).unwrap();
        symlink(root.join("a.txt"), root.join("abs-in")).unwrap();
        symlink("sub/deep", root.join("dir-in")).unwrap();
        symlink("../secret", root.join("rel-out")).unwrap();
        symlink(base.join("secret"), root.join("abs-out")).unwrap();
        symlink("../../../secret", root.join("sub/deep/up-out")).unwrap();
        symlink(&base, root.join("dir-out")).unwrap();
        symlink("/proc/self/root/etc/passwd", root.join("magic")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        (tmp, root)
    }

    fn read(mut file: File) -> String {
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn links_inside_are_followed_and_links_out_are_not() {
        let (_tmp, root) = tree();
        let dir = super::root(&root).unwrap();
        for opener in [open as fn(&File, &Path, &Path) -> io::Result<File>, walk] {
            let get = |rel: &str| opener(&dir, &root, Path::new(rel));
            for inside in ["a.txt", "rel-in", "sub/up-in", "abs-in", "sub/../a.txt"] {
                assert_eq!(read(get(inside).unwrap()), "a", "{inside}");
            }
            assert_eq!(read(get("dir-in/b.txt").unwrap()), "b");
            assert!(get("sub").unwrap().metadata().unwrap().is_dir());
            assert!(get("").unwrap().metadata().unwrap().is_dir());
            for outside in [
                "rel-out",
                "abs-out",
                "sub/deep/up-out",
                "dir-out/secret",
                "../secret",
                "sub/../../secret",
                "magic",
                "loop",
                "missing",
                "a.txt/x",
            ] {
                assert!(get(outside).is_err(), "{outside}");
            }
        }
    }
}
