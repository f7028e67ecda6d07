"""App for the held-response tests: /?us=N&tag=T keeps the CPU busy for N microseconds (the
length of call whose response waits for the end of the event loop's turn), then answers T;
/big?us=N&kb=K answers K KiB after the same wait."""

import time
from urllib.parse import parse_qs


def application(environ, start_response):
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    until = time.perf_counter() + int(query.get("us", "200")) / 1e6
    while time.perf_counter() < until:
        pass
    if environ.get("PATH_INFO") == "/big":
        body = b"x" * (int(query.get("kb", "64")) * 1024)
    else:
        body = query.get("tag", "").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
