//! The service every connection of a worker calls, whatever protocol it speaks: one request →
//! one response. The router picks a static file (answered here and now, never touching Python)
//! or the app, whose response comes later through the WSGI bridge: the body read completely
//! first, then the app called (at once, with no future, when there is no body to wait for and
//! the app runs on this thread). Before any route, `health` answers the health probe from the
//! worker's own state.

mod health;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use http::header::{HeaderValue, CONNECTION};
use http::{Method, Response, StatusCode};

use crate::http::incoming::Incoming;
use crate::http::request_body::{self, BodyReadError};
use crate::http::{pages, Body, ConnInfo, Head, Known, Reply, Request, RequestBody, Service};
use crate::router::{Route, Router};
use crate::static_files;
use crate::wsgi::{OwnedRequest, RequestInfo, Runner};

pub use health::Health;

/// What the service needs besides its routes (`config` builds it).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--limit-request-body`; `None` means unlimited.
    pub limit_request_body: Option<u64>,
    /// `--body-memory`: bytes of request bodies one worker holds in memory while reading them;
    /// past it, bodies go to disk.
    pub body_memory: usize,
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
    fn dispatch(&self, req: Request) -> Result<Response<Body>, Request> {
        if let Some(response) = self.health.answer(&req) {
            return Ok(response);
        }
        let route = self.router.route(req.head.path());
        tracing::debug!(route = ?route, "routed");
        match route {
            Route::File {
                root,
                rel,
                fallback_to_app,
            } => {
                let method = &req.head.method;
                let servable = !fallback_to_app || method == Method::GET || method == Method::HEAD;
                if let Some(response) = servable
                    .then(|| static_files::serve(&req.head, root, rel, &self.static_files))
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
    fn call(&self, req: Request, conn: &Rc<ConnInfo>) -> Reply<Self::Later> {
        match self.dispatch(req) {
            Ok(response) => {
                not_an_app_call();
                Reply::Ready(response)
            }
            Err(req) => match &self.app {
                Some(app) => app.call(req, conn),
                None => Reply::Ready(pages::error(StatusCode::NOT_FOUND)),
            },
        }
    }
}

/// The loop goes on to serve something that runs no Python: the GIL it kept from the last inline
/// app call goes back now, so that a flood of files, probes or error pages (which may never let
/// the loop park) cannot starve the app's own threads (a scheduler, an error reporter's sender).
/// A thread-local check when the GIL is not held.
#[inline]
fn not_an_app_call() {
    crate::wsgi::release_held_gil();
}

impl AppSide {
    /// Answers a request for the app: at once when there is no body to wait for and the app
    /// runs on this thread (no future is built), else in a future that reads the body first.
    fn call(
        self: &Rc<Self>,
        req: Request,
        conn: &Rc<ConnInfo>,
    ) -> Reply<Pin<Box<dyn Future<Output = Response<Body>>>>> {
        let Request {
            head,
            body,
            client: peer,
            scheme: url_scheme,
        } = req;
        // Decoded once, for the `--script-name` check and the environ.
        let path = crate::text::decode_path(head.path());
        if let Some(refused) = self.refuse(&head, &path, &body) {
            not_an_app_call();
            return Reply::Ready(by_app(refused));
        }
        let has_body = head.fields.contains(Known::ContentLength)
            || head.fields.contains(Known::TransferEncoding);
        if body.is_end_stream() {
            if let Runner::Inline(executor) = &self.runner {
                return Reply::Ready(by_app(executor.call_inline(RequestInfo {
                    head: &head,
                    path: &path,
                    peer,
                    local: conn.local,
                    body: RequestBody::Memory(Default::default()),
                    has_body,
                    url_scheme,
                    tls: conn.tls.as_deref(),
                })));
            }
        }
        // Boxed once here: from now on the request moves as a pointer (into the pool's job).
        let path = match path {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(decoded) => Some(decoded),
        };
        let mut request = Box::new(OwnedRequest {
            head,
            path,
            peer,
            local: conn.local,
            body: RequestBody::Memory(Default::default()),
            has_body,
            url_scheme,
            tls: conn.tls.clone(),
        });
        let app = self.clone();
        // Without a body to read, the future carries no state for reading one.
        if body.is_end_stream() {
            return Reply::Later(Box::pin(
                async move { by_app(app.runner.call(request).await) },
            ));
        }
        Reply::Later(Box::pin(async move {
            request.body = match app.read_body(body).await {
                Ok(body) => body,
                Err(refused) => return by_app(refused),
            };
            by_app(app.runner.call(request).await)
        }))
    }

    /// What is refused before any of the body is read: an expectation other than
    /// `100-continue` (RFC 9110 §10.1.1: `100 Continue` itself goes out when the body is first
    /// read), a declared length over the limit (§15.5.14, before `100 Continue`), a path
    /// outside `--script-name` (`path` is the request's, decoded).
    fn refuse(&self, head: &Head, path: &[u8], body: &Incoming) -> Option<Response<Body>> {
        if let Some(expect) = head.fields.get(Known::Expect) {
            if !expect.eq_ignore_ascii_case(b"100-continue") {
                return Some(closing(pages::error(StatusCode::EXPECTATION_FAILED)));
            }
        }
        if let (Some(limit), Some(len)) = (self.settings.limit_request_body, body.declared_length())
        {
            if len > limit {
                return Some(closing(pages::error(StatusCode::PAYLOAD_TOO_LARGE)));
            }
        }
        if !self.runner.serves(path) {
            return Some(pages::error(StatusCode::NOT_FOUND));
        }
        None
    }

    /// Reads the whole body (in memory, or spooled to a file); a failure is the response.
    async fn read_body(&self, body: Incoming) -> Result<RequestBody, Response<Body>> {
        let limit = self.settings.limit_request_body;
        match request_body::read(body, limit, self.settings.body_memory).await {
            Ok(body) => Ok(body),
            Err(BodyReadError::TooLarge) => {
                Err(closing(pages::error(StatusCode::PAYLOAD_TOO_LARGE)))
            }
            Err(BodyReadError::Read(err)) => {
                tracing::debug!(error = %err, "bad request body");
                Err(closing(pages::error(err.status())))
            }
            Err(err @ BodyReadError::Spool(_)) => {
                tracing::error!(error = %err, "cannot store the request body");
                Err(closing(pages::error(StatusCode::INTERNAL_SERVER_ERROR)))
            }
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            limit_request_body: None,
            body_memory: 32 * 1024 * 1024,
            health_path: None,
        }
    }
}

/// Marks a response as the app's (the route kind of the metrics), whoever wrote it.
#[inline]
fn by_app(mut response: Response<Body>) -> Response<Body> {
    response.body_mut().rendered_mut().by_app = true;
    response
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
