"""The chaos suite's app: every answer is a function of the request, so the load generator can
check each body byte for byte, and every answer names the worker that made it (`X-Worker`).

    GET  /app/hello?t=TOKEN          "hello TOKEN\\n"
    GET  /app/work?ms=N&t=TOKEN      sleeps N ms (a request that stays in flight), then "work TOKEN\\n"
    GET  /app/stream?size=N&seed=S   N bytes of pattern(S), from a generator (chunked, pulled as read)
    GET  /app/blob?size=N&seed=S     N bytes of pattern(S), one list body with Content-Length
    POST /app/echo                   the request body, back
"""

import os
import time
from urllib.parse import parse_qs

PID = str(os.getpid())
CHUNK = 16384
_PATTERNS = {}


def pattern(seed, size):
    """`size` bytes of a sequence that starts at `seed` (the same function lives in the client)."""
    key = (seed, size)
    if key not in _PATTERNS:
        if len(_PATTERNS) > 64:
            _PATTERNS.clear()
        period = bytes((seed + i) % 251 for i in range(251))
        _PATTERNS[key] = (period * (size // 251 + 1))[:size]
    return _PATTERNS[key]


def _answer(start_response, body, content_type="text/plain"):
    start_response(
        "200 OK",
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("X-Worker", PID)],
    )
    return [body]


def _stream(data):
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/app/hello":
        return _answer(start_response, b"hello %s\n" % query.get("t", "").encode())
    if path == "/app/work":
        time.sleep(int(query.get("ms", "10")) / 1000)
        return _answer(start_response, b"work %s\n" % query.get("t", "").encode())
    if path in ("/app/stream", "/app/blob"):
        data = pattern(int(query.get("seed", "0")), int(query.get("size", "0")))
        if path == "/app/blob":
            return _answer(start_response, data, "application/octet-stream")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Worker", PID)])
        return _stream(data)
    if path == "/app/echo" and environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        return _answer(start_response, body, "application/octet-stream")
    start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"not found\n"]
