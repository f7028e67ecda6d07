"""A generator body that raises after its first chunk went out; `/ok` answers normally."""


def body():
    yield b"first chunk\n"
    raise RuntimeError("gen-raise-after-first-chunk")


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/ok":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return body()
