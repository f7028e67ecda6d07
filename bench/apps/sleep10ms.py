"""sleep10ms: an I/O-bound view (a 10 ms wait, as for a database call), then a short body."""

import time

BODY = b"slept 10 ms"


def application(environ, start_response):
    time.sleep(0.010)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
