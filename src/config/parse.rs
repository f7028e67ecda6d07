//! The values of single flags, each parsed and checked on its own: the app's `module:callable`,
//! a listening address, a static mount, a umask, a script name, a directory, a venv.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use super::error::ConfigError;
use crate::listener::BindAddr;
use crate::router::StaticMount;
use crate::wsgi::AppSpec;

/// The Python X.Y that libpython was linked against at build time.
pub const PYTHON_VERSION: &str = env!("PYRITE_PYTHON_VERSION");

pub fn parse_app(raw: &str) -> Result<AppSpec, ConfigError> {
    let err = || ConfigError::App(raw.to_owned());
    let (module, attr) = match raw.split_once(':') {
        Some((m, a)) => (m, a),
        None => (raw, "application"),
    };
    let (attr, factory) = match attr.strip_suffix("()") {
        Some(name) => (name, true),
        None => (attr, false),
    };
    let dotted_ok = |s: &str| !s.is_empty() && s.split('.').all(is_identifier);
    if !dotted_ok(module) || !dotted_ok(attr) {
        return Err(err());
    }
    Ok(AppSpec {
        module: module.to_owned(),
        attr: attr.to_owned(),
        factory,
    })
}

/// `--script-name`: empty, or a path starting with `/` with no `?`, `#` or control character;
/// a trailing `/` is dropped (`/app/` and `/app` mount the same).
pub fn parse_script_name(raw: &str) -> Result<String, ConfigError> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    if !raw.starts_with('/') || raw.contains(['?', '#']) || raw.chars().any(char::is_control) {
        return Err(ConfigError::ScriptName(raw.to_owned()));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A path made absolute against the starting directory, so `--chdir` does not move it.
pub fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

pub fn parse_umask(raw: &str) -> Result<u32, ConfigError> {
    let digits = raw.trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mask) if mask <= 0o777 && !digits.is_empty() => Ok(mask),
        _ => Err(ConfigError::Umask(raw.to_owned())),
    }
}

/// A `--bind` value's scheme: `Some(true)` for `https://`, `Some(false)` for `http://`, `None`
/// without one; and the address after it.
pub fn bind_scheme(raw: &str) -> (Option<bool>, &str) {
    if let Some(rest) = raw.strip_prefix("https://") {
        return (Some(true), rest.trim_end_matches('/'));
    }
    if let Some(rest) = raw.strip_prefix("http://") {
        return (Some(false), rest.trim_end_matches('/'));
    }
    (None, raw)
}

/// The port of `-b HOST` without one, as in gunicorn.
pub const DEFAULT_PORT: u16 = 8000;

/// `--log-level`: gunicorn's words (`debug info warning error critical`, and `warn`), any
/// case, or `trace`; also comma-separated `target=WORD` directives. Returns the `tracing`
/// filter. `critical` keeps errors only (`tracing` has no level above error).
pub fn parse_log_level(raw: &str) -> Result<String, ConfigError> {
    let word = |w: &str| match w.trim().to_ascii_lowercase().as_str() {
        "trace" => Some("trace"),
        "debug" => Some("debug"),
        "info" => Some("info"),
        "warning" | "warn" => Some("warn"),
        "error" | "critical" => Some("error"),
        _ => None,
    };
    let err = || ConfigError::LogLevel(raw.to_owned());
    let mut directives = Vec::new();
    for part in raw.split(',') {
        let directive = match part.split_once('=') {
            Some((target, level)) if !target.trim().is_empty() => {
                let target = target.trim();
                let ok = target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.'));
                if !ok {
                    return Err(err());
                }
                format!("{target}={}", word(level).ok_or_else(err)?)
            }
            Some(_) => return Err(err()),
            None => word(part).ok_or_else(err)?.to_owned(),
        };
        directives.push(directive);
    }
    Ok(directives.join(","))
}

