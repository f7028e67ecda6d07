//! Responses held to the end of the event loop's turn. When an inline app call took a while
//! (past [`shortest`], below [`LONGEST`]), its response's last bytes are held until the
//! connections made ready with it have had their turn too: the held responses then go out
//! together (from one system call where the kernel allows it, `sys::send_each`), and a client
//! on the same machine (a proxy, a load generator) is woken once for several of them instead
//! of once for each, leaving more of the cores to the workers. A quick response (static files,
//! small views) goes at once, and so does every response when the loop has nothing else
//! ready.
//!
//! The turn ends when the thread's ending task runs: woken by the first response held, it
//! runs after the tasks that were ready then (the other connections the same `epoll_wait`
//! returned), as the runtime runs its tasks in the order they were woken. A response is never
//! held for a request that had not arrived when it was made, and once the first held response
//! of a turn is [`LONGEST`] old, the next call to end releases them all (its own response is
//! not held): a response waits at most that, and the call running when it passes.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::transport::Transport;

/// How long held responses may wait before the next call's end sends them, and the shortest
/// call whose response is not held (its own length dwarfs a wake-up of the client).
const LONGEST: Duration = Duration::from_millis(1);

/// The shortest call whose response is held, as a multiple of the time the calibration work
/// takes on this machine (see [`shortest`]).
const SHORTEST_WORKS: u32 = 4;

thread_local! {
    static TURN: RefCell<Turn> = const {
        RefCell::new(Turn {
            held: Vec::new(),
            since: None,
            queued: false,
            released: 0,
            ender: None,
        })
    };
}

struct Turn {
    /// The responses held, in the order they were made.
    held: Vec<Held>,
    /// When the first of them was made.
    since: Option<Instant>,
    /// The ending task is queued (woken, or spawned and not yet run).
    queued: bool,
    /// How many times the held responses were released.
    released: u64,
    /// The waker of the thread's ending task, once it has run (one task for the runtime's
    /// life, not one per turn).
    ender: Option<Waker>,
}

struct Held {
    transport: Rc<Transport>,
    waker: Waker,
}

/// Whether the response of an inline call that started at `started` and returned `now` is held
/// (its last bytes deferred on its transport, then [`hold`] awaited). Sends the responses held
/// so far if the first of them has waited [`LONGEST`].
pub fn holds(started: Instant, now: Instant) -> bool {
    let overdue = TURN.with(|turn| {
        turn.borrow()
            .since
            .is_some_and(|since| now.duration_since(since) >= LONGEST)
    });
    if overdue {
        release();
    }
    let took = now.duration_since(started);
    let hold = took >= shortest() && took < LONGEST;
    if hold {
        TURN.with(|turn| {
            turn.borrow_mut().since.get_or_insert(now);
        });
    }
    hold
}

/// Waits until the turn's end has sent what `transport` holds back (as far as the socket took
/// it: the rest goes with the connection's next write or flush, which also meets any error).
/// Only on a runtime thread with a `LocalSet`, where the ending task is spawned.
pub fn hold(transport: &Rc<Transport>) -> Hold<'_> {
    Hold {
        transport,
        turn: None,
    }
}

pub struct Hold<'a> {
    transport: &'a Rc<Transport>,
    /// The release it waits for, once listed.
    turn: Option<u64>,
}

/// What a newly held response does to have the turn ended.
enum Queue {
    Nothing,
    Wake(Waker),
    Spawn,
}

