"""exactload: exactly N keep-alive requests over C connections, every response checked.

wrk counts requests over a duration, so the number it sends depends on the machine's speed; an
instruction count divided by a request count needs the request count to be exact. This client
opens C connections once, then sends requests one at a time on each (no pipelining, as wrk),
until exactly N have been answered. Every response must have status 200 and exactly the
expected body (Content-Length or chunked framing, both parsed); anything else is an error and
the run fails. Only the standard library is used, so it runs beside any server.

It is a library for `bench/instructions` (open, `run` a batch, close: warm-up and measured
batches share the same connections, so connection set-up is never in a measurement) and a
command for trying a server by hand:

    python3 bench/exactload.py http://127.0.0.1:8000/ -n 2000 -c 8 [--post FILE] [--expect FILE] [--close]
"""

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit


class BadResponse(Exception):
    """A response that is not 200 with the expected body, or a connection that broke."""


def request_bytes(host, port, path, body=None, close=False):
    """The request every connection sends: what wrk sends (a Host header and nothing else),
    plus Content-Length and Content-Type for a POST, and `Connection: close` when asked."""
    extra = "Connection: close\r\n" if close else ""
    if body is None:
        return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
        f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader):
    """(status, body) of one HTTP/1.1 response; the body de-chunked when chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise BadResponse(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected: the empty line
                break
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(chunks)
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    raise BadResponse("response with neither Content-Length nor chunked framing (keep-alive impossible)")


class Load:
    """C open keep-alive connections to one URL; `run(n)` sends exactly n requests over them.
    With `close`, C clients in parallel instead, each sending every request on a new connection
    with `Connection: close` and waiting for the server to close it (as wrk -H 'Connection:
    close' does): connection set-up and teardown are then part of every request."""

    def __init__(self, url, connections=8, body=None, expect=None, timeout=120.0, close=False):
        u = urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.close_each = close
        self.request = request_bytes(self.host, self.port, self.path, body, close)
        self.expect = expect  # bytes the body must equal (None: any body, status 200 only)
        self.connections = connections
        self.timeout = timeout  # seconds one response may take (a server under valgrind is slow)
        self.conns = []

    async def connect(self):
        return await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)

    async def open(self):
        """Opens the keep-alive connections; with `close`, one connection opened and closed
        (the server listens), the clients' own come with each request."""
        if self.close_each:
            _, writer = await self.connect()
            writer.close()
            self.conns = [(None, None)] * self.connections
            return
        for _ in range(self.connections):
            self.conns.append(await self.connect())

    async def close(self):
        for _, writer in self.conns:
            if writer is not None:
                writer.close()
        self.conns = []

    async def _worker(self, reader, writer, budget):
        done = 0
        while budget[0] > 0:
            budget[0] -= 1  # one shared budget: the total is exact however the connections race
            if self.close_each:
                reader, writer = await self.connect()
            writer.write(self.request)
            status, body = await asyncio.wait_for(read_response(reader), self.timeout)
            if self.close_each:
                # The server closes first: the client reads its FIN, then closes its side.
                if await asyncio.wait_for(reader.read(1), self.timeout):
                    raise BadResponse("bytes after the response to a Connection: close request")
                writer.close()
                await writer.wait_closed()
            if status != 200:
                raise BadResponse(f"status {status}")
            if self.expect is not None and body != self.expect:
                raise BadResponse(f"body of {len(body)} bytes, expected {len(self.expect)}")
            done += 1
        return done

    async def run(self, n):
        """Sends exactly n requests; returns how many were answered (== n, or it raises)."""
        budget = [n]
        counts = await asyncio.gather(*(self._worker(r, w, budget) for r, w in self.conns))
        if sum(counts) != n:
            raise BadResponse(f"{sum(counts)} answered of {n}")
        return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("-n", type=int, default=2000, help="requests (default 2000)")
    ap.add_argument("-c", type=int, default=8, help="connections (default 8)")
    ap.add_argument("--post", help="POST this file's bytes instead of a GET")
    ap.add_argument("--expect", help="every body must equal this file's bytes")
    ap.add_argument("--close", action="store_true", help="a new connection per request (Connection: close)")
    args = ap.parse_args()
    body = open(args.post, "rb").read() if args.post else None
    expect = open(args.expect, "rb").read() if args.expect else None

    async def go():
        load = Load(args.url, args.c, body, expect, close=args.close)
        await load.open()
        try:
            t = time.perf_counter()
            await load.run(args.n)
            return time.perf_counter() - t
        finally:
            await load.close()

    try:
        seconds = asyncio.run(go())
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, BadResponse) as e:
        print(f"exactload: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{args.n} requests answered with 200 in {seconds:.3f} s ({args.n / seconds:,.0f} req/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
