//! Chooses, per request path, between a static file and the app (DESIGN.md "Routing"):
//! `--static PREFIX=DIR` mounts first, then `--app-suffix`, then `--docroot` with the app as
//! fallback.

use std::path::{Path, PathBuf};

/// `--static PREFIX=DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMount {
    /// Always starts and ends with `/`.
    pub prefix: String,
    pub dir: PathBuf,
}

/// How request paths are split between files and the app (DESIGN.md "Routing").
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    pub docroot: Option<PathBuf>,
    pub statics: Vec<StaticMount>,
    pub app_suffix: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// A file under `root`; `rel` is the raw path below it. When no file is there, the request
    /// goes to the app if `fallback_to_app`, else it is a 404.
    File {
        root: &'a Path,
        rel: &'a str,
        fallback_to_app: bool,
    },
    App,
    NotFound,
}

pub struct Router {
    mounts: Mounts,
    has_app: bool,
}

impl Router {
    pub fn new(mounts: Mounts, has_app: bool) -> Router {
        Router { mounts, has_app }
    }

    /// `path` is the request path as received (still percent-encoded).
    pub fn route<'a>(&'a self, path: &'a str) -> Route<'a> {
        // `OPTIONS *` (RFC 9112 §3.2.4) asks about the server as a whole: no file, the app's.
        if path == "*" {
            return if self.has_app {
                Route::App
            } else {
                Route::NotFound
            };
        }
        for mount in &self.mounts.statics {
            let bare = &mount.prefix[..mount.prefix.len() - 1];
            if let Some(rel) = path
                .strip_prefix(bare)
                .filter(|r| r.is_empty() || r.starts_with('/'))
            {
                return Route::File {
                    root: &mount.dir,
                    rel,
                    fallback_to_app: false,
                };
            }
        }
        if let Some(suffix) = &self.mounts.app_suffix {
            let decoded = crate::text::decode_path(path);
            if decoded.ends_with(suffix.as_bytes()) {
                return if self.has_app {
                    Route::App
                } else {
                    Route::NotFound
                };
            }
            return match &self.mounts.docroot {
                Some(root) => Route::File {
                    root,
                    rel: path,
                    fallback_to_app: false,
                },
                None => Route::NotFound,
            };
        }
        match &self.mounts.docroot {
            Some(root) => Route::File {
                root,
                rel: path,
                fallback_to_app: self.has_app,
            },
            None if self.has_app => Route::App,
            None => Route::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(docroot: bool, suffix: Option<&str>) -> Mounts {
        Mounts {
            docroot: docroot.then(|| PathBuf::from("/srv/html")),
            statics: vec![StaticMount {
                prefix: "/static/".into(),
                dir: PathBuf::from("/srv/static"),
            }],
            app_suffix: suffix.map(str::to_owned),
        }
    }

    #[test]
    fn static_mounts_come_first() {
        let router = Router::new(mounts(true, None), true);
        let root = Path::new("/srv/static");
        assert_eq!(
            router.route("/static/a.css"),
            Route::File {
                root,
                rel: "/a.css",
                fallback_to_app: false
            }
        );
        assert_eq!(
            router.route("/static"),
            Route::File {
                root,
                rel: "",
                fallback_to_app: false
            }
        );
        assert!(matches!(
            router.route("/staticx"),
            Route::File {
                fallback_to_app: true,
                ..
            }
        ));
    }

    #[test]
    fn suffix_rule() {
        let router = Router::new(mounts(true, Some(".py")), true);
        assert_eq!(router.route("/app.py"), Route::App);
        assert_eq!(router.route("/dir/app%2Epy"), Route::App);
        assert!(matches!(
            router.route("/index.html"),
            Route::File {
                fallback_to_app: false,
                ..
            }
        ));
        let no_app = Router::new(mounts(false, Some(".py")), false);
        assert_eq!(no_app.route("/app.py"), Route::NotFound);
        assert_eq!(no_app.route("/x.html"), Route::NotFound);
    }

    #[test]
    fn asterisk_form_goes_to_the_app() {
        assert_eq!(
            Router::new(mounts(true, Some(".py")), true).route("*"),
            Route::App
        );
        assert_eq!(
            Router::new(mounts(true, None), false).route("*"),
            Route::NotFound
        );
    }

    #[test]
    fn app_only() {
        let router = Router::new(mounts(false, None), true);
        assert_eq!(router.route("/anything"), Route::App);
        let nothing = Router::new(Mounts::default(), false);
        assert_eq!(nothing.route("/"), Route::NotFound);
    }
}
