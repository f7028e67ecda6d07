"""Sleep `?s=SECONDS` (default 2), then answer "slept SECONDS".

A line is written to wsgi.errors when the request reaches the app, so a test can wait for it.
"""

import time
from urllib.parse import parse_qs


def application(environ, start_response):
    seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["2"])[0])
    errors = environ["wsgi.errors"]
    errors.write("slow app: request started s=%s\n" % seconds)
    errors.flush()
    time.sleep(seconds)
    body = ("slept %s" % seconds).encode("ascii")
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]
