"""Return the exact request body bytes."""

from _body import read_body


def application(environ, start_response):
    body = read_body(environ)
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
    )
    return [body]
