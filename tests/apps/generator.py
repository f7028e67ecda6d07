"""A generator body: no Content-Length, so HTTP/1.1 gets chunked, HTTP/1.0 close-delimited.

`/with-length` sets Content-Length itself, so the server must not chunk it. `/mixed` (and
`/mixed-with-length`) yields small pieces around pieces larger than the server's 16 KiB
coalescing size, so a run of small pieces pulled in one go meets a large one mid-way.
"""

CHUNKS = [("chunk-%02d|" % i).encode("ascii") * (i + 1) for i in range(20)]


MIXED = [b"s" * 10, b"L" * 40000, b"t" * 7, b"u" * 3, b"M" * 17000, b"v" * 5, b"w", b"N" * 20000]


def body(chunks):
    for chunk in chunks:
        yield chunk


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    chunks = MIXED if path.startswith("/mixed") else CHUNKS
    headers = [("Content-Type", "text/plain")]
    if path.endswith("with-length"):
        headers.append(("Content-Length", str(sum(len(c) for c in chunks))))
    start_response("200 OK", headers)
    return body(chunks)
