"""Large response pieces, which the server keeps as the app's bytes objects rather than copies.

The pieces are module-level objects, so `/refs` can report how many references each one has:
once every response that carried it has been written (or its client is gone), the server must
hold none. `/echo` sends back the request body (read in one `read()`), as a response piece of
its own size.
"""

import sys

BIG = bytes(range(256)) * 400  # 102,400 bytes
SMALL = b"<small piece>"
HUGE = b"h" * (8 * 1024 * 1024)


def pieces(path):
    if path == "/list":
        return [BIG]
    if path == "/mixed":
        return [SMALL, BIG, SMALL, BIG, BIG]
    if path == "/huge":
        return [HUGE]
    return None


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/refs":
        body = ("%d %d" % (sys.getrefcount(BIG), sys.getrefcount(HUGE))).encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    if path == "/echo":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/write":
        write = start_response("200 OK", [])
        write(BIG)
        write(SMALL)
        write(BIG)
        return [BIG]
    if path == "/generator":
        start_response("200 OK", [])

        def gen():
            yield SMALL
            yield BIG
            yield BIG
            yield SMALL

        return gen()
    body = pieces(path)
    if body is None:
        start_response("404 Not Found", [])
        return [b"no such piece"]
    start_response("200 OK", [])
    return body
