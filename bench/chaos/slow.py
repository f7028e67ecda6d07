"""The misbehaving clients that run beside the normal load: slow readers (a few bytes a second
through a small receive buffer), slow writers (a request head or body trickled in), and clients
that vanish mid-response or mid-upload. Each keeps its own tally; what the server sent them is
still checked byte for byte, as far as they read."""

import asyncio
import collections
import random
import socket
import time

from load import Failure, connect, read_response

# Large enough that no socket buffer holds them: the server must wait on the client.
BIG = [
    ("/static/4m.bin", "file"),
    ("/app/stream?size=4194304&seed=3", "stream"),
    ("/app/blob?size=1048576&seed=5", "blob"),
]


def expected(files, pattern, target):
    if target.startswith("/static/"):
        return files[target.rsplit("/", 1)[1]]
    size = int(target.split("size=")[1].split("&")[0])
    seed = int(target.split("seed=")[1])
    return pattern(seed, size)


def _request(target, port):
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


class Tally:
    def __init__(self):
        self.count = collections.Counter()
        self.bytes = 0
        self.mismatch = 0
        self.ended_after = []

    def line(self):
        parts = [f"{v} {k}" for k, v in sorted(self.count.items())]
        if self.bytes:
            parts.append(f"{self.bytes:,} B read")
        if self.mismatch:
            parts.append(f"{self.mismatch} WRONG BYTES")
        return ", ".join(parts)


async def slow_reader(port, target, want, running, tally, step=16, every=0.5):
    """Reads `step` bytes every `every` s through a 4 KiB receive buffer until the scenario ends
    or the server gives up on it (its `--write-timeout`, by design)."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, _request(target, port))
    except OSError as err:
        tally.count[f"connect failed ({type(err).__name__})"] += 1
        sock.close()
        return
    tally.count["readers"] += 1
    got = bytearray()
    body_at = None
    end = "still reading at the end"
    while running():
        await asyncio.sleep(every)
        try:
            data = sock.recv(step)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            end = "reset by the server"
            break
        if not data:
            end = "closed by the server"
            break
        got += data
        tally.bytes += len(data)
        if body_at is None and b"\r\n\r\n" in got:
            body_at = got.index(b"\r\n\r\n") + 4
            if not got.startswith(b"HTTP/1.1 200"):
                tally.mismatch += 1
    if body_at is not None:
        body = bytes(got[body_at:])
        if b"Transfer-Encoding: chunked" in got[:body_at]:
            body = body.split(b"\r\n", 1)[1] if b"\r\n" in body else b""
        if not want.startswith(body[: min(len(body), 16384 - 16)]):
            tally.mismatch += 1
    tally.count[end] += 1
    if end != "still reading at the end":
        tally.ended_after.append(time.monotonic() - started)
    sock.close()


async def slow_writer(port, body, stats, rate):
    """One request trickled in at `rate` bytes/s: a GET's head when `body` is None, else a POST
    whose head goes at once and whose body trickles. The answer must be right."""
    registry = {}
    if body is None:
        token = random.randrange(1 << 30)
        raw = (f"GET /app/hello?t={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"User-Agent: slow-writer\r\nAccept: */*\r\n\r\n").encode()
        head, trickle, want, method = b"", raw, b"hello %d\n" % token, "GET"
    else:
        head = (f"POST /app/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        trickle, want, method = body, body, "POST"
    started = time.monotonic()
    conn = None
    try:
        conn = await connect(port, registry)
        conn.writer.write(head)
        step = max(1, rate // 4)
        for i in range(0, len(trickle), step):
            conn.writer.write(trickle[i : i + step])
            await conn.writer.drain()
            await asyncio.sleep(step / rate)
        async with asyncio.timeout(30):
            status, _, got, _ = await read_response(conn, method)
        if status != 200:
            stats.record(f"status-{status}", started, None, method)
        elif got != want:
            stats.record("bad-body", started, None, method)
        else:
            stats.record("ok", started, None)
    except Failure as err:
        stats.record(err.kind, started, None, f"slow {method}: {err.detail}")
    except (ConnectionError, TimeoutError) as err:
        stats.record("timeout" if isinstance(err, TimeoutError) else "reset@new",
                     started, None, f"slow {method}: {err}")
    finally:
        if conn is not None:
            conn.close()


async def vanisher(port, files, pattern, rng, tally):
    """Asks for a large answer (or starts a large upload), takes a random part of it, and goes
    away: with a reset (SO_LINGER 0) or a plain close."""
    registry = {}
    try:
        conn = await connect(port, registry)
    except Failure as err:
        tally.count[f"connect failed ({err.kind})"] += 1
        return
    how = rng.choice(["reset", "close"])
    if rng.random() < 0.2:
        body = b"x" * (1 << 20)
        conn.writer.write((f"POST /app/echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           f"Content-Length: {len(body)}\r\n\r\n").encode())
        conn.writer.write(body[: rng.randrange(len(body))])
        what = "mid-upload"
    else:
        target, kind = rng.choice(BIG)
        conn.writer.write(_request(target, port))
        limit = rng.randrange(1, 256 * 1024)
        seen = 0
        try:
            async with asyncio.timeout(10):
                while seen < limit:
                    data = await conn.reader.read(min(65536, limit - seen))
                    if not data:
                        break
                    seen += len(data)
        except (ConnectionError, TimeoutError):
            tally.count["failed before vanishing"] += 1
        tally.bytes += seen
        what = f"mid-{kind}"
    await asyncio.sleep(0)
    if how == "reset":
        conn.abort()
    else:
        conn.close()
    tally.count[f"{what} ({how})"] += 1
