//! gunicorn's settings (a `gunicorn.conf.py`) read with gunicorn's meaning: each name maps to
//! the pyrite flag of the same meaning, or is a hook, or is one pyrite does not have — ignored
//! with a warning naming it, or refused where ignoring it would be unsafe (a TLS certificate
//! served as plain HTTP, a daemon that never detaches, a gevent app run without gevent). A
//! setting left at gunicorn's default says nothing. The README's table is this one.

use serde_json::Value;

pub use super::gunicorn_values::{convert, Convert};

/// What one gunicorn setting means to pyrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The pyrite flag (long name; `""` is the APP) of the same meaning.
    Flag(&'static str, Convert),
    /// As `Flag`, but refused (with this reason) when the flag is missing from this build.
    Needs(&'static str, Convert, &'static str),
    /// A function the file defines, called by pyrite (see `wsgi::hooks`).
    Hook,
    /// Not in pyrite; ignoring it is safe: a warning with this reason.
    Ignored(&'static str),
    /// Not in pyrite; ignoring it would change what is served or how: an error.
    Refused(&'static str),
    /// Read by pyrite itself (`worker_class`).
    Special,
    /// gunicorn's internals: never reported.
    Silent,
}

/// Every gunicorn setting (23.0): its name, what it means to pyrite, and gunicorn's default
/// as JSON (a value equal to it is not reported).
pub const SETTINGS: &[(&str, Meaning, &str)] = &[
    ("wsgi_app", Meaning::Flag("", Convert::Plain), "null"),
    (
        "bind",
        Meaning::Flag("bind", Convert::Each),
        r#"["127.0.0.1:8000"]"#,
    ),
    ("backlog", Meaning::Flag("backlog", Convert::Plain), "2048"),
    ("workers", Meaning::Flag("workers", Convert::Plain), "1"),
    ("worker_class", Meaning::Special, r#""sync""#),
    ("threads", Meaning::Flag("threads", Convert::Plain), "1"),
    (
        "worker_connections",
        Meaning::Flag("max-connections", Convert::Plain),
        "1000",
    ),
    (
        "max_requests",
        Meaning::Flag("max-requests", Convert::Plain),
        "0",
    ),
    (
        "max_requests_jitter",
        Meaning::Flag("max-requests-jitter", Convert::Plain),
        "0",
    ),
    ("timeout", Meaning::Flag("timeout", Convert::Plain), "30"),
    (
        "graceful_timeout",
        Meaning::Flag("graceful-timeout", Convert::Plain),
        "30",
    ),
    (
        "keepalive",
        Meaning::Flag("keep-alive", Convert::Plain),
        "2",
    ),
    (
        "limit_request_line",
        Meaning::Flag("limit-request-line", Convert::Plain),
        "4094",
    ),
    (
        "limit_request_fields",
        Meaning::Flag("limit-request-fields", Convert::Plain),
        "100",
    ),
    (
        "limit_request_field_size",
        Meaning::Flag("limit-request-field-size", Convert::Plain),
        "8190",
    ),
    ("reload", Meaning::Flag("reload", Convert::Switch), "false"),
    (
        "reload_engine",
        Meaning::Ignored("pyrite's reloader uses inotify"),
        r#""auto""#,
    ),
    (
        "reload_extra_files",
        Meaning::Flag("reload-extra-file", Convert::Each),
        "[]",
    ),
    (
        "spew",
        Meaning::Ignored("no tracing of every executed line"),
        "false",
    ),
    (
        "check_config",
        Meaning::Flag("check-config", Convert::Switch),
        "false",
    ),
    (
        "print_config",
        Meaning::Flag("print-config", Convert::Switch),
        "false",
    ),
    (
        "preload_app",
        Meaning::Flag("preload", Convert::Switch),
        "false",
    ),
    (
        "sendfile",
        Meaning::Ignored("large files always go out with sendfile(2)"),
        "null",
    ),
    (
        "reuse_port",
        Meaning::Flag("reuse-port", Convert::Switch),
        "false",
    ),
    ("chdir", Meaning::Flag("chdir", Convert::Plain), "null"),
    (
        "daemon",
        Meaning::Refused("pyrite does not detach; run it under systemd or another supervisor"),
        "false",
    ),
    ("raw_env", Meaning::Flag("env", Convert::Each), "[]"),
    ("pidfile", Meaning::Flag("pid", Convert::Plain), "null"),
    (
        "worker_tmp_dir",
        Meaning::Ignored("heartbeats live in shared memory, not in files"),
        "null",
    ),
    ("user", Meaning::Flag("user", Convert::Plain), "null"),
    ("group", Meaning::Flag("group", Convert::Plain), "null"),
    ("umask", Meaning::Flag("umask", Convert::Umask), "0"),
    (
        "initgroups",
        Meaning::Ignored("workers get no supplementary groups"),
        "false",
    ),
    (
        "tmp_upload_dir",
        Meaning::Ignored("request bodies spool to $TMPDIR"),
        "null",
    ),
    (
        "secure_scheme_headers",
        Meaning::Ignored("the scheme comes from Forwarded and X-Forwarded-Proto only"),
        r#"{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}"#,
    ),
    (
        "forwarded_allow_ips",
        Meaning::Flag("forwarded-allow-ips", Convert::Joined),
        r#""127.0.0.1,::1""#,
    ),
    (
        "pythonpath",
        Meaning::Flag("pythonpath", Convert::Joined),
        "null",
    ),
    (
        "paste",
        Meaning::Refused("PasteDeploy apps cannot be loaded; name the app as module:callable"),
        "null",
    ),
    (
        "raw_paste_global_conf",
        Meaning::Refused("PasteDeploy apps cannot be loaded"),
        "[]",
    ),
    (
        "proxy_protocol",
        Meaning::Flag("proxy-protocol", Convert::Switch),
        "false",
    ),
    (
        "proxy_allow_ips",
        Meaning::Ignored("PROXY protocol headers are read from --forwarded-allow-ips peers"),
        r#""127.0.0.1,::1""#,
    ),
    (
        "permit_obsolete_folding",
        Meaning::Ignored("pyrite stays strict (400)"),
        "false",
    ),
    (
        "strip_header_spaces",
        Meaning::Ignored("pyrite stays strict (400)"),
        "false",
    ),
    (
        "permit_unconventional_http_method",
        Meaning::Ignored("pyrite stays strict"),
        "false",
    ),
    (
        "permit_unconventional_http_version",
        Meaning::Ignored("pyrite stays strict (505)"),
        "false",
    ),
    (
        "casefold_http_method",
        Meaning::Ignored("methods are case-sensitive (RFC 9110 §9.1)"),
        "false",
    ),
    (
        "tolerate_dangerous_framing",
        Meaning::Ignored("pyrite stays strict (400)"),
        "false",
    ),
    (
        "forwarder_headers",
        Meaning::Ignored("SCRIPT_NAME comes from --script-name"),
        r#""SCRIPT_NAME,PATH_INFO""#,
    ),
    (
        "header_map",
        Meaning::Ignored("header names with '_' are always dropped"),
        r#""drop""#,
    ),
    (
        "accesslog",
        Meaning::Flag("access-logfile", Convert::Plain),
        "null",
    ),
    (
        "access_log_format",
        Meaning::Flag("access-logformat", Convert::Plain),
        r#""%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"""#,
    ),
    (
        "disable_redirect_access_to_syslog",
        Meaning::Ignored("no syslog"),
        "false",
    ),
    (
        "errorlog",
        Meaning::Flag("error-logfile", Convert::Plain),
        r#""-""#,
    ),
    (
        "loglevel",
        Meaning::Flag("log-level", Convert::Plain),
        r#""info""#,
    ),
    (
        "capture_output",
        Meaning::Ignored("print() goes to stdout; logging records reach the error log"),
        "false",
    ),
    (
        "logger_class",
        Meaning::Ignored("the error log is pyrite's own"),
        r#""gunicorn.glogging.Logger""#,
    ),
    (
        "logconfig",
        Meaning::Ignored("the error log is pyrite's own (--error-log-json for JSON)"),
        "null",
    ),
    (
        "logconfig_dict",
        Meaning::Ignored("the error log is pyrite's own (--error-log-json for JSON)"),
        "{}",
    ),
    (
        "logconfig_json",
        Meaning::Ignored("the error log is pyrite's own (--error-log-json for JSON)"),
        "null",
    ),
    (
        "syslog_addr",
        Meaning::Ignored("no syslog (journald reads stderr)"),
        r#""udp://localhost:514""#,
    ),
    (
        "syslog",
        Meaning::Ignored("no syslog (journald reads stderr)"),
        "false",
    ),
    ("syslog_prefix", Meaning::Ignored("no syslog"), "null"),
    (
        "syslog_facility",
        Meaning::Ignored("no syslog"),
        r#""user""#,
    ),
    (
        "enable_stdio_inheritance",
        Meaning::Ignored("stdio is always inherited"),
        "false",
    ),
    (
        "statsd_host",
        Meaning::Flag("statsd-host", Convert::Plain),
        "null",
    ),
    (
        "dogstatsd_tags",
        Meaning::Ignored("no DogStatsD tags"),
        r#""""#,
    ),
    (
        "statsd_prefix",
        Meaning::Flag("statsd-prefix", Convert::Plain),
        r#""""#,
    ),
    ("proc_name", Meaning::Flag("name", Convert::Plain), "null"),
    ("default_proc_name", Meaning::Silent, "null"),
    (
        "keyfile",
        Meaning::Needs(
            "keyfile",
            Convert::Plain,
            "this build has no TLS: it would serve plain HTTP",
        ),
        "null",
    ),
    (
        "certfile",
        Meaning::Needs(
            "certfile",
            Convert::Plain,
            "this build has no TLS: it would serve plain HTTP",
        ),
        "null",
    ),
    (
        "ca_certs",
        Meaning::Needs(
            "ca-certs",
            Convert::Plain,
            "this build has no TLS client certificates",
        ),
        "null",
    ),
    (
        "cert_reqs",
        Meaning::Needs(
            "cert-reqs",
            Convert::CertReqs,
            "this build has no TLS client certificates",
        ),
        "0",
    ),
    ("ssl_version", Meaning::Ignored("TLS 1.2 and 1.3 only"), "2"),
    (
        "ciphers",
        Meaning::Ignored("rustls chooses its cipher suites"),
        "null",
    ),
    (
        "suppress_ragged_eofs",
        Meaning::Ignored("rustls decides"),
        "true",
    ),
    (
        "do_handshake_on_connect",
        Meaning::Ignored("rustls decides"),
        "false",
    ),
    ("on_starting", Meaning::Hook, "null"),
    ("on_reload", Meaning::Hook, "null"),
    ("when_ready", Meaning::Hook, "null"),
    ("pre_fork", Meaning::Hook, "null"),
    ("post_fork", Meaning::Hook, "null"),
    ("post_worker_init", Meaning::Hook, "null"),
    ("worker_int", Meaning::Hook, "null"),
    ("worker_abort", Meaning::Hook, "null"),
    ("pre_exec", Meaning::Hook, "null"),
    ("pre_request", Meaning::Hook, "null"),
    ("post_request", Meaning::Hook, "null"),
    ("child_exit", Meaning::Hook, "null"),
    ("worker_exit", Meaning::Hook, "null"),
    ("nworkers_changed", Meaning::Hook, "null"),
    ("on_exit", Meaning::Hook, "null"),
    ("ssl_context", Meaning::Hook, "null"),
];

/// Hooks pyrite does not call, with why: defining one is a warning, or an error.
pub fn unsupported_hook(name: &str) -> Option<Result<&'static str, &'static str>> {
    match name {
        "worker_int" => Some(Ok(
            "never called: workers ignore SIGINT, and INT/QUIT to the master kill them",
        )),
        "ssl_context" => Some(Err(
            "TLS is set up by pyrite (rustls), not by a Python ssl.SSLContext",
        )),
        _ => None,
    }
}

pub fn lookup(name: &str) -> Option<(Meaning, &'static str)> {
    SETTINGS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, meaning, default)| (meaning, default))
}

/// Whether `value` is gunicorn's default for the setting (so nothing needs saying).
pub fn is_default(value: &Value, default: &str) -> bool {
    if value.is_null() {
        return true;
    }
    serde_json::from_str::<Value>(default).is_ok_and(|d| &d == value)
}

/// `worker_class`: gunicorn's sync and threaded workers are what pyrite's workers do; an
/// async worker (gevent, eventlet, tornado, an ASGI worker) means an app pyrite cannot run.
pub fn worker_class_ok(value: &Value) -> bool {
    let name = value.as_str().unwrap_or("");
    matches!(
        name,
        "sync"
            | "gthread"
            | "gunicorn.workers.sync.SyncWorker"
            | "gunicorn.workers.gthread.ThreadWorker"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_worker_classes() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert!(is_default(&v("2048"), "2048"));
        assert!(!is_default(&v("true"), "false"));
        assert!(worker_class_ok(&v(r#""gthread""#)));
        assert!(!worker_class_ok(&v(r#""gevent""#)));
    }

    #[test]
    fn every_setting_once() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.0).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len);
        for (name, _, default) in SETTINGS {
            assert!(serde_json::from_str::<Value>(default).is_ok(), "{name}");
        }
    }
}
