"""Read wsgi.input in the way named by `?mode=` and return the pieces read, as JSON.

Pieces are latin-1 strings, so the test can compare them byte for byte.
modes: read4 (read(4) until b""), readline (until b""), readlines, iter, mixed.
"""

import json
from urllib.parse import parse_qs


def pieces(stream, mode):
    if mode == "read4":
        out = []
        while True:
            piece = stream.read(4)
            out.append(piece)
            if not piece:
                return out
    if mode == "readline":
        out = []
        while True:
            line = stream.readline()
            out.append(line)
            if not line:
                return out
    if mode == "readlines":
        return stream.readlines()
    if mode == "iter":
        return list(stream)
    if mode == "mixed":
        first = stream.read(3)
        line = stream.readline()
        rest = stream.readlines()
        return [first, line] + rest + [stream.read(10)]
    raise ValueError("unknown mode %r" % mode)


def application(environ, start_response):
    mode = parse_qs(environ.get("QUERY_STRING", "")).get("mode", ["read4"])[0]
    read = pieces(environ["wsgi.input"], mode)
    assert all(type(p) is bytes for p in read), [type(p) for p in read]
    out = json.dumps([p.decode("latin-1") for p in read]).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
