"""Takes `SLOW_BOOT_SECONDS` (from the environment) to import, then answers who it is as JSON:
for tests of what happens while a master's workers are still booting."""

import json
import os
import time

time.sleep(float(os.environ.get("SLOW_BOOT_SECONDS", "0")))


def application(environ, start_response):
    body = json.dumps({"pid": os.getpid(), "ppid": os.getppid()}).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
