"""Dump the environ as JSON: for every key its type name and repr (and the value for str/bool/int).

File-like values (wsgi.input, wsgi.errors) also list which file methods they have.
"""

import json

from _body import read_body

FILE_METHODS = ("read", "readline", "readlines", "__iter__", "write", "writelines", "flush")


def describe(value):
    entry = {"type": type(value).__name__, "repr": repr(value)}
    if isinstance(value, (str, bool, int)):
        entry["value"] = value
    if isinstance(value, tuple):
        entry["value"] = list(value)
    methods = [m for m in FILE_METHODS if hasattr(value, m)]
    if methods and not isinstance(value, (str, bytes, tuple, list, dict)):
        entry["methods"] = methods
    return entry


def application(environ, start_response):
    body = read_body(environ)
    dump = {
        "environ": {key: describe(value) for key, value in environ.items()},
        "key_types": sorted({type(key).__name__ for key in environ}),
        "environ_type": type(environ).__name__,
        "body_length": len(body),
    }
    out = json.dumps(dump, sort_keys=True).encode("utf-8")
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(out)))],
    )
    return [out]