/// A listening address, with gunicorn's forms: `HOST:PORT`, `HOST` (port 8000), `:PORT` (every
/// interface), `[IPv6]:PORT`, `[IPv6]`, `tcp://HOST:PORT`, `unix:PATH`, `unix://PATH`, `fd://N`.
pub fn parse_bind(raw: &str) -> Result<BindAddr, ConfigError> {
    let err = |why: &str| ConfigError::Bind(raw.to_owned(), why.to_owned());
    let (scheme, addr) = bind_scheme(raw);
    if scheme.is_some() {
        return match parse_bind(addr)? {
            BindAddr::Tcp(sa) => Ok(BindAddr::Tcp(sa)),
            _ => Err(err("http:// and https:// take HOST:PORT")),
        };
    }
    if let Some(fd) = raw.strip_prefix("fd://") {
        return match fd.parse::<i32>() {
            Ok(fd) if fd >= 0 => Ok(BindAddr::Fd(fd)),
            _ => Err(err("expected fd://N with N a file descriptor number")),
        };
    }
    if let Some(path) = raw.strip_prefix("unix:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(err("empty socket path"));
        }
        return Ok(BindAddr::Unix(PathBuf::from(path)));
    }
    let netloc = raw.strip_prefix("tcp://").unwrap_or(raw);
    let (host, port) =
        split_host_port(netloc).ok_or_else(|| err("expected HOST:PORT, HOST or unix:PATH"))?;
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| err("the port must be a number from 0 to 65535"))?,
    };
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(BindAddr::Tcp(SocketAddr::new(ip, port)));
    }
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| err(&e.to_string()))?;
    addrs
        .next()
        .map(BindAddr::Tcp)
        .ok_or_else(|| err("the host resolves to no address"))
}

/// `HOST:PORT` → (HOST, Some(PORT)); `HOST` → (HOST, None); `[V6]:PORT` and `[V6]` without
/// their brackets. `None` for a malformed bracket.
fn split_host_port(netloc: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = netloc.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    if netloc.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        return Some((netloc, None));
    }
    match netloc.split_once(':') {
        Some((host, port)) => Some((host, Some(port))),
        None => Some((netloc, None)),
    }
}

pub fn parse_static(raw: &str) -> Result<StaticMount, ConfigError> {
    let (prefix, dir) = raw
        .split_once('=')
        .ok_or_else(|| ConfigError::Static(raw.to_owned()))?;
    if !prefix.starts_with('/') || dir.is_empty() {
        return Err(ConfigError::Static(raw.to_owned()));
    }
    let dir = existing_dir("--static", Path::new(dir))?;
    let mut prefix = prefix.to_owned();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(StaticMount { prefix, dir })
}

/// Resolves a directory flag against the starting directory, so `--chdir` cannot change what
/// it names.
pub fn existing_dir(flag: &'static str, path: &Path) -> Result<PathBuf, ConfigError> {
    let err = |why: String| ConfigError::Path {
        flag,
        path: path.display().to_string(),
        why,
    };
    let canonical = path.canonicalize().map_err(|e| err(e.to_string()))?;
    if !canonical.is_dir() {
        return Err(err("not a directory".to_owned()));
    }
    Ok(canonical)
}

/// A venv must hold a `pyvenv.cfg` naming the same Python X.Y that pyrite links, and a
/// `bin/python` that becomes `sys.executable`.
pub fn check_venv(dir: &Path) -> Result<PathBuf, ConfigError> {
    let err = |why: String| ConfigError::Venv {
        path: dir.display().to_string(),
        why,
    };
    let dir = dir.canonicalize().map_err(|e| err(e.to_string()))?;
    let cfg = std::fs::read_to_string(dir.join("pyvenv.cfg"))
        .map_err(|e| err(format!("cannot read pyvenv.cfg: {e}")))?;
    let version =
        venv_version(&cfg).ok_or_else(|| err("pyvenv.cfg names no Python version".into()))?;
    if version != PYTHON_VERSION {
        return Err(err(format!(
            "the venv is for Python {version}, but pyrite is built with Python {PYTHON_VERSION}"
        )));
    }
    if !dir.join("bin/python").exists() {
        return Err(err("bin/python is missing".into()));
    }
    Ok(dir)
}

