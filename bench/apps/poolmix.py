"""poolmix: three kinds of view behind one pool, for bench/poolmix: `/cpu` runs about 2 ms of pure
Python (a fixed loop count, so every server does the same work), `/io` waits 5 ms the way a
database call does (`time.sleep`, the GIL let go), anything else answers at once."""

import time

LOOPS = 28000


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/cpu":
        total = 0
        for i in range(LOOPS):
            total += i * i % 7
        body = b"%d" % total
    elif path == "/io":
        time.sleep(0.005)
        body = b"io"
    else:
        body = b"quick"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
