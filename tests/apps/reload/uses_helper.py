"""Answers with the VERSION of the module `helper` next to it: editing the helper, not this
file, must count for --reload too."""

import json
import os

import helper


def application(environ, start_response):
    out = json.dumps({"version": helper.VERSION, "pid": os.getpid()}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