/// The X.Y of `version = X.Y.Z` (or `version_info`) in a pyvenv.cfg.
fn venv_version(cfg: &str) -> Option<String> {
    cfg.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if !matches!(key.trim(), "version" | "version_info") {
            return None;
        }
        let mut parts = value.trim().split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_specs() {
        let spec = parse_app("pkg.mod:app").unwrap();
        assert_eq!(
            (spec.module.as_str(), spec.attr.as_str(), spec.factory),
            ("pkg.mod", "app", false)
        );
        let spec = parse_app("mod").unwrap();
        assert_eq!(spec.attr, "application");
        assert!(parse_app("mod:create_app()").unwrap().factory);
        for bad in [
            "",
            ":app",
            "mod:",
            "1mod:app",
            "mod:app-x",
            "a..b:c",
            "mod:a b",
        ] {
            assert!(parse_app(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binds() {
        assert_eq!(
            parse_bind("127.0.0.1:80").unwrap(),
            BindAddr::Tcp("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            parse_bind("[::1]:0").unwrap(),
            BindAddr::Tcp("[::1]:0".parse().unwrap())
        );
        assert_eq!(
            parse_bind("unix:/tmp/s").unwrap(),
            BindAddr::Unix("/tmp/s".into())
        );
        assert_eq!(
            parse_bind("https://127.0.0.1:443").unwrap(),
            BindAddr::Tcp("127.0.0.1:443".parse().unwrap())
        );
        assert_eq!(
            bind_scheme("https://[::1]:8443/"),
            (Some(true), "[::1]:8443")
        );
        assert_eq!(bind_scheme("http://x:1"), (Some(false), "x:1"));
        assert_eq!(bind_scheme("x:1"), (None, "x:1"));
        // gunicorn's forms: a host alone means port 8000, `:PORT` every interface.
        assert_eq!(
            parse_bind("127.0.0.1").unwrap(),
            BindAddr::Tcp("127.0.0.1:8000".parse().unwrap())
        );
        assert_eq!(
            parse_bind("[::1]").unwrap(),
            BindAddr::Tcp("[::1]:8000".parse().unwrap())
        );
        assert_eq!(
            parse_bind(":9000").unwrap(),
            BindAddr::Tcp("0.0.0.0:9000".parse().unwrap())
        );
        assert_eq!(
            parse_bind("tcp://127.0.0.1:81").unwrap(),
            BindAddr::Tcp("127.0.0.1:81".parse().unwrap())
        );
        assert_eq!(
            parse_bind("unix:///tmp/s").unwrap(),
            BindAddr::Unix("/tmp/s".into())
        );
        for bad in [
            "127.0.0.1:99999",
            "unix:",
            "host:port",
            "127.0.0.1:",
            "[::1",
            "https://unix:/tmp/s",
        ] {
            assert!(parse_bind(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_levels() {
        assert_eq!(parse_log_level("warning").unwrap(), "warn");
        assert_eq!(parse_log_level("WARN").unwrap(), "warn");
        assert_eq!(parse_log_level("critical").unwrap(), "error");
        assert_eq!(parse_log_level("Debug").unwrap(), "debug");
        assert_eq!(
            parse_log_level("info,pyrite::http=debug").unwrap(),
            "info,pyrite::http=debug"
        );
        for bad in [
            "",
            "verbose",
            "warnings",
            "pyrite=loud",
            "=debug",
            "a b=debug",
        ] {
            assert!(parse_log_level(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn venv_versions() {
        assert_eq!(
            venv_version("home = /x\nversion = 3.11.7\n").as_deref(),
            Some("3.11")
        );
        assert_eq!(
            venv_version("version_info = 3.12.1.final.0").as_deref(),
            Some("3.12")
        );
        assert_eq!(venv_version("home = /x"), None);
    }

    #[test]
    fn umasks() {
        assert_eq!(parse_umask("022").unwrap(), 0o22);
        assert_eq!(parse_umask("0o077").unwrap(), 0o77);
        for bad in ["", "8", "1000", "abc"] {
            assert!(parse_umask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn script_names() {
        assert_eq!(parse_script_name("").unwrap(), "");
        assert_eq!(parse_script_name("/").unwrap(), "");
        assert_eq!(parse_script_name("/app/").unwrap(), "/app");
        assert_eq!(parse_script_name("/a/b").unwrap(), "/a/b");
        for bad in ["app", "/a?b", "/a\nb"] {
            assert!(parse_script_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("_a1"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier(""));
    }
}
