//! One connection, request after request (RFC 9112 §9.3): read a head within the header
//! timeout, refuse it or hand it to the service, write the response, and go round again while
//! the connection may persist. Pipelined requests wait in the buffer and are answered in order.
//! A refused request is answered with `Connection: close` and nothing after it is read.
//! Once the worker drains or closes, every response carries `Connection: close`; an idle
//! connection is never closed under a request that may be on its way (RFC 9112 §9.6): it ends
//! after such a response, or at its usual keep-alive timeout.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http::header::{HeaderValue, CONNECTION};
use http::Method;
use tokio::sync::watch;
use tokio::time::Instant;

use super::authority::KnownHost;
use super::body::{AccessLog, LogEnviron};
use super::fields::Known;
use super::forwarded;
use super::framing::{self, RequestHead};
use super::incoming::Incoming;
use super::pages;
use super::parse;
use super::phase::Phase;
use super::proxy_protocol;
use super::reject::Reject;
use super::request::{Head, Request};
use super::service::{ConnInfo, Reply, Service};
use super::settings::Settings;
use super::transport::{BodyState, Io, Transport};
use super::write::{self, Answering};

/// What every connection of a worker shares: its settings and the service that answers.
pub struct Shared<S> {
    pub settings: Settings,
    pub service: S,
}

/// See `next_head`: new bytes without a line end are parsed once this many have gathered.
const REPARSE_STEP: usize = 1024;

/// Returned once per request; boxing the head would cost an allocation each time.
#[allow(clippy::large_enum_variant)]
enum Next {
    Request(RequestHead),
    Refuse(Reject),
    Close,
}

pub async fn serve<S: Service>(
    io: Box<dyn Io>,
    info: ConnInfo,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
) {
    let transport = Transport::new(io, shared.settings.write_timeout);
    serve_on(transport, info, shared, phase).await;
}

/// A connection whose first bytes were read by [`open`] and are HTTP/1.1's to serve.
pub struct Opened(Transport);

/// What [`open`] found at the start of a connection.
pub enum Opening {
    /// Not the prefix asked about: [`serve_opened`] serves the connection.
    Http1(Opened),
    /// The prefix: the stream, and every byte read from it so far, for another driver.
    Other(Box<dyn Io>, BytesMut),
}

