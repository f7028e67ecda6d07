"""The chaos suite's load generator: closed-loop HTTP/1.1 clients on asyncio streams whose every
request ends in exactly one known outcome — ok (status and body checked byte for byte), or a
failure of a named kind — so a scenario can say what was lost and how.

Failure kinds: `refused` / `connect` (no connection), `reset@new` / `eof@new` (the connection was
reset or closed before any response byte, on a fresh connection), `reset@reused` / `eof@reused`
(the same on a keep-alive connection that had served a response), `truncated` (reset or closed
mid-response), `timeout`, `status-NNN`, `bad-body`, `bad-response`; prefixed with `POST ` when
the request was a POST (a balancer never retries those).

A connection whose server side was held by a worker the scenario killed or stopped is marked
`doomed` (see `procs.sockets_of`); its failures are counted as lost with that worker, apart from
the failures on healthy workers.
"""

import asyncio
import collections
import datetime
import errno
import os
import random
import socket
import struct
import time

READ = 65536


class Stats:
    """Outcomes of one group of clients."""

    def __init__(self):
        self.requests = 0
        self.ok = 0
        self.failed = collections.Counter()
        self.lost = collections.Counter()
        self.latencies = []
        self.examples = {}
        self.posts = 0

    def record(self, kind, started, conn, detail=""):
        self.requests += 1
        if kind == "ok":
            self.ok += 1
            self.latencies.append(time.monotonic() - started)
            return
        bucket = self.lost if conn is not None and conn.doomed else self.failed
        bucket[kind] += 1
        key = ("lost " if bucket is self.lost else "") + kind
        # The first of each kind, with the wall-clock time to find it in the server's log.
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        self.examples.setdefault(key, f"{detail} ({when} UTC)")


class Failure(Exception):
    def __init__(self, kind, detail=""):
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


class Conn:
    """One client connection, registered by its local port from the moment the kernel picks that
    port (before the handshake), so a worker that accepted it can always be traced to it."""

    def __init__(self, port, registry):
        self.reader = None
        self.writer = None
        self.port = port
        self.served = 0
        self.doomed = None
        self.registry = registry
        self.buf = bytearray()
        registry[port] = self

    def dropped(self):
        """True when the peer closed or reset the connection while it sat idle (what a real
        client checks before reusing a keep-alive connection)."""
        return (
            self.reader.at_eof()
            or self.reader.exception() is not None
            or self.writer.is_closing()
        )

    def unregister(self):
        if self.registry.get(self.port) is self:
            del self.registry[self.port]

    def close(self):
        self.unregister()
        if self.writer is not None:
            self.writer.close()

    def abort(self):
        """Closes with a reset (SO_LINGER 0), as a client that vanishes."""
        self.unregister()
        if self.writer is not None:
            self.writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.writer.transport.abort()


