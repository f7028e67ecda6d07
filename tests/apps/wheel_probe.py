"""What an app sees of the Python it runs in, for scripts/wheel-check (a wheel-installed pyrite
in a venv): sys.executable and sys.prefix, a `multiprocessing` pool with the spawn start method
(which runs sys.executable) and with the default one, C extensions (stdlib and, when Flask is
installed, MarkupSafe's compiled speedups), and the pid that imported the app (`--preload`).
`application` is plain WSGI (`/pid` answers without starting the pools, for checks that only
ask which worker answered); `flask_app` is the same answer from Flask, imported on first use so
that the pools' spawned children, which import this module, do not import Flask too."""

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


def probe(pools=True):
    info = {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "version": "%d.%d.%d" % sys.version_info[:3],
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "import_pid": IMPORT_PID,
    }
    if pools:
        info["spawn"] = _pool("spawn")
        info["default"] = _pool(None)
        info["c_extensions"] = _c_extensions()
    return info


def application(environ, start_response):
    body = json.dumps(probe(pools=environ.get("PATH_INFO") != "/pid")).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


_flask_app = None


def __getattr__(name):
    # `flask_app`, built on first use (PEP 562).
    global _flask_app
    if name != "flask_app":
        raise AttributeError(name)
    if _flask_app is None:
        from flask import Flask, jsonify

        _flask_app = Flask(__name__)

        @_flask_app.get("/")
        def index():
            info = probe()
            info["framework"] = "flask"
            return jsonify(info)

    return _flask_app
