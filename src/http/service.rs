//! One request → one response: route it, then serve a file or call the app. Every response
//! carries its access-log line, written when the body is done.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::{Method, Request, Response, StatusCode, Version};

use super::conn::Settings;
use super::forwarded::{self, AllowList};
use super::incoming::Incoming;
use super::request_body::{self, BodyReadError};
use super::{pages, AccessLog, Body};
use crate::router::{Route, Router};
use crate::static_files;
use crate::wsgi::{OwnedRequest, Runner};

/// What every connection of a worker shares.
pub struct Service {
    pub router: Router,
    /// How files are served, the same for every mount.
    pub static_files: static_files::Options,
    pub executor: Option<Runner>,
    pub limit_request_body: Option<u64>,
    pub lifecycle: Rc<crate::worker::Lifecycle>,
    /// Parsing limits, timeouts and response options of every connection.
    pub http: Settings,
}

/// The two ends of one connection.
pub struct ConnInfo {
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
    /// How the peer appears in the access log.
    pub label: std::sync::Arc<str>,
}

impl ConnInfo {
    /// Whether the peer may speak for clients behind it. A Unix-socket peer is a local
    /// process (the proxy in front) and is trusted.
    pub fn trusted(&self, allow: &AllowList) -> bool {
        self.peer.is_none_or(|peer| allow.allows(peer.ip()))
    }
}

/// A request's response: ready at once (a static file, an error page), or the app's to come.
/// The ready response is not boxed: that would cost an allocation on every static hit.
#[allow(clippy::large_enum_variant)]
pub enum Handled {
    Ready(Response<Body>),
    /// Boxed: the app's future is a few KiB, which a static hit should not have to carry (and
    /// copy) through the connection's own future.
    App(std::pin::Pin<Box<dyn std::future::Future<Output = Response<Body>>>>),
}

/// Routes `req`: a file or an error page is answered here and now; the app is called through
/// the returned future. Either way the response carries the request's access-log line.
pub fn handle(req: Request<Incoming>, service: &Rc<Service>, conn: &Rc<ConnInfo>) -> Handled {
    let log = AccessLog {
        peer: conn.label.clone(),
        method: Some(req.method().clone()),
        target: req.uri().path_and_query().cloned(),
        version: version_str(req.version()),
        status: 0,
        started: Instant::now(),
        bytes: 0,
    };
    match dispatch(req, service) {
        Ok(response) => Handled::Ready(finish(response, log, service)),
        Err(req) => {
            let service = service.clone();
            let conn = conn.clone();
            Handled::App(Box::pin(async move {
                let response = call_app(req, &service, &conn).await;
                finish(response, log, &service)
            }))
        }
    }
}

fn finish(mut response: Response<Body>, mut log: AccessLog, service: &Service) -> Response<Body> {
    log.status = response.status().as_u16();
    response.body_mut().set_log(log);
    service.lifecycle.request_done();
    response
}

fn version_str(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        _ => "HTTP/?",
    }
}

/// The response for a file or an error page; the request back when the app is to answer it
/// (moved, not boxed: no allocation on the way).
#[allow(clippy::result_large_err)]
fn dispatch(
    req: Request<Incoming>,
    service: &Service,
) -> Result<Response<Body>, Request<Incoming>> {
    let route = service.router.route(req.uri().path());
    tracing::debug!(method = %req.method(), path = req.uri().path(), route = ?route, "request");
    match route {
        Route::File {
            root,
            rel,
            fallback_to_app,
        } => {
            let servable =
                !fallback_to_app || req.method() == Method::GET || req.method() == Method::HEAD;
            let options = &service.static_files;
            if let Some(response) = servable
                .then(|| static_files::serve(&req, root, rel, options))
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

async fn call_app(req: Request<Incoming>, service: &Service, conn: &ConnInfo) -> Response<Body> {
    let Some(executor) = &service.executor else {
        return pages::error(StatusCode::NOT_FOUND);
    };
    let (mut parts, incoming) = req.into_parts();
    // RFC 9110 §10.1.1: `100 Continue` goes out when the body is first read (below, before the
    // app runs); any other expectation cannot be met.
    if let Some(expect) = parts.headers.get(EXPECT) {
        if !expect.as_bytes().eq_ignore_ascii_case(b"100-continue") {
            return closing(pages::error(StatusCode::EXPECTATION_FAILED));
        }
    }
    let declared = incoming.declared_length();
    // RFC 9110 §15.5.14: refused before a byte of the body is read (and before 100 Continue).
    if let (Some(limit), Some(len)) = (service.limit_request_body, declared) {
        if len > limit {
            return closing(pages::error(StatusCode::PAYLOAD_TOO_LARGE));
        }
    }
    let path = crate::text::decode_path(parts.uri.path());
    // Outside `--script-name`: a 404 before any body is read (nor `100 Continue` sent).
    if !executor.serves(&path) {
        return pages::error(StatusCode::NOT_FOUND);
    }
    let has_body =
        parts.headers.contains_key(CONTENT_LENGTH) || parts.headers.contains_key(TRANSFER_ENCODING);
    let body = match request_body::read(incoming, service.limit_request_body).await {
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
    let mut url_scheme = "http";
    if conn.trusted(&service.http.forwarded_allow) {
        let told = forwarded::resolve(&parts.headers, &service.http.forwarded_allow);
        peer = told.client.or(peer);
        url_scheme = told.scheme.unwrap_or(url_scheme);
        if let Some(host) = told.host {
            parts.headers.insert(HOST, host);
        }
    }
    executor
        .call(OwnedRequest {
            parts,
            path,
            peer,
            local: conn.local,
            body,
            has_body,
            url_scheme,
        })
        .await
}

/// Marks a response as the last on its connection (framing of what follows is in doubt).
fn closing(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
