"""Hello world with a list body: the server must send Content-Length in one write."""

BODY = b"Hello, world!\n"


def application(environ, start_response):
    start_response(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))],
    )
    return [BODY]


def no_length(environ, start_response):
    """Same body, but the app leaves Content-Length to the server."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [BODY]
