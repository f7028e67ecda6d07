"""What the chaos clients ask for: a weighted mix of static files, app GETs (quick, slow,
streamed) and POSTs, each request carrying the check its answer must pass byte for byte."""

import os
import random

# (name, size): the static files written at start; 1 MiB is past the in-memory cache (sendfile).
FILES = [("1k.bin", 1024), ("64k.bin", 65536), ("1m.bin", 1 << 20), ("4m.bin", 4 << 20)]

# The default mix: GET static, app GET (hello, a 20 ms view, a streamed body) and POST echo.
WEIGHTS = {
    "static-1k": 30,
    "static-64k": 10,
    "static-1m": 3,
    "hello": 25,
    "work": 7,
    "stream": 5,
    "echo-small": 15,
    "echo-large": 5,
}


def pattern(seed, size):
    """The app's body pattern (the same function is in apps/chaos_app.py)."""
    period = bytes((seed + i) % 251 for i in range(251))
    return (period * (size // 251 + 1))[:size]


def write_files(directory):
    """Writes the static files with fixed pseudo-random content; returns {name: bytes}."""
    rng = random.Random(1)
    files = {}
    for name, size in FILES:
        data = rng.randbytes(size)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        files[name] = data
    return files


class Req:
    __slots__ = ("method", "target", "body", "expect")

    def __init__(self, method, target, expect, body=b""):
        self.method = method
        self.target = target
        self.body = body
        self.expect = expect

    def encode(self, port, close=False):
        head = f"{self.method} {self.target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        if close:
            head += "Connection: close\r\n"
        if self.method == "POST":
            head += f"Content-Type: application/octet-stream\r\nContent-Length: {len(self.body)}\r\n"
        return head.encode() + b"\r\n" + self.body

    def check(self, body):
        return body == self.expect


class Mix:
    def __init__(self, files, weights=None):
        self.files = files
        weights = weights or WEIGHTS
        self.kinds = list(weights)
        self.cum = []
        total = 0
        for k in self.kinds:
            total += weights[k]
            self.cum.append(total)
        self.total = total
        self.streams = {s: pattern(s, 200_000) for s in range(8)}
        self.bodies = [random.Random(s).randbytes(n) for s, n in enumerate(
            [0, 1, 100, 1000, 4096, 16384, 65536])]
        self.large = [random.Random(100 + s).randbytes(n) for s, n in enumerate(
            [300_000, 1_500_000])]
        self.token = 0

    def next(self, rng):
        x = rng.randrange(self.total)
        kind = self.kinds[next(i for i, c in enumerate(self.cum) if x < c)]
        self.token += 1
        t = self.token
        if kind.startswith("static-"):
            name = {"static-1k": "1k.bin", "static-64k": "64k.bin", "static-1m": "1m.bin",
                    "static-4m": "4m.bin"}[kind]
            return Req("GET", f"/static/{name}", self.files[name])
        if kind == "hello":
            return Req("GET", f"/app/hello?t={t}", b"hello %d\n" % t)
        if kind.startswith("work"):  # "work" is a 20 ms view, "workN" one of N ms
            return Req("GET", f"/app/work?ms={kind[4:] or 20}&t={t}", b"work %d\n" % t)
        if kind == "stream":
            seed = t % 8
            return Req("GET", f"/app/stream?size=200000&seed={seed}", self.streams[seed])
        body = rng.choice(self.large if kind == "echo-large" else self.bodies)
        return Req("POST", "/app/echo", body, body)
