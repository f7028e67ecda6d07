"""Run a WSGI app under fastwsgi: serve_fastwsgi.py MODULE:CALLABLE HOST PORT [WORKERS].

fastwsgi.run(app, host, port) with its own `workers` argument (it forks when WORKERS > 1).
"""

import importlib
import sys

import fastwsgi


def main():
    spec, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    module, _, name = spec.partition(":")
    app = getattr(importlib.import_module(module), name or "application")
    fastwsgi.run(app, host, port, workers=workers)


if __name__ == "__main__":
    main()