impl Future for Hold<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let queue = TURN.with(|turn| {
            let mut turn = turn.borrow_mut();
            if let Some(waited) = self.turn {
                // Polled again before its release (its waker also waits for the socket when
                // the release found it full): still waiting.
                return (waited == turn.released).then_some(Queue::Nothing);
            }
            self.turn = Some(turn.released);
            turn.held.push(Held {
                transport: self.transport.clone(),
                waker: cx.waker().clone(),
            });
            if std::mem::replace(&mut turn.queued, true) {
                return Some(Queue::Nothing);
            }
            Some(turn.ender.clone().map_or(Queue::Spawn, Queue::Wake))
        });
        match queue {
            None => Poll::Ready(()),
            Some(queue) => {
                match queue {
                    Queue::Nothing => {}
                    // At the back of the runtime's queue, behind the tasks ready now.
                    Queue::Wake(ender) => ender.wake(),
                    Queue::Spawn => drop(tokio::task::spawn_local(Ender)),
                }
                Poll::Pending
            }
        }
    }
}

/// Sends every held response as far as its socket takes it now (those on plain sockets from
/// one system call), and wakes its connection.
fn release() {
    let mut held = TURN.with(|turn| {
        let mut turn = turn.borrow_mut();
        turn.released = turn.released.wrapping_add(1);
        turn.since = None;
        std::mem::take(&mut turn.held)
    });
    if held.len() > 1 {
        send_together(&held);
    }
    for Held { transport, waker } in held.drain(..) {
        transport.send_held(&waker);
        waker.wake();
    }
    // The list's allocation goes back for the next turn.
    TURN.with(|turn| {
        let mut turn = turn.borrow_mut();
        if turn.held.is_empty() && held.capacity() > 0 {
            turn.held = held;
        }
    });
}

/// Writes the held responses of plain sockets from one system call (what a socket did not
/// take, or an error, stays held: `send_held` then meets it).
fn send_together(held: &[Held]) {
    let mut on = Vec::with_capacity(held.len());
    for h in held {
        if let Some(socket) = h.transport.held_on_socket() {
            on.push(socket);
        }
    }
    if on.len() < 2 {
        return;
    }
    let sends: Vec<_> = on.iter().map(|(fd, bytes)| (*fd, &bytes[..])).collect();
    let sent = crate::sys::send_each(&sends);
    drop(sends);
    for ((_, bytes), n) in on.iter_mut().zip(sent) {
        if let Ok(n @ 1..) = usize::try_from(n) {
            bytes::Buf::advance(&mut **bytes, n);
        }
    }
}

/// The thread's task that ends the turns: each time it runs, it releases what was held.
struct Ender;

impl Future for Ender {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let queued = TURN.with(|turn| {
            let mut turn = turn.borrow_mut();
            if turn.ender.is_none() {
                turn.ender = Some(cx.waker().clone());
            }
            std::mem::replace(&mut turn.queued, false)
        });
        if queued {
            release();
        }
        Poll::Pending
    }
}

impl Drop for Ender {
    /// With its runtime gone (a test's, on a thread that builds another), the next response
    /// held spawns a new one.
    fn drop(&mut self) {
        let _ = TURN.try_with(|turn| {
            let mut turn = turn.borrow_mut();
            turn.ender = None;
            turn.queued = false;
        });
    }
}

/// The shortest call whose response is held: [`SHORTEST_WORKS`] times the calibration work,
/// timed once per process (the least of a few runs). In this machine's speed rather than a
/// fixed time, so that a slower machine (or one running the server under an instruction-level
/// profiler) holds the same calls a fast one does: views that compute for a while, not a
/// hello-world. About 50 µs on the 2-core machine the benchmarks in the README ran on.
fn shortest() -> Duration {
    static SHORTEST: OnceLock<Duration> = OnceLock::new();
    *SHORTEST.get_or_init(|| {
        let work = (0..5).map(|_| calibration()).min().unwrap_or_default();
        (work * SHORTEST_WORKS).min(LONGEST)
    })
}

