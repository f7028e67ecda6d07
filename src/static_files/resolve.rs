//! Request path → file under a root, never outside it. The path is percent-decoded once;
//! `..` segments, encoded slashes and backslashes, NUL, and symlinks that lead out of the root
//! all resolve to "not found" (a 404, never a 500).

use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A file found under a root.
#[derive(Debug)]
pub struct Resolved {
    pub path: PathBuf,
    pub meta: Metadata,
}

/// Percent-decodes a request path once (RFC 3986 §2.1). Bytes, since the result need not be
/// UTF-8.
pub fn decode_path(raw: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(raw).collect()
}

/// Finds the file `rel` (a raw, still-encoded path relative to `root`) names. Directories
/// mean their `index.html`. `root` must be canonical.
pub fn resolve(root: &Path, rel: &str) -> Option<Resolved> {
    let lower = rel.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
        return None;
    }
    let decoded = decode_path(rel);
    if decoded.contains(&0) || decoded.contains(&b'\\') {
        return None;
    }
    let mut path = root.to_path_buf();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => continue,
            b".." => return None,
            _ => path.push(OsStr::from_bytes(segment)),
        }
    }
    let mut meta = std::fs::metadata(&path).ok()?;
    if meta.is_dir() {
        path.push("index.html");
        meta = std::fs::metadata(&path).ok()?;
    }
    if !meta.is_file() {
        return None;
    }
    // A symlink anywhere on the way may lead out of the root.
    let real = path.canonicalize().ok()?;
    if !real.starts_with(root) {
        return None;
    }
    Some(Resolved { path: real, meta })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("sub/a b.txt"), "a").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn finds_files_and_indexes() {
        let (_dir, root) = root();
        assert!(resolve(&root, "/").unwrap().path.ends_with("index.html"));
        assert!(resolve(&root, "/sub/a%20b.txt").is_some());
        assert!(
            resolve(&root, "/sub/").is_none(),
            "a directory without index.html"
        );
        assert!(resolve(&root, "/missing").is_none());
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
        ] {
            assert!(resolve(&root, attack).is_none(), "{attack}");
        }
    }
}
