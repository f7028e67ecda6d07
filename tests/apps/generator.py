"""A generator body: no Content-Length, so HTTP/1.1 gets chunked, HTTP/1.0 close-delimited.

`/with-length` sets Content-Length itself, so the server must not chunk it.
"""

CHUNKS = [("chunk-%02d|" % i).encode("ascii") * (i + 1) for i in range(20)]


def body():
    for chunk in CHUNKS:
        yield chunk


def application(environ, start_response):
    headers = [("Content-Type", "text/plain")]
    if environ.get("PATH_INFO") == "/with-length":
        headers.append(("Content-Length", str(sum(len(c) for c in CHUNKS))))
    start_response("200 OK", headers)
    return body()
