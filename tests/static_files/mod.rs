//! Static files over real sockets: what is served and how (`serving`), what never leaves the
//! root (`traversal`), validators and cache policy (`caching`), byte ranges (`ranges`), large
//! files sent with sendfile(2) (`sendfile`), and the split between files and the app
//! (`routing`). The document roots are built here, in fresh temporary directories.

mod caching;
mod hostile;
mod ranges;
mod routing;
mod sendfile;
mod serving;
mod traversal;

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::tmpdir;

/// What sits next to every document root, outside it: it must never be served.
pub const SECRET: &str = "TOP SECRET";

pub fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `<tmp>/root/` with `hello.txt`, `dir/index.html` and an empty `empty/` (no index at the
/// top), and `<tmp>/secret.txt` next to it. Returns `<tmp>` and the root.
pub fn docroot(name: &str) -> (PathBuf, String) {
    let dir = tmpdir(name);
    let root = dir.join("root");
    fs::create_dir_all(root.join("dir")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
    fs::write(root.join("dir/index.html"), "<p>dir index</p>\n").unwrap();
    fs::write(dir.join("secret.txt"), SECRET).unwrap();
    (dir, s(&root))
}

/// `<tmp>/root/` as a small site: an index at the top and in `sub/`, a few typed files, and
/// symlinks pointing out of it (to `<tmp>/secret.txt` and `<tmp>/outside/secret.txt`).
/// Returns the root.
pub fn site() -> PathBuf {
    let base = tmpdir("site");
    let root = base.join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    fs::write(root.join("index.html"), "<h1>root index</h1>\n").unwrap();
    fs::write(root.join("style.css"), "body { color: red; }\n").unwrap();
    fs::write(root.join("notes.txt"), "plain notes\n").unwrap();
    fs::write(root.join("sub").join("index.html"), "<h1>sub index</h1>\n").unwrap();
    fs::write(root.join("sub").join("page.txt"), "sub page\n").unwrap();
    fs::write(root.join("a").join("inner.txt"), "inner\n").unwrap();
    fs::write(base.join("secret.txt"), SECRET).unwrap();
    fs::write(base.join("outside").join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(base.join("outside"), root.join("link")).unwrap();
    std::os::unix::fs::symlink(base.join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel-leak.txt")).unwrap();
    root
}

/// `0123456789` repeated to `n` bytes.
pub fn digits(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'0' + (i % 10) as u8).collect()
}

/// Bytes that differ with their position (no short period), so a wrong offset shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Above the in-memory cache threshold (256 KiB) by far: always streamed from the file.
pub const BIG: usize = 5 * 1024 * 1024 + 13;

/// `<tmp>/root/` with `big.bin` (`BIG` patterned bytes) and a small `hello.txt`; the root and
/// the content of `big.bin`.
pub fn big_site(name: &str) -> (PathBuf, Vec<u8>) {
    let root = tmpdir(name).join("root");
    fs::create_dir_all(&root).unwrap();
    let content = pattern(BIG);
    fs::write(root.join("big.bin"), &content).unwrap();
    fs::write(root.join("hello.txt"), "hello\n").unwrap();
    (root, content)
}
