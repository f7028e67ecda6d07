"""echo: reads wsgi.input completely and sends it back (the post64k scenario)."""


def application(environ, start_response):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
    )
    return [body]
