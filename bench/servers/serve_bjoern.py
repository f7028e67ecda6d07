"""Run a WSGI app under bjoern: serve_bjoern.py MODULE:CALLABLE HOST PORT [WORKERS].

bjoern has no command line and no workers option; with WORKERS > 1 this binds once and forks
(the pre-fork pattern from bjoern's own README), each child running bjoern's libev loop.
"""

import importlib
import os
import sys

import bjoern


def main():
    spec, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    module, _, name = spec.partition(":")
    app = getattr(importlib.import_module(module), name or "application")
    if workers == 1:
        bjoern.run(app, host, port)
        return
    bjoern.listen(app, host, port)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            bjoern.run()
            os._exit(0)
        children.append(pid)
    for _ in children:
        os.wait()


if __name__ == "__main__":
    main()
