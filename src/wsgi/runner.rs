//! How the app is called for a request: on the runtime thread itself (the inline executor,
//! the default), or by a pool of Python threads (`--threads N`).

use super::app::App;
use super::executor::Executor;
use super::pool::{self, OwnedRequest};
use super::process;
use crate::http::{Body, RequestBody};
use pyo3::prelude::*;

/// How the app is called: on the runtime thread (default), or by a pool of Python threads.
pub enum Runner {
    Inline(Executor),
    Pool(pool::Pool),
}

impl Runner {
    /// `threads` ≤ 1 means inline; `timeout` is `--timeout` (the pool answers 504 itself).
    pub fn new(
        mut app: App,
        threads: usize,
        timeout: Option<std::time::Duration>,
    ) -> std::io::Result<Runner> {
        app.multithread = threads > 1;
        Python::attach(|py| process::arm(py, &app.hooks))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let executor = Executor::new(app).map_err(|e| std::io::Error::other(e.to_string()))?;
        if threads <= 1 {
            return Ok(Runner::Inline(executor));
        }
        Ok(Runner::Pool(pool::Pool::start(executor, threads, timeout)?))
    }

    /// Whether the decoded request `path` is inside the app's `--script-name` prefix.
    pub fn serves(&self, path: &[u8]) -> bool {
        match self {
            Runner::Inline(executor) => executor.serves(path),
            Runner::Pool(pool) => pool.executor().serves(path),
        }
    }

    pub async fn call(&self, mut request: Box<OwnedRequest>) -> http::Response<Body> {
        match self {
            Runner::Inline(executor) => {
                let body =
                    std::mem::replace(&mut request.body, RequestBody::Memory(Default::default()));
                executor.call_inline(request.info(body))
            }
            Runner::Pool(pool) => pool.call(request).await,
        }
    }
}
