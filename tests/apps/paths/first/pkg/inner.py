"""An app in a dotted module path (`pkg.inner:app`)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"dotted module"]
