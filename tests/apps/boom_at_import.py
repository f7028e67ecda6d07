"""A module that raises while it is being imported."""

raise RuntimeError("boom-at-import")


def application(environ, start_response):  # pragma: no cover - never reached
    start_response("200 OK", [])
    return [b""]
