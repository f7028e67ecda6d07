"""json10k: json.dumps of a dict (about 10 KiB of JSON) on every request."""

import json

DATA = {
    "items": [
        {"id": i, "name": f"item-{i:04d}", "price": i * 1.25, "tags": ["a", "b", "c"], "ok": i % 2 == 0}
        for i in range(118)
    ]
}


def application(environ, start_response):
    body = json.dumps(DATA).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
