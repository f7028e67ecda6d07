"""Count calls to the body iterable's close().

`/list` returns a list subclass, `/iter` a plain iterable object (chunked), `/gen` a
generator wrapper; every body has a close() that bumps a per-process counter.
`/count` answers that counter (the test runs one worker so it is the same process).
"""

CLOSED = {"count": 0}


class ClosingList(list):
    def close(self):
        CLOSED["count"] += 1


class ClosingIter:
    def __init__(self, parts):
        self.parts = list(parts)

    def __iter__(self):
        return iter(self.parts)

    def close(self):
        CLOSED["count"] += 1


def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path == "/count":
        body = str(CLOSED["count"]).encode("ascii")
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if path == "/list":
        return ClosingList([b"list ", b"body"])
    return ClosingIter([b"iter ", b"body"])
