//! The service every connection of a worker calls, whatever protocol it speaks: one request →
//! one response. The router picks a static file (answered here and now, never touching Python)
//! or the app, whose response comes later through the WSGI bridge: the body read completely
//! first, then the app called (at once, with no future, when there is no body to wait for and
//! the app runs on this thread).

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

/// What the service needs besides its routes (`config` builds it).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--limit-request-body`; `None` means unlimited.
    pub limit_request_body: Option<u64>,
}

/// Routes each request to a static file or the app.
pub struct Dispatcher {
    router: Router,
    /// How files are served, the same for every mount.
    static_files: static_files::Options,
    /// The app's side, shared with the future of each app call; `None` without an app.
    app: Option<Rc<AppSide>>,
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
    ) -> Dispatcher {
        Dispatcher {
            router,
            static_files,
            app: runner.map(|runner| Rc::new(AppSide { runner, settings })),
        }
    }

    /// The response for a file or an error page; the request back when the app is to answer it
    /// (moved, not boxed: no allocation on the way).
    #[allow(clippy::result_large_err)]
    #[inline]
    fn dispatch(&self, req: Request) -> Result<Response<Body>, Request> {
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
            Ok(response) => Reply::Ready(response),
            Err(req) => match &self.app {
                Some(app) => app.call(req, conn),
                None => Reply::Ready(pages::error(StatusCode::NOT_FOUND)),
            },
        }
    }
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
        if let Some(refused) = self.refuse(&head, &body) {
            return Reply::Ready(refused);
        }
        let has_body = head.fields.contains(Known::ContentLength)
            || head.fields.contains(Known::TransferEncoding);
        if body.is_end_stream() {
            if let Runner::Inline(executor) = &self.runner {
                let path = crate::text::decode_path(head.path());
                return Reply::Ready(executor.call(RequestInfo {
                    head: &head,
                    path: &path,
                    peer,
                    local: conn.local,
                    body: RequestBody::Memory(Default::default()),
                    has_body,
                    url_scheme,
                }));
            }
        }
        let app = self.clone();
        let local = conn.local;
        Reply::Later(Box::pin(async move {
            let body = match app.read_body(body).await {
                Ok(body) => body,
                Err(refused) => return refused,
            };
            let path = crate::text::decode_path(head.path()).into_owned();
            app.runner
                .call(OwnedRequest {
                    head,
                    path,
                    peer,
                    local,
                    body,
                    has_body,
                    url_scheme,
                })
                .await
        }))
    }

    /// What is refused before any of the body is read: an expectation other than
    /// `100-continue` (RFC 9110 §10.1.1: `100 Continue` itself goes out when the body is first
    /// read), a declared length over the limit (§15.5.14, before `100 Continue`), a path
    /// outside `--script-name`.
    fn refuse(&self, head: &Head, body: &Incoming) -> Option<Response<Body>> {
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
        if !self.runner.serves(&crate::text::decode_path(head.path())) {
            return Some(pages::error(StatusCode::NOT_FOUND));
        }
        None
    }

    /// Reads the whole body (in memory, or spooled to a file); a failure is the response.
    async fn read_body(&self, body: Incoming) -> Result<RequestBody, Response<Body>> {
        match request_body::read(body, self.settings.limit_request_body).await {
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

/// Marks a response as the last on its connection (framing of what follows is in doubt).
fn closing(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
