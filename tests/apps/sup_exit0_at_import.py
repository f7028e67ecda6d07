"""A module whose import ends the process at once with exit code 0 — `os._exit(0)` — so the
worker dies cleanly before it can boot, every time: a crash loop that looks like a clean exit."""

import os

os._exit(0)


def application(environ, start_response):  # pragma: no cover - never reached
    start_response("200 OK", [])
    return [b""]
