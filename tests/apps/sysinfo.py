"""Report the interpreter the app runs in: sys.executable, cwd, version, prefix, sys.path."""

import json
import os
import sys


def application(environ, start_response):
    out = json.dumps(
        {
            "executable": sys.executable,
            "cwd": os.getcwd(),
            "version": "%d.%d" % sys.version_info[:2],
            "prefix": sys.prefix,
            "base_prefix": sys.base_prefix,
            "path": sys.path,
            "pid": os.getpid(),
        }
    ).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
