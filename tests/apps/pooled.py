"""App for the pool-executor tests: /sleep?s=N sleeps, /spin loops in Python for ever, / tells
which thread answered and what wsgi.multithread says."""

import threading
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/sleep":
        time.sleep(float(query.get("s", "0.5")))
    elif path == "/spin":
        while True:
            pass
    body = f"{threading.get_ident()} {environ['wsgi.multithread']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
