"""What an app sees of the Python it runs in, for scripts/wheel-check (a wheel-installed pyrite
in a venv): sys.executable and sys.prefix, a `multiprocessing` pool with the spawn start method
(which runs sys.executable) and with the default one, C extensions (stdlib and, when Flask is
installed, MarkupSafe's compiled speedups), and the pid that imported the app (`--preload`).
`application` is plain WSGI; `flask_app` is the same answer from Flask."""

import json
import multiprocessing
import os
import sys

IMPORT_PID = os.getpid()


def square(n):
    return n * n


def _pool(method):
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        return pool.map(square, [1, 2, 3])


def _c_extensions():
    import _decimal  # noqa: F401  a stdlib C extension
    import _sqlite3  # noqa: F401

    found = ["_decimal", "_sqlite3"]
    try:
        from markupsafe import _speedups  # noqa: F401  a compiled extension from the venv
    except ImportError:
        pass
    else:
        found.append("markupsafe._speedups")
    return found


def probe():
    return {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "import_pid": IMPORT_PID,
        "spawn": _pool("spawn"),
        "default": _pool(None),
        "c_extensions": _c_extensions(),
    }


def application(environ, start_response):
    body = json.dumps(probe()).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


try:
    from flask import Flask, jsonify
except ImportError:
    flask_app = None
else:
    flask_app = Flask(__name__)

    @flask_app.get("/")
    def index():
        info = probe()
        info["framework"] = "flask"
        return jsonify(info)
