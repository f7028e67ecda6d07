//! One HTTP/2 connection: the handshake (the client's preface and SETTINGS) within the header
//! timeout, then streams accepted and each answered on a task of its own, while this task keeps
//! the connection's I/O moving. It ends with a GOAWAY — on a graceful stop (the streams in
//! flight finish first), once idle for the keep-alive timeout, or with ENHANCE_YOUR_CALM once
//! the client has reset more accepted streams than its budget allows (rapid reset) — or when a
//! keep-alive PING goes unanswered. It returns only once all its streams have ended, so a
//! worker's graceful stop waits for them.

use std::future::poll_fn;
use std::rc::Rc;

use h2::{Ping, Reason};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::settings::Settings;
use super::state::ConnState;
use super::stream;
use crate::http::conn::Shared;
use crate::http::{ConnInfo, Io, Phase, Service};

/// How a connection winds down.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Closing {
    No,
    /// GOAWAY sent: the streams in flight finish.
    Graceful,
    /// Idle, or told to calm down: what is left gets the write timeout to go out.
    Soon(Instant),
}

/// Serves HTTP/2 on `io` until the client leaves, the connection idles out, or a graceful
/// stop has let its streams finish.
pub async fn serve<S: Service + 'static>(
    io: Box<dyn Io>,
    info: ConnInfo,
    shared: Rc<Shared<S>>,
    mut phase: watch::Receiver<Phase>,
    settings: &Settings,
) {
    let http = &shared.settings;
    let handshake = settings.builder().handshake::<_, bytes::Bytes>(io);
    let mut conn = match tokio::time::timeout(http.header_timeout, handshake).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => {
            tracing::debug!(peer = %info.label(), error = %err, "HTTP/2 handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %info.label(), "HTTP/2 handshake timed out");
            return;
        }
    };
    let info = Rc::new(info);
    let state = Rc::new(ConnState::new(settings.max_reset_streams));
    let mut ping_pong = conn.ping_pong();
    let mut ping_due = settings
        .keep_alive_interval
        .map(|every| Instant::now() + every);
    let mut pong_due: Option<Instant> = None;
    let mut idle_since = Some(Instant::now());
    let mut idle_for = http.header_timeout;
    let mut closing = Closing::No;
    let mut served = false;
    let mut drain_armed = false;
    let span = tracing::Span::current();
    loop {
        // A GOAWAY sends the client to a new connection: at once when the worker closes (the
        // requests already sent are still answered); while it drains, once the connection has
        // answered a request and has none left in flight — as an HTTP/1.1 connection closes
        // after its response.
        // The drain's GOAWAY waits one more turn of the connection, which writes out the last
        // response first: the h2 crate sends control frames ahead of queued DATA, and some
        // clients (Python's h2, hence httpx) drop every frame that follows a GOAWAY.
        let idle = served && state.open() == 0;
        let goaway = match *phase.borrow() {
            Phase::Serving => false,
            Phase::Draining => std::mem::replace(&mut drain_armed, idle) && idle,
            Phase::Closing { .. } => true,
        };
        if goaway && closing == Closing::No {
            conn.graceful_shutdown();
            closing = Closing::Graceful;
        }
        if state.calm() && !matches!(closing, Closing::Soon(_)) {
            tracing::debug!(peer = %info.label(), "too many streams reset by the client");
            conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
            closing = Closing::Soon(Instant::now() + http.write_timeout);
        }
        let idle_deadline = idle_since.map(|since| since + idle_for);
        let deadline = [
            idle_deadline.filter(|_| closing == Closing::No),
            match closing {
                Closing::Soon(at) => Some(at),
                _ => None,
            },
            ping_due.filter(|_| pong_due.is_none()),
            pong_due,
        ]
        .into_iter()
        .flatten()
        .min();
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let pong = async {
            match (&mut ping_pong, pong_due) {
                (Some(pp), Some(_)) => poll_fn(|cx| pp.poll_pong(cx)).await.is_ok(),
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = poll_fn(|cx| conn.poll_accept(cx)) => match accepted {
                Some(Ok((req, respond))) => {
                    idle_since = None;
                    served = true;
                    let task = stream::serve(req, respond, info.clone(), shared.clone(), state.clone());
                    if span.is_disabled() {
                        tokio::task::spawn_local(task);
                    } else {
                        tokio::task::spawn_local(task.instrument(span.clone()));
                    }
                }
                Some(Err(err)) => {
                    tracing::debug!(peer = %info.label(), error = %err, "HTTP/2 connection error");
                    break;
                }
                None => break,
            },
            changed = phase.changed(), if closing == Closing::No => {
                if changed.is_err() {
                    // The worker let go of the channel: it is closing.
                    conn.graceful_shutdown();
                    closing = Closing::Graceful;
                }
            }
            _ = tokio::task::yield_now(), if drain_armed && closing == Closing::No => {}
            _ = state.changed() => {
                if state.open() == 0 && idle_since.is_none() {
                    idle_since = Some(Instant::now());
                    idle_for = http.keep_alive;
                }
            }
            ok = pong => {
                pong_due = None;
                if !ok {
                    break;
                }
                ping_due = settings.keep_alive_interval.map(|every| Instant::now() + every);
            }
            _ = timer => {
                let now = Instant::now();
                if matches!(closing, Closing::Soon(at) if now >= at) {
                    break;
                }
                if pong_due.is_some_and(|at| now >= at) {
                    tracing::debug!(peer = %info.label(), "keep-alive PING unanswered");
                    break;
                }
                if closing == Closing::No && idle_deadline.is_some_and(|at| now >= at) && state.open() == 0 {
                    conn.graceful_shutdown();
                    closing = Closing::Soon(now + http.write_timeout);
                }
                if ping_due.is_some_and(|at| now >= at) && pong_due.is_none() {
                    if let Some(pp) = &mut ping_pong {
                        if pp.send_ping(Ping::opaque()).is_ok() {
                            pong_due = Some(now + settings.keep_alive_timeout);
                        }
                    }
                    ping_due = None;
                }
            }
        }
    }
    drop(conn);
    // The streams still running end once they notice the connection is gone.
    while state.open() > 0 {
        state.changed().await;
    }
}
