"""Sets its own Server and Date headers: the server must not add a second of either."""


def application(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Server", "mine"),
        ("Date", "Tue, 31 Mar 2016 10:11:12 GMT"),
    ])
    return [b"x"]
