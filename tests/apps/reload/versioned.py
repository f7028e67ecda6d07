"""Answers {"version": VERSION, "pid": ...}; tests copy it with VERSION rewritten, then edit it
while pyrite runs (reload, HUP)."""

import json
import os

VERSION = "template"


def application(environ, start_response):
    out = json.dumps({"version": VERSION, "pid": os.getpid()}).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
