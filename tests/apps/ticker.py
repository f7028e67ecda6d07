"""A thread of the app's own: at import, a daemon thread starts appending a byte to the file
named by TICK_FILE every few milliseconds (like an error reporter's sender or a scheduler). It
needs the GIL for each tick, so it keeps ticking only if the worker's event loop gives the GIL
back, whatever else it is busy serving."""

import os
import threading
import time

PATH = os.environ["TICK_FILE"]


def _tick():
    while True:
        with open(PATH, "ab") as f:
            f.write(b".")
        time.sleep(0.002)


threading.Thread(target=_tick, name="ticker", daemon=True).start()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
    return [b"ok\n"]
