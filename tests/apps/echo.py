"""Echo the request line pieces and the body back as JSON."""

import json

from _body import read_body


def application(environ, start_response):
    body = read_body(environ)
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "content_type": environ.get("CONTENT_TYPE"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "body": body.decode("latin-1"),
    }
    out = json.dumps(payload, sort_keys=True).encode("utf-8")
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
    )
    return [out]
