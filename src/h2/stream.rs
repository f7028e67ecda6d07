//! One HTTP/2 stream, one request: checked against the limits, handed to the service with its
//! body as a flow-controlled source, answered with the same response kinds as on HTTP/1.1 and
//! logged the same way. A client that resets the stream while the service works on it cancels
//! that work where it can (reading the body, waiting for a pool thread) and counts against the
//! connection's reset budget.

use std::future::poll_fn;
use std::rc::Rc;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::header::CONTENT_LENGTH;
use http::Method;

use super::head;
use super::recv::Recv;
use super::send;
use super::state::ConnState;
use crate::http::conn::Shared;
use crate::http::incoming::Incoming;
use crate::http::{pages, AccessLog, ConnInfo, Fields, Head, Known, Reply, Request, Service};

/// Answers the request on one stream; `state` learns when it ends and whether the client reset
/// it.
pub async fn serve<S: Service>(
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    info: Rc<ConnInfo>,
    shared: Rc<Shared<S>>,
    state: Rc<ConnState>,
) {
    let _open = state.open_stream();
    let settings = &shared.settings;
    let (mut parts, recv) = req.into_parts();
    head::add_host(&mut parts);
    let head_only = parts.method == Method::HEAD;
    tracing::debug!(stream = respond.stream_id().as_u32(), method = %parts.method, target = %parts.uri, "request");
    let mut head = pooled_head(&parts);
    let (client, scheme) = crate::http::conn::client(&mut head, &info, settings);
    let mut log = AccessLog::start(client.map(|c| c.ip()), Some(&head));
    let response = match head::refuse(&parts, &settings.limits) {
        Some(status) => Some(pages::error(status)),
        None => {
            let declared = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let recv = Recv {
                stream: recv,
                declared,
            };
            let incoming = Incoming::from_source(Box::new(recv), settings.body_timeout);
            let request = Request {
                head,
                body: incoming,
                client,
                scheme,
            };
            let answer = async {
                match shared.service.call(request, &info) {
                    Reply::Ready(response) => response,
                    Reply::Later(response) => response.await,
                }
            };
            tokio::select! {
                response = answer => Some(response),
                reset = poll_fn(|cx| respond.poll_reset(cx)) => {
                    tracing::debug!(reason = ?reset.ok(), "stream reset by the client");
                    state.client_reset();
                    // As nginx logs a request its client gave up on.
                    log.status = 499;
                    None
                }
            }
        }
    };
    let Some(response) = response else {
        return;
    };
    shared.service.responded();
    log.status = response.status().as_u16();
    let mut response = response;
    log.app = response.body_mut().rendered_mut().by_app;
    if let Some(crate::http::LogEnviron(values)) = response.extensions_mut().remove() {
        log.environ = values;
    }
    let (parts, mut body) = response.into_parts();
    body.set_log(log);
    let head = head::response(&parts, &body, settings.server_header);
    let end = head_only || head::bodiless(parts.status) || http_body::Body::is_end_stream(&body);
    let mut stream = match respond.send_response(head, end) {
        Ok(stream) => stream,
        Err(err) => {
            tracing::debug!(error = %err, "response not sent");
            if err.is_reset() || err.reason().is_some() {
                state.client_reset();
            }
            return;
        }
    };
    if end {
        return;
    }
    if let Err(err) = send::body(&mut stream, &mut body, settings.write_timeout).await {
        tracing::debug!(error = %err, "response aborted");
        let by_client = match &err {
            send::SendError::Reset(_) => true,
            send::SendError::Stream(err) => err.is_remote() || err.is_reset(),
            _ => false,
        };
        if by_client {
            state.client_reset();
        }
    }
}

/// The request's head as the service takes it (the HTTP/1.1 parser's form): its target is the
/// path and query of the pseudo-header fields, its fields those h2 decoded (`Host` from
/// `:authority` already among them).
fn pooled_head(parts: &http::request::Parts) -> Head {
    let mut fields = Fields::new();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = fields.append(target.as_bytes());
    for (name, value) in &parts.headers {
        let known = Known::of(name.as_str().as_bytes());
        let name = fields.append(name.as_str().as_bytes());
        let value = fields.append(value.as_bytes());
        fields.push_known(name, value, known);
    }
    Head::new(parts.method.clone(), parts.version, target, target, fields)
}
