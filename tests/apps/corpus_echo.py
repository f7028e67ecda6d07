"""The app behind gunicorn's request corpus (tests/http/corpus.rs): it answers what it was
given as JSON — method, RAW_URI, PATH_INFO, QUERY_STRING, the body (latin-1) and the HTTP_*
keys — and appends one line per call to TEST_CALLS_FILE, so a refused request provably never
reached it."""

import json
import os

CALLS = os.environ["TEST_CALLS_FILE"]


def application(environ, start_response):
    with open(CALLS, "a") as f:
        f.write(environ["REQUEST_METHOD"] + " " + environ.get("RAW_URI", "") + "\n")
    seen = {
        "method": environ["REQUEST_METHOD"],
        "raw_uri": environ.get("RAW_URI", ""),
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "body": environ["wsgi.input"].read().decode("latin-1"),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    out = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(out)))])
    return [out]
