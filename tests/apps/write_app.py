"""Use the write() callable returned by start_response, then return more body."""


def application(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written-")
    write(b"then-")
    return [b"returned"]
