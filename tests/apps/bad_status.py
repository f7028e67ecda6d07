"""Invalid status lines, chosen by PATH_INFO; `/ok` is a valid response."""

STATUSES = {
    "/bytes": b"200 OK",
    "/int": 200,
    "/crlf": "200 OK\r\nX-Injected: 1",
    "/lf": "200 OK\nX-Injected: 1",
}


def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path in STATUSES:
        start_response(STATUSES[path], [("Content-Type", "text/plain")])
        return [b"should not be sent"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
