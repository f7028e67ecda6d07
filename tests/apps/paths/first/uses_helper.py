"""Imports `helper`, which lives in a second --pythonpath folder."""

import helper


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [helper.VALUE.encode()]
