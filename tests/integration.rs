//! The integration tests, one binary: every suite drives the real `pyrite` executable over
//! real sockets through the one harness in `support/`, with the apps of `tests/apps`.
//! Suites are named by feature; filter with e.g. `cargo nextest run -E 'test(/^http::/)'`.

mod support;

mod cli;
mod frameworks;
mod http;
mod seed;
mod static_files;
mod wsgi;
