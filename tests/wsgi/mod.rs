//! The WSGI bridge (PEP 3333), over real sockets: bodies, framing and app errors (`bridge`),
//! the request side (`request`) and the response side (`response`) against the corner cases of
//! `tests/apps/pep_corners.py`, the environ (`environ`), a Python that behaves like Python
//! (`process`), all of it under `wsgiref.validate` (`validator`), the thread pool (`pool`), a
//! generator's blocks reaching the client while the app is slow to yield more (`streaming`), and
//! large bodies in and out (`large_bodies`).

mod app_threads;
mod bridge;
mod environ;
mod held;
mod large_bodies;
mod pool;
mod process;
mod request;
mod response;
mod streaming;
mod validator;
