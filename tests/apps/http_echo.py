"""The HTTP codec tests' app: every call is recorded, one `METHOD PATH` line appended to the
file named by TEST_CALLS_FILE, so a test can prove the app was never called.

/env      selected environ keys as `KEY=value` lines (what a trusted proxy may rewrite)
/stream   a generator body of three parts (chunked on HTTP/1.1, close-delimited on 1.0)
/big      128 MiB streamed, for a client that stops reading
anything  echoes the request body, or says "hello" when there is none
"""

import os

CALLS = os.environ["TEST_CALLS_FILE"]
ENV_KEYS = ["REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "HTTP_X_FORWARDED_FOR",
            "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED", "SERVER_NAME"]


def application(environ, start_response):
    with open(CALLS, "a") as f:
        f.write(environ["REQUEST_METHOD"] + " " + environ["PATH_INFO"] + "\n")
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part%d\n" % i for i in range(3))
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(2048))
    if path == "/env":
        out = "".join("%s=%s\n" % (k, environ.get(k, "")) for k in ENV_KEYS).encode("latin-1")
    else:
        out = environ["wsgi.input"].read() or b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
