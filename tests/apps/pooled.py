"""App for the pool-executor tests: /sleep?s=N sleeps, /spin loops in Python for ever,
/pbkdf2 runs 10^9 PBKDF2 iterations in C (minutes, the GIL released, no exception can reach it;
logs "pooled app: pbkdf2 started" first), /local counts the requests its thread has answered
in a threading.local, / tells which thread answered and what wsgi.multithread says."""

import hashlib
import threading
import time
from urllib.parse import parse_qs

_local = threading.local()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/sleep":
        time.sleep(float(query.get("s", "0.5")))
    elif path == "/spin":
        while True:
            pass
    elif path == "/pbkdf2":
        environ["wsgi.errors"].write("pooled app: pbkdf2 started\n")
        environ["wsgi.errors"].flush()
        hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 10**9)
    elif path == "/local":
        _local.count = getattr(_local, "count", 0) + 1
        body = f"{threading.get_ident()} {_local.count}".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]
    body = f"{threading.get_ident()} {environ['wsgi.multithread']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
