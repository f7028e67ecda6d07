"""App for the TLS and HTTP/2 suites.

/            "hello"
/env         the protocol and TLS keys of the environ, as JSON
/echo        the request body's length and SHA-256, as JSON
/sleep?s=N   logs "tls app: sleep started" to wsgi.errors, sleeps N seconds, answers "slept"
/gen         a generator of 20 growing chunks (no Content-Length)
/file        this file through wsgi.file_wrapper
/gate?f=PATH yields "first", then waits (up to 10 s) for PATH to exist before yielding "second"
             (or "timeout"): the client can only make PATH once "first" has reached it
"""

import hashlib
import json
import os
import time
from urllib.parse import parse_qs

KEYS = (
    "SERVER_PROTOCOL", "wsgi.url_scheme", "HTTPS", "SSL_PROTOCOL", "SSL_CIPHER",
    "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN", "SSL_CLIENT_I_DN", "SSL_CLIENT_M_SERIAL",
    "SSL_CLIENT_CERT", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "REQUEST_METHOD",
    "CONTENT_LENGTH", "PATH_INFO",
)
CHUNKS = [("chunk-%02d|" % i).encode("ascii") * (i + 1) for i in range(20)]


def respond(start_response, body, content_type="text/plain"):
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def gate(path):
    yield b"first"
    for _ in range(1000):
        if os.path.exists(path):
            yield b"second"
            return
        time.sleep(0.01)
    yield b"timeout"


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/env":
        env = {k: environ[k] for k in KEYS if k in environ}
        return respond(start_response, json.dumps(env).encode(), "application/json")
    if path == "/echo":
        body = environ["wsgi.input"].read()
        out = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        return respond(start_response, json.dumps(out).encode(), "application/json")
    if path == "/sleep":
        environ["wsgi.errors"].write("tls app: sleep started\n")
        environ["wsgi.errors"].flush()
        time.sleep(float(query.get("s", "1")))
        return respond(start_response, b"slept")
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter(CHUNKS)
    if path == "/gate":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gate(query["f"])
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"), 4096)
    return respond(start_response, b"hello")
