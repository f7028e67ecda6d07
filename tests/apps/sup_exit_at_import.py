"""A module whose import ends the process at once (exit code 7), as a crashing C extension
would: the worker dies before it can boot, every time."""

import os

os._exit(7)


def application(environ, start_response):  # pragma: no cover - never reached
    start_response("200 OK", [])
    return [b""]
