//! The health probe (`--health-path`): a path the worker answers itself, before any route and
//! without calling the app — 200 while it serves, 503 with `Connection: close` once it drains
//! or closes — so a balancer (HAProxy `option httpchk`, a Kubernetes readiness probe, a
//! controller in front of nginx) takes an instance out before it stops taking connections.
//! With the inline executor the probe is answered as soon as the worker's loop comes round,
//! even while the app keeps other connections busy; with `--threads` at once. The state it
//! reports, [`Health::serving`], is there for anything else that tells the world (readiness
//! notifications, metrics).

use http::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Response, StatusCode};
use tokio::sync::watch;

use crate::http::{Body, Phase, Request};

/// The probe of one worker: its path (none: no probe) and the worker's phase.
pub struct Health {
    path: Option<Box<str>>,
    phase: watch::Receiver<Phase>,
}

impl Health {
    pub fn new(path: Option<String>, phase: watch::Receiver<Phase>) -> Health {
        Health {
            path: path.map(String::into_boxed_str),
            phase,
        }
    }

    /// Whether this worker serves normally (no stop has begun).
    pub fn serving(&self) -> bool {
        self.phase.borrow().healthy()
    }

    /// The probe's answer, if `req` asks for it. GET and HEAD get the state; other methods 405.
    #[inline]
    pub fn answer(&self, req: &Request) -> Option<Response<Body>> {
        let path = self.path.as_deref()?;
        if req.head.path() != path {
            return None;
        }
        Some(self.respond(&req.head.method))
    }

    fn respond(&self, method: &Method) -> Response<Body> {
        let serving = self.serving();
        let (status, text): (_, &'static [u8]) =
            if *method != Method::GET && *method != Method::HEAD {
                (StatusCode::METHOD_NOT_ALLOWED, b"GET or HEAD\n")
            } else if serving {
                (StatusCode::OK, b"ok\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, b"stopping\n")
            };
        let mut response = Response::new(Body::full(bytes::Bytes::from_static(text)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        if !serving {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}
