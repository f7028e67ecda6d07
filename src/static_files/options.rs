//! How files are served, the same for every mount: what `--static-max-age`,
//! `--static-dotfiles` and `--static-autoindex` say, in the form a response needs.

use bytes::Bytes;

/// How files are served; one copy per worker, built from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--static-max-age`: the `Cache-Control` line for ordinary files (empty without it).
    pub cache_control: Bytes,
    /// The same with `immutable`, for names carrying a content hash.
    pub cache_control_immutable: Bytes,
    /// `--static-dotfiles`: names starting with `.` are served.
    pub dotfiles: bool,
    /// `--static-autoindex`: a directory without `index.html` gets a listing.
    pub autoindex: bool,
}

impl Options {
    pub fn new(max_age: Option<u64>, dotfiles: bool, autoindex: bool) -> Options {
        let value = |extra: &str| {
            max_age.map_or_else(Bytes::new, |n| {
                Bytes::from(format!("Cache-Control: public, max-age={n}{extra}\r\n"))
            })
        };
        Options {
            cache_control: value(""),
            cache_control_immutable: value(", immutable"),
            dotfiles,
            autoindex,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::new(None, false, false)
    }
}
