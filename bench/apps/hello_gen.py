"""hello-gen: the same body produced by a generator, with no Content-Length.

The server must stream it (chunked on HTTP/1.1). Servers that write the head and each chunk
separately can hit the Nagle / delayed-ACK stall here.
"""


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"Hello, "
    yield b"World!"
