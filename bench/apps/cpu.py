"""cpu: a CPU-bound view, about 200 microseconds of pure Python per request (on the 2-core
reference machine; the loop count is fixed so every server does the same work)."""

LOOPS = 2800


def application(environ, start_response):
    total = 0
    for i in range(LOOPS):
        total += i * i % 7
    body = b"%d" % total
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
