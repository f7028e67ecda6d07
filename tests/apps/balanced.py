"""Behind a balancer (tests/balancer): every answer is a function of the request, so a client
can check it byte for byte, and names the worker that made it (`X-Worker`).

GET  /work?ms=N&t=TOKEN   sleeps N ms (a request that stays in flight), then "TOKEN\\n"
POST /echo                the body back
"""

import os
import time
from urllib.parse import parse_qs

from _body import read_body


def application(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if environ["REQUEST_METHOD"] == "POST":
        body = read_body(environ)
    else:
        time.sleep(int(query.get("ms", "0")) / 1000)
        body = query.get("t", "").encode() + b"\n"
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(len(body))),
            ("X-Worker", str(os.getpid())),
        ],
    )
    return [body]