/// Reads a connection's first bytes, as this driver reads every request (no extra look at the
/// socket), until they show whether they begin with `prefix` (HTTP/2's preface, which no
/// HTTP/1.1 request begins with). A client that sends nothing within the header timeout, or
/// goes, is left to this driver, which closes it as it would. A stop does not cut the look
/// short: the request may be on its way, and the driver that takes over finishes it.
pub async fn open(io: Box<dyn Io>, settings: &Settings, prefix: &[u8]) -> Opening {
    let transport = Transport::new(io, settings.write_timeout);
    let look = async {
        loop {
            {
                let buf = transport.buf.borrow();
                let n = buf.len().min(prefix.len());
                if buf[..n] != prefix[..n] {
                    return false;
                }
                if n == prefix.len() {
                    return true;
                }
            }
            match transport.read_more().await {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
    };
    let matched = tokio::time::timeout(settings.header_timeout, look)
        .await
        .unwrap_or(false);
    if matched {
        let (io, read) = transport.into_parts();
        return Opening::Other(io, read);
    }
    Opening::Http1(Opened(transport))
}

/// Serves a connection [`open`] left to HTTP/1.1: its bytes read so far are its first.
pub async fn serve_opened<S: Service>(
    opened: Opened,
    info: ConnInfo,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
) {
    serve_on(opened.0, info, shared, phase).await;
}

async fn serve_on<S: Service>(
    transport: Transport,
    mut info: ConnInfo,
    shared: Rc<Shared<S>>,
    phase: watch::Receiver<Phase>,
) {
    let settings = &shared.settings;
    let transport = Rc::new(transport);
    // On a TLS connection the header came before the handshake, read by the layer below.
    if settings.proxy_protocol && info.tls.is_none() && info.trusted(&settings.forwarded_allow) {
        match proxy_header(&transport, settings.header_timeout).await {
            Some(Some(client)) => {
                info.peer = Some(client);
            }
            Some(None) => {}
            None => {
                tracing::debug!(peer = %info.label(), "malformed or missing PROXY protocol header");
                return;
            }
        }
    }
    let info = Rc::new(info);
    let mut first = true;
    // Requests on this connection so far; with the connection's span, names a request in logs.
    let mut seq: u64 = 0;
    let mut waits = Waits::new(Instant::now() + settings.header_timeout);
    let mut host = KnownHost::default();
    loop {
        let head = match next_head(&transport, settings, &mut waits, &mut host, first).await {
            Next::Request(head) => head,
            Next::Close => {
                let _ = transport.flush().await;
                return;
            }
            Next::Refuse(reject) => {
                tracing::debug!(peer = %info.label(), status = reject.status.as_u16(), reason = reject.reason, "request refused");
                refuse(&transport, reject, settings, info.peer.map(|p| p.ip())).await;
                return;
            }
        };
        first = false;
        seq += 1;
        let RequestHead {
            head,
            framing,
            keep_alive,
            expect_continue,
        } = head;
        let answering = Answering {
            head: head.method == Method::HEAD,
            version: head.version,
            keep_alive,
            server_header: settings.server_header,
            after_turn: false,
        };
        // One clock read for the request: its body's rate window and its log's start.
        let started = Instant::now();
        let incoming = Incoming::new(
            transport.clone(),
            framing,
            expect_continue,
            settings.limits,
            settings.body_timeout,
            settings.body_min_rate,
            started,
        );
        tracing::debug!(request = seq, method = %head.method, target = head.target(), "request");
        let in_flight = crate::metrics::in_flight();
        // In a block of its own: a local's slot in this future lasts until its scope ends, even
        // once moved, so the access log and the request must not outlive the call (they would
        // add their bytes to every connection's future, and to its copies).
        let mut after_turn = false;
        let mut response = {
            let mut head = head;
            let (client, scheme) = client(&mut head, &info, settings);
            let mut log =
                AccessLog::start_at(started.into_std(), client.map(|c| c.ip()), Some(&head));
            let request = Request {
                head,
                body: incoming,
                client,
                scheme,
            };
            let mut response = match shared.service.call(request, &info) {
                Reply::Ready(mut response) => {
                    // Made by an app call just returned: a slow one may wait for the turn's end.
                    after_turn = response.body_mut().rendered_mut().by_app
                        && !transport.buffers_writes()
                        && super::turn::holds(started.into_std(), std::time::Instant::now());
                    response
                }
                Reply::Later(response) => response.await,
            };
            shared.service.responded();
            log.status = response.status().as_u16();
            log.app = response.body_mut().rendered_mut().by_app;
            if let Some(LogEnviron(values)) = response.extensions_mut().remove() {
                log.environ = values;
            }
            response.body_mut().set_log(log);
            response
        };
        let answering = Answering {
            keep_alive: answering.keep_alive
                && transport.body_state() == BodyState::Complete
                && !settings.keep_alive.is_zero()
                && phase.borrow().persists(),
            after_turn,
            ..answering
        };
        let written = write::response(&transport, &mut response, &answering).await;
        drop(in_flight);
        match written {
            Ok(true) => {}
            Ok(false)
                if !keep_alive
                    && transport.body_state() == BodyState::Complete
                    && transport.buffered() == 0 =>
            {
                // The client asked for the close and sent nothing past its request: nothing
                // more is coming that could turn the close into a reset, so there is no need
                // to wait for its FIN (as nginx, which lingers only when more may come).
                transport.close_now().await;
                return;
            }
            Ok(false) => {
                transport.linger_close().await;
                return;
            }
            Err(err) => {
                tracing::debug!(peer = %info.label(), error = %err, "response aborted");
                return;
            }
        }
    }
}

/// The client and URL scheme of a request (HTTP/1.1 or HTTP/2): the peer and `http` (`https`
/// on a TLS connection), or what a trusted proxy says (which may also replace `Host`, RFC 7239
/// §5.3).
pub(crate) fn client(
    head: &mut Head,
    info: &ConnInfo,
    settings: &Settings,
) -> (Option<SocketAddr>, &'static str) {
    let scheme = if info.tls.is_some() { "https" } else { "http" };
    let allow = &settings.forwarded_allow;
    if !forwarded::present(&head.fields) || !info.trusted(allow) {
        return (info.peer, scheme);
    }
    let told = forwarded::resolve(&head.fields, allow);
    if let Some(host) = told.host {
        head.fields.set(Known::Host, "host", host.as_bytes());
    }
    (told.client.or(info.peer), told.scheme.unwrap_or(scheme))
}

/// The deadline an idle connection waits on besides its socket, set up once per connection
/// rather than once per request: the timer is moved only when a deadline comes earlier than the
/// one it is set for (a later one is taken up when it fires).
struct Waits {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Waits {
    fn new(deadline: Instant) -> Waits {
        Waits {
            timer: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }

    /// Makes sure the timer fires no later than `deadline`.
    fn arm(&mut self, deadline: Instant) {
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
    }
}

/// Waits for and parses the next request head. Before its first byte the wait is bounded by
/// the keep-alive timeout (the header timeout for a new connection), stop or not: a client
/// may be sending its request on this connection right now, and closing under it would lose
/// it. From its first byte the whole head must arrive within the header timeout (→ 408).
async fn next_head(
    transport: &Transport,
    settings: &Settings,
    waits: &mut Waits,
    host: &mut KnownHost,
    first: bool,
) -> Next {
    let idle_until = Instant::now()
        + if first {
            settings.header_timeout
        } else {
            settings.keep_alive
        };
    let mut head_until = first.then_some(idle_until);
    // How much of the buffer the last parse saw: a head that trickles in is parsed again only
    // once a line has ended or another `REPARSE_STEP` bytes came, not on every read, so a slow
    // client cannot make the parser rescan a long head thousands of times.
    let mut seen = 0;
    loop {
        let buffered = transport.buffered();
        let started = buffered > 0;
        let worth_parsing = buffered > seen && {
            let buf = transport.buf.borrow();
            buffered - seen >= REPARSE_STEP || memchr::memchr(b'\n', &buf[seen..]).is_some()
        };
        if worth_parsing {
            seen = buffered;
            let parsed = parse::take_head(&mut transport.buf.borrow_mut(), &settings.limits);
            match parsed {
                Ok(Some(raw)) => {
                    return match framing::interpret(raw, host) {
                        Ok(head) => Next::Request(head),
                        Err(reject) => Next::Refuse(reject),
                    };
                }
                Ok(None) => {}
                Err(reject) => return Next::Refuse(reject),
            }
        }
        if started {
            head_until.get_or_insert_with(|| Instant::now() + settings.header_timeout);
        }
        // Responses held back for pipelining go out before waiting for the peer.
        if transport.pending() > 0 && transport.flush().await.is_err() {
            return Next::Close;
        }
        let deadline = head_until.unwrap_or(idle_until);
        waits.arm(deadline);
        tokio::select! {
            read = transport.read_more() => match read {
                Ok(0) | Err(_) => return Next::Close,
                Ok(_) => {}
            },
            _ = waits.timer.as_mut() => {
                let now = Instant::now();
                if now < deadline {
                    // Set for an earlier deadline that has since moved on.
                    waits.timer.as_mut().reset(deadline);
                    continue;
                }
                return if started {
                    Next::Refuse(Reject::new(http::StatusCode::REQUEST_TIMEOUT, "request head timed out"))
                } else {
                    Next::Close
                };
            }
        }
    }
}

/// Reads the PROXY protocol header: `None` if it is malformed or does not arrive in time,
/// `Some(None)` if it names no client (`UNKNOWN`, `LOCAL`).
async fn proxy_header(
    transport: &Transport,
    timeout: Duration,
) -> Option<Option<std::net::SocketAddr>> {
    let read = async {
        loop {
            let parsed = proxy_protocol::parse(&transport.buf.borrow());
            match parsed {
                Ok(Some((client, len))) => {
                    transport.buf.borrow_mut().advance(len);
                    return Some(client);
                }
                Ok(None) => {}
                Err(proxy_protocol::Malformed) => return None,
            }
            match transport.read_more().await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(timeout, read).await.ok().flatten()
}

/// Answers a refused request with its status and `Connection: close`, then closes. The access
/// log shows it with `-` for the request line, which cannot be trusted.
async fn refuse(
    transport: &Rc<Transport>,
    reject: Reject,
    settings: &Settings,
    peer: Option<std::net::IpAddr>,
) {
    crate::metrics::refused(reject.status.as_u16());
    let mut response = pages::error(reject.status);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    let mut log = AccessLog::start(peer, None);
    log.status = reject.status.as_u16();
    response.body_mut().set_log(log);
    let answering = Answering {
        head: false,
        version: http::Version::HTTP_11,
        keep_alive: false,
        server_header: settings.server_header,
        after_turn: false,
    };
    if write::response(transport, &mut response, &answering)
        .await
        .is_ok()
    {
        transport.linger_close().await;
    }
}
