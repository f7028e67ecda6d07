"""The operations suite's app: writes to stdout, stderr and wsgi.errors, logs through Python's
logging at several levels, and answers with what the environment says.

- /print: print() to stdout and a line to stderr
- /errors-multi: one wsgi.errors write of three lines
- /errors-partial: a write without a line end, then the rest in a second write
- /log-warning, /log-info: a record on a logger nobody configured (Python's lastResort)
- /handler-warning: a logging.StreamHandler writing to wsgi.errors (what Flask does)
- /raise: an exception (a traceback in the error log)
- /spin: loops in Python, swallowing even pyrite's RequestTimeout (a worker the master aborts)
- /env?NAME: os.environ[NAME] (or "<unset>")
- /environ?KEY: environ[KEY]
- anything else: "ok"
"""

import logging
import os
import sys
import time

log = logging.getLogger("ops.app")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    body = b"ok"
    if path == "/print":
        print("printed-by-the-app", flush=True)
        sys.stderr.write("stderr-by-the-app\n")
        sys.stderr.flush()
    elif path == "/errors-multi":
        environ["wsgi.errors"].write("first line\nsecond line\nthird line\n")
    elif path == "/errors-partial":
        environ["wsgi.errors"].write("partial ")
        environ["wsgi.errors"].write("then finished\n")
    elif path == "/log-warning":
        log.warning("a warning from the app")
    elif path == "/log-info":
        log.info("an info record nobody asked for")
    elif path == "/handler-warning":
        flaskish = logging.getLogger("flaskish")
        handler = logging.StreamHandler(environ["wsgi.errors"])
        handler.setFormatter(logging.Formatter("[flaskish] %(levelname)s: %(message)s"))
        flaskish.addHandler(handler)
        flaskish.propagate = False
        try:
            flaskish.warning("a handler-written warning")
        finally:
            flaskish.removeHandler(handler)
    elif path == "/spin":
        while True:
            try:
                time.sleep(0.05)
            except BaseException:
                pass
    elif path == "/raise":
        raise RuntimeError("boom-for-the-level-test")
    elif path == "/env":
        body = os.environ.get(query, "<unset>").encode()
    elif path == "/environ":
        body = str(environ.get(query, "<unset>")).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
