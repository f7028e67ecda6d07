//! The service every connection of a worker calls, whatever protocol it speaks: one request →
//! one response. The router picks a static file (answered here and now, never touching Python)
//! or the app, whose response comes later through the WSGI bridge: the body read completely
//! first, what trusted proxies say about the client believed, then the app called. Before any
//! route, `health` answers the health probe from the worker's own state.

mod health;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{Method, Request, Response, StatusCode};

use crate::http::forwarded::{self, AllowList};
use crate::http::incoming::Incoming;
use crate::http::request_body::{self, BodyReadError};
use crate::http::{pages, Body, ConnInfo, Reply, Service};
use crate::router::{Route, Router};
use crate::static_files;
use crate::wsgi::{OwnedRequest, Runner};

pub use health::Health;

/// What the service needs besides its routes (`config` builds it).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--limit-request-body`; `None` means unlimited.
    pub limit_request_body: Option<u64>,
    /// `--body-memory`: bytes of request bodies one worker holds in memory while reading them;
    /// past it, bodies go to disk.
    pub body_memory: usize,
    /// Peers whose forwarding headers are believed (`--forwarded-allow-ips`).
    pub forwarded_allow: AllowList,
    /// The path of the health probe (`--health-path`); none by default.
    pub health_path: Option<String>,
}

/// Routes each request to a static file or the app.
pub struct Dispatcher {
    router: Router,
    /// How files are served, the same for every mount.
    static_files: static_files::Options,
    /// The app's side, shared with the future of each app call; `None` without an app.
    app: Option<Rc<AppSide>>,
    health: Health,
}

struct AppSide {
    runner: Runner,
    settings: Settings,
}

impl Dispatcher {
    pub fn new(
        router: Router,
        static_files: static_files::Options,
        runner: Option<Runner>,
        settings: Settings,
        health: Health,
    ) -> Dispatcher {
        Dispatcher {
            router,
            static_files,
            app: runner.map(|runner| Rc::new(AppSide { runner, settings })),
            health,
        }
    }

    /// The response for a file or an error page; the request back when the app is to answer it
    /// (moved, not boxed: no allocation on the way).
    #[allow(clippy::result_large_err)]
    #[inline]
    fn dispatch(&self, req: Request<Incoming>) -> Result<Response<Body>, Request<Incoming>> {
        if let Some(response) = self.health.answer(&req) {
            return Ok(response);
        }
        let route = self.router.route(req.uri().path());
        tracing::debug!(route = ?route, "routed");
        match route {
            Route::File {
                root,
                rel,
                fallback_to_app,
            } => {
                let servable =
                    !fallback_to_app || req.method() == Method::GET || req.method() == Method::HEAD;
                if let Some(response) = servable
                    .then(|| static_files::serve(&req, root, rel, &self.static_files))
                    .flatten()
                {
                    return Ok(response);
                }
                if fallback_to_app {
                    Err(req)
                } else {
                    Ok(pages::error(StatusCode::NOT_FOUND))
                }
            }
            Route::App => Err(req),
            Route::NotFound => Ok(pages::error(StatusCode::NOT_FOUND)),
        }
    }
}

impl Service for Dispatcher {
    /// Boxed: the app's future is a few KiB, which a static hit should not have to carry (and
    /// copy) through the connection's own future.
    type Later = Pin<Box<dyn Future<Output = Response<Body>>>>;

    #[inline]
    fn call(&self, req: Request<Incoming>, conn: &Rc<ConnInfo>) -> Reply<Self::Later> {
        match self.dispatch(req) {
            Ok(response) => Reply::Ready(response),
            Err(req) => match &self.app {
                Some(app) => {
                    let app = app.clone();
                    let conn = conn.clone();
                    Reply::Later(Box::pin(async move { app.call(req, &conn).await }))
                }
                None => Reply::Ready(pages::error(StatusCode::NOT_FOUND)),
            },
        }
    }
}

impl AppSide {
    async fn call(&self, req: Request<Incoming>, conn: &ConnInfo) -> Response<Body> {
        let (mut parts, incoming) = req.into_parts();
        // RFC 9110 §10.1.1: `100 Continue` goes out when the body is first read (below, before
        // the app runs); any other expectation cannot be met.
        if let Some(expect) = parts.headers.get(EXPECT) {
            if !expect.as_bytes().eq_ignore_ascii_case(b"100-continue") {
                return closing(pages::error(StatusCode::EXPECTATION_FAILED));
            }
        }
        let limit = self.settings.limit_request_body;
        let declared = incoming.declared_length();
        // RFC 9110 §15.5.14: refused before a byte of the body is read (and before 100 Continue).
        if let (Some(limit), Some(len)) = (limit, declared) {
            if len > limit {
                return closing(pages::error(StatusCode::PAYLOAD_TOO_LARGE));
            }
        }
        let path = crate::text::decode_path(parts.uri.path());
        // Outside `--script-name`: a 404 before any body is read (nor `100 Continue` sent).
        if !self.runner.serves(&path) {
            return pages::error(StatusCode::NOT_FOUND);
        }
        let has_body = parts.headers.contains_key(CONTENT_LENGTH)
            || parts.headers.contains_key(TRANSFER_ENCODING);
        let body = match request_body::read(incoming, limit, self.settings.body_memory).await {
            Ok(body) => body,
            Err(BodyReadError::TooLarge) => {
                return closing(pages::error(StatusCode::PAYLOAD_TOO_LARGE))
            }
            Err(BodyReadError::Read(err)) => {
                tracing::debug!(error = %err, "bad request body");
                return closing(pages::error(err.status()));
            }
            Err(err @ BodyReadError::Spool(_)) => {
                tracing::error!(error = %err, "cannot store the request body");
                return closing(pages::error(StatusCode::INTERNAL_SERVER_ERROR));
            }
        };
        let mut peer = conn.peer;
        let mut url_scheme = if conn.tls.is_some() { "https" } else { "http" };
        let allow = &self.settings.forwarded_allow;
        if conn.trusted(allow) {
            let told = forwarded::resolve(&parts.headers, allow);
            peer = told.client.or(peer);
            url_scheme = told.scheme.unwrap_or(url_scheme);
            if let Some(host) = told.host {
                parts.headers.insert(HOST, host);
            }
        }
        self.runner
            .call(OwnedRequest {
                parts,
                path,
                peer,
                local: conn.local,
                body,
                has_body,
                url_scheme,
                tls: conn.tls.clone(),
            })
            .await
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            limit_request_body: None,
            body_memory: 32 * 1024 * 1024,
            forwarded_allow: AllowList::default(),
            health_path: None,
        }
    }
}

/// Marks a response as the last on its connection (framing of what follows is in doubt); the
/// server refused the request itself.
fn closing(mut response: Response<Body>) -> Response<Body> {
    crate::metrics::refused(response.status().as_u16());
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
