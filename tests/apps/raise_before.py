"""`/boom` raises before start_response; every other path answers 200 "ok"."""


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/boom":
        raise ValueError("raise-before-start-response")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
