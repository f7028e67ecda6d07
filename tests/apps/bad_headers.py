"""Invalid response headers, chosen by PATH_INFO; `/ok` is a valid response."""

HEADERS = {
    "/value-int": [("X-Number", 5)],
    "/value-bytes": [("X-Bytes", b"raw")],
    "/name-bytes": [(b"X-Name", "v")],
    "/value-crlf": [("X-Split", "a\r\nX-Injected: 1")],
    "/value-lf": [("X-Split", "a\nX-Injected: 1")],
    "/name-crlf": [("X-Injected: 1\r\nX-Name", "v")],
    "/not-a-pair": [("X-Alone",)],
}


def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path in HEADERS:
        start_response("200 OK", [("Content-Type", "text/plain")] + HEADERS[path])
        return [b"should not be sent"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