async def connect(port, registry, rcvbuf=None):
    """Connects to 127.0.0.1:port. The local port is known (and registered) as soon as connect()
    is called: the handshake may complete, and a worker accept the connection, before this
    coroutine resumes."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    conn = None
    try:
        try:
            sock.connect(("127.0.0.1", port))
            pending = False
        except BlockingIOError:
            pending = True
        conn = Conn(sock.getsockname()[1], registry)
        if pending:
            ready = loop.create_future()
            loop.add_writer(sock, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_writer(sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        conn.reader, conn.writer = await asyncio.open_connection(sock=sock, limit=READ)
    except BaseException as err:
        if conn is not None:
            conn.unregister()
        sock.close()
        if isinstance(err, ConnectionRefusedError) or getattr(err, "errno", None) == errno.ECONNREFUSED:
            raise Failure("refused", str(err)) from None
        if isinstance(err, OSError):
            raise Failure("connect", str(err)) from None
        raise
    return conn


async def _fill(conn, got_any):
    try:
        chunk = await conn.reader.read(READ)
    except (ConnectionResetError, BrokenPipeError) as err:
        kind = "truncated" if got_any else ("reset@reused" if conn.served else "reset@new")
        raise Failure(kind, str(err)) from None
    except OSError as err:
        raise Failure("truncated" if got_any else "connect", str(err)) from None
    if not chunk:
        kind = "truncated" if got_any else ("eof@reused" if conn.served else "eof@new")
        raise Failure(kind, "connection closed")
    conn.buf += chunk


async def _take_line(conn, got_any):
    while True:
        i = conn.buf.find(b"\r\n")
        if i >= 0:
            line = bytes(conn.buf[:i])
            del conn.buf[: i + 2]
            return line
        await _fill(conn, got_any or bool(conn.buf))


async def _take(conn, n):
    while len(conn.buf) < n:
        await _fill(conn, True)
    data = bytes(conn.buf[:n])
    del conn.buf[:n]
    return data


async def read_response(conn, method):
    """Reads one response; returns (status, headers, body, keep_alive)."""
    try:
        return await _read_response(conn, method)
    except ValueError as err:  # a malformed status line, header, chunk size or length
        raise Failure("bad-response", str(err)[:80]) from None


async def _read_response(conn, method):
    while b"\r\n\r\n" not in conn.buf:
        await _fill(conn, bool(conn.buf))
    end = conn.buf.index(b"\r\n\r\n")
    head = bytes(conn.buf[:end]).split(b"\r\n")
    del conn.buf[: end + 4]
    version, status = head[0].split(b" ", 2)[:2]
    status = int(status)
    headers = {}
    for line in head[1:]:
        name, value = line.split(b":", 1)
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        return await _read_response(conn, method)
    conn_header = headers.get(b"connection", b"").lower()
    keep_alive = version == b"HTTP/1.1" and conn_header != b"close"
    if method == "HEAD" or status in (204, 304):
        return status, headers, b"", keep_alive
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await _take_line(conn, True)).split(b";")[0], 16)
            if size == 0:
                while await _take_line(conn, True):
                    pass
                break
            parts.append(await _take(conn, size))
            await _take(conn, 2)
        return status, headers, b"".join(parts), keep_alive
    if b"content-length" in headers:
        return status, headers, await _take(conn, int(headers[b"content-length"])), keep_alive
    while True:  # close-delimited
        try:
            await _fill(conn, True)
        except Failure:
            break
    body = bytes(conn.buf)
    conn.buf.clear()
    return status, headers, body, False


async def exchange(conn, request, method):
    try:
        conn.writer.write(request)
        await conn.writer.drain()
    except (ConnectionResetError, BrokenPipeError) as err:
        raise Failure("reset@reused" if conn.served else "reset@new", str(err)) from None
    return await read_response(conn, method)


class Load:
    """`clients` closed-loop clients sending `mix`'s requests until `stop()`. A share of them
    (`close_share`) asks for `Connection: close`, so new connections keep arriving; a share
    (`idle_share`) pauses 0.2-3 s between requests, so idle keep-alive connections exist (and
    are checked for a close by the server before they are reused, as real clients do)."""

    def __init__(self, port, mix, clients=24, close_share=0.2, idle_share=0.2, timeout=15.0):
        self.port = port
        self.mix = mix
        self.clients = clients
        self.close_share = close_share
        self.idle_share = idle_share
        self.timeout = timeout
        self.stats = Stats()
        self.registry = {}
        self.tasks = []
        self.running = False

    def start(self):
        self.running = True
        rng = random.Random(7)
        for i in range(self.clients):
            close = i < self.clients * self.close_share
            idle = not close and i < self.clients * (self.close_share + self.idle_share)
            seed = rng.randrange(1 << 30)
            self.tasks.append(asyncio.ensure_future(self._client(seed, close, idle)))

    async def stop(self):
        self.running = False
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.registry.values()):
            conn.close()

    async def _client(self, seed, close, idle):
        rng = random.Random(seed)
        conn = None
        while self.running:
            req = self.mix.next(rng)
            if conn is not None and conn.dropped():
                conn.close()
                conn = None
            started = time.monotonic()
            post = "POST " if req.method == "POST" else ""
            self.stats.posts += bool(post)
            try:
                async with asyncio.timeout(self.timeout):
                    if conn is None:
                        conn = await connect(self.port, self.registry)
                    status, _, body, keep_alive = await exchange(
                        conn, req.encode(self.port, close), req.method
                    )
                conn.served += 1
                if status != 200:
                    self.stats.record(f"{post}status-{status}", started, conn, req.target)
                elif not req.check(body):
                    self.stats.record(f"{post}bad-body", started, conn,
                                      f"{req.target} got {len(body)} B")
                else:
                    self.stats.record("ok", started, conn)
                if not keep_alive or close:
                    conn.close()
                    conn = None
            except (Failure, TimeoutError) as err:
                kind = err.kind if isinstance(err, Failure) else "timeout"
                detail = f"{req.method} {req.target}: {getattr(err, 'detail', '')}"
                self.stats.record(post + kind, started, conn, detail)
                if conn is not None:
                    conn.close()
                    conn = None
                if kind in ("refused", "connect"):
                    await asyncio.sleep(0.05)
            if idle:
                await asyncio.sleep(rng.uniform(0.2, 3.0))
        if conn is not None:
            conn.close()