/// How long a fixed piece of work takes: loads, stores and multiplications over a small table,
/// as an interpreter's work is (about 12 µs on the same machine).
fn calibration() -> Duration {
    let start = Instant::now();
    let mut table = [0u64; 256];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..4_000u64 {
        let slot = (x >> 56) as usize;
        x = (x ^ table[slot])
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(i);
        table[slot] = x;
    }
    std::hint::black_box(&table);
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A transport over one end of a socket pair holding `bytes` back (after one response, so
    /// that the runtime knows the socket writable), and the other end.
    async fn holding(bytes: &[u8]) -> (Rc<Transport>, std::os::unix::net::UnixStream) {
        let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        peer.set_nonblocking(true).unwrap();
        let ours = tokio::net::UnixStream::from_std(ours).unwrap();
        primed(
            Transport::new(Box::new(ours), Duration::from_secs(10)),
            peer,
            bytes,
        )
        .await
    }

    /// `transport` once one response has reached `peer`, holding `bytes` back.
    async fn primed<P: std::io::Read>(
        transport: Transport,
        mut peer: P,
        bytes: &[u8],
    ) -> (Rc<Transport>, P) {
        transport.write_all(b"first").await.unwrap();
        while arrived(&mut peer).is_empty() {
            tokio::task::yield_now().await;
        }
        transport.defer(bytes);
        (Rc::new(transport), peer)
    }

    /// A transport over a TCP connection on loopback (what is written together from one
    /// system call) holding `bytes` back, its send buffer small, and the client's end.
    async fn holding_tcp(bytes: &[u8]) -> (Rc<Transport>, std::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        socket2::SockRef::from(&ours)
            .set_send_buffer_size(4096)
            .unwrap();
        peer.set_nonblocking(true).unwrap();
        let transport = Transport::new(Box::new(ours), Duration::from_secs(10));
        assert!(transport.corked_fd().is_some());
        primed(transport, peer, bytes).await
    }

    /// Each of `transports` held by a task of its own, all ready in the same turn; returns once
    /// the turn's end has released them.
    async fn held_in_one_turn(transports: impl Iterator<Item = Rc<Transport>>) {
        let tasks: Vec<_> = transports
            .map(|t| tokio::task::spawn_local(async move { hold(&t).await }))
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }

    /// Fills `transport`'s socket up (the last chunk in part, which stays held); returns the
    /// bytes the socket took.
    async fn fill(transport: &Transport) -> usize {
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let mut sent = 0;
        while transport.pending() == 0 {
            transport.defer(&[b'f'; 4096]);
            transport.send_held(&waker);
            sent += 4096 - transport.pending();
        }
        sent
    }

    /// Once `peer` reads the `sent` bytes of [`fill`], the rest held, then `b"held"`, go with
    /// the connection's flush.
    async fn flushed_after_reading(
        transport: &Transport,
        peer: &mut impl std::io::Read,
        sent: usize,
    ) {
        let left = transport.pending();
        let mut got = Vec::new();
        while got.len() < sent {
            let more = arrived(peer);
            if more.is_empty() {
                tokio::task::yield_now().await;
            }
            got.extend(more);
        }
        transport.flush().await.unwrap();
        while got.len() < sent + left {
            got.extend(arrived(peer));
        }
        assert!(got[..got.len() - 4].iter().all(|&b| b == b'f'));
        assert!(got.ends_with(b"held"));
    }

    /// Runs `test` as a worker runs its connections: on a current-thread runtime, in a `LocalSet`.
    fn on_a_local_set(test: impl Future<Output = ()>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, test);
    }

    /// What has reached `peer` so far.
    fn arrived(peer: &mut impl std::io::Read) -> Vec<u8> {
        let mut got = vec![0; 64 * 1024];
        match std::io::Read::read(peer, &mut got) {
            Ok(n) => got.truncate(n),
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => got.clear(),
            Err(err) => panic!("{err}"),
        }
        got
    }

    #[test]
    fn a_held_response_goes_out_after_the_tasks_ready_with_it() {
        on_a_local_set(async {
            for turn in 0..2 {
                let (transport, peer) = holding(b"held").await;
                let peer = Rc::new(RefCell::new(peer));
                let ran = Rc::new(Cell::new(0));
                let mut tasks = Vec::new();
                for n in 0..3 {
                    let (transport, peer, ran) = (transport.clone(), peer.clone(), ran.clone());
                    tasks.push(tokio::task::spawn_local(async move {
                        if n == 0 {
                            hold(&transport).await;
                            assert_eq!(ran.get(), 2, "turn {turn}: released before the others ran");
                            assert_eq!(arrived(&mut *peer.borrow_mut()), b"held");
                        } else {
                            assert!(arrived(&mut *peer.borrow_mut()).is_empty(), "sent early");
                            ran.set(ran.get() + 1);
                        }
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
            }
        });
    }

    #[test]
    fn held_responses_go_out_at_the_next_call_once_overdue() {
        on_a_local_set(async {
            let (transport, mut peer) = holding(b"held").await;
            let mut waiting = std::pin::pin!(hold(&transport));
            // Listed (its turn's end queued), then made overdue before the turn ends.
            let first = std::future::poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            TURN.with(|turn| turn.borrow_mut().since = Some(Instant::now() - LONGEST));
            let now = Instant::now();
            assert!(
                !holds(now - LONGEST, now),
                "a call of the longest is not held"
            );
            assert_eq!(arrived(&mut peer), b"held", "sent at the call's end");
            waiting.await;
        });
    }

    #[test]
    fn what_a_full_socket_does_not_take_stays_held_for_the_connection() {
        on_a_local_set(async {
            let (transport, mut peer) = holding(b"").await;
            // Filled up, then a response held on top.
            let sent = fill(&transport).await;
            let left = transport.pending();
            transport.defer(b"held");
            hold(&transport).await;
            assert_eq!(transport.pending(), left + 4, "still held once released");
            flushed_after_reading(&transport, &mut peer, sent).await;
        });
    }

    /// Several sockets' held responses, one socket full: each of the others gets its response
    /// whole at the turn's end, the full one keeps what it did not take for its connection.
    fn several_sockets_held_one_full() {
        on_a_local_set(async {
            let mut peers = Vec::new();
            for n in 0..4u8 {
                let (transport, peer) = holding_tcp(&[b'a' + n; 3000]).await;
                peers.push((transport, peer));
            }
            let (full, mut full_peer) = holding_tcp(b"").await;
            let sent = fill(&full).await;
            let left = full.pending();
            full.defer(b"held");
            held_in_one_turn(peers.iter().map(|(t, _)| t.clone()).chain([full.clone()])).await;
            assert_eq!(
                full.pending(),
                left + 4,
                "the full socket's rest stays held"
            );
            for (n, (transport, peer)) in peers.iter_mut().enumerate() {
                assert_eq!(transport.pending(), 0);
                let mut got = Vec::new();
                while got.len() < 3000 {
                    got.extend(arrived(peer));
                }
                assert_eq!(got, vec![b'a' + n as u8; 3000]);
            }
            flushed_after_reading(&full, &mut full_peer, sent).await;
        });
    }

    #[test]
    fn held_responses_of_several_sockets_go_out_together() {
        several_sockets_held_one_full();
    }

    #[test]
    fn held_responses_of_several_sockets_go_out_one_by_one_without_io_uring() {
        crate::sys::forgo_uring();
        several_sockets_held_one_full();
    }

    #[test]
    fn more_held_responses_than_one_call_takes_each_reach_their_client() {
        on_a_local_set(async {
            // Past the ring's 64 entries: the sends go in two calls.
            let mut held = Vec::new();
            for n in 0..70u32 {
                held.push(holding_tcp(format!("response {n}").as_bytes()).await);
            }
            held_in_one_turn(held.iter().map(|(t, _)| t.clone())).await;
            for (n, (transport, peer)) in held.iter_mut().enumerate() {
                assert_eq!(transport.pending(), 0);
                let want = format!("response {n}").into_bytes();
                let mut got = Vec::new();
                while got.len() < want.len() {
                    got.extend(arrived(peer));
                }
                assert_eq!(got, want);
            }
        });
    }
}
