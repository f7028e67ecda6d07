"""A generator that yields, then blocks in its next `next()` until the test client says it has
received what was yielded: the client creates `<HELD_BLOCK_DIR>/<step>` once it has read the
blocks before that step. Were a yielded block held back until the next one (or the end), the
client would never see it, never create the file, and its read would time out.

`/with-length` declares a Content-Length, so the body is counted rather than chunked.
"""

import os
import time

STEPS = [[b"one;", b"two;"], [b"three;"], [b"end"]]


def wait_for(name):
    path = os.path.join(os.environ["HELD_BLOCK_DIR"], name)
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)


def body():
    for step, blocks in enumerate(STEPS):
        if step:
            wait_for("step%d" % step)
        for block in blocks:
            yield block


def application(environ, start_response):
    headers = [("Content-Type", "text/plain")]
    if environ.get("PATH_INFO") == "/with-length":
        headers.append(("Content-Length", str(sum(len(b) for s in STEPS for b in s))))
    start_response("200 OK", headers)
    return body()
