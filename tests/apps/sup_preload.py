"""Allocates a 100 MiB bytes object at import (pages touched), to measure sharing under
--preload; answers with its pid and the pid that imported it."""

import json
import os

IMPORT_PID = os.getpid()
BLOB = b"\x01" * (100 * 1024 * 1024)


def application(environ, start_response):
    out = json.dumps(
        {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "import_pid": IMPORT_PID,
            "blob": len(BLOB),
        }
    ).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
