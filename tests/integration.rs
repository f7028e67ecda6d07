//! The integration tests, one binary: every suite drives the real `pyrite` executable over
//! real sockets through the one harness in `support/`, with the apps of `tests/apps`.
//! Suites are named by feature; filter with e.g. `cargo nextest run -E 'test(/^http::/)'`.
//! One binary rather than one per suite (`autotests = false`, as ripgrep does): the harness is
//! compiled and the tests are linked once, which roughly halved `cargo build --tests`; nextest
//! still runs every test in a process of its own.
//!
//! - `cli`: flags, their `PYRITE_*` twins, exit codes, app specs, python paths, venvs, binds
//! - `http`: the HTTP/1.1 codec: framing, strict parsing, limits, proxies, timeouts
//! - `static_files`: files, paths and traversal, caching, ranges, sendfile, routing to the app
//! - `wsgi`: the PEP 3333 bridge: request, response, environ, a real Python, the thread pool
//! - `supervision`: the master: signals, respawn, timeouts, recycling, reload, upgrade,
//!   preload, process hygiene
//! - `tls`: HTTPS, HTTP/2 with real clients, and the attacks on HTTP/2
//! - `logs`: the access log and the error log
//! - `balancer`: the graceful stop behind a balancer (health probe, drain, listen queue), and
//!   rolling restarts through nginx and HAProxy in network namespaces
//! - `ops`: operations: log levels, configuration files, hooks, metrics, readiness, the
//!   command-line forms gunicorn has
//! - `seed`, `frameworks`: the demo in `examples/seed`, and real framework apps from a venv

mod support;

mod balancer;
mod cli;
mod frameworks;
mod http;
mod logs;
mod ops;
mod seed;
mod static_files;
mod supervision;
mod tls;
mod wsgi;
