"""cpu: a CPU-bound view, about 200 microseconds of pure Python per request. The loop count is
fixed, so every server does the same work: 5,600 iterations ran 203-215 us per call on the
2-core machine of the README's tables (CPython 3.11, best of 30 batches of 50 calls, pinned to
one core). The first count, 2,800, was meant as 200 us but ran 97-99 us there."""

LOOPS = 5600


def application(environ, start_response):
    total = 0
    for i in range(LOOPS):
        total += i * i % 7
    body = b"%d" % total
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
