"""Helpers shared by the test apps: read the whole request body the portable way.

Only `read(n)` is used, because `wsgiref.validate` refuses `read()` without a size.
"""


def read_body(environ):
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    # No Content-Length (e.g. a chunked request): wsgi.input_terminated lets us read to EOF.
    parts = []
    while True:
        part = stream.read(65536)
        if not part:
            return b"".join(parts)
        parts.append(part)
