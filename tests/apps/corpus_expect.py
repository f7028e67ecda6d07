"""Reads gunicorn's request corpus expectations (tests/corpus/gunicorn/*/NAME.py) without
gunicorn: its config and error classes are stood in for, `uri()` is gunicorn's own split.
Prints one JSON object: {"valid/NAME": {"cfg": {...}, "requests": [...]},
"invalid/NAME": {"cfg": {...}, "error": "ClassName"}}; bodies are latin-1 text."""

import glob
import importlib.machinery
import json
import os
import sys
import types
import urllib.parse


class Config:
    def __init__(self):
        self.settings = {}

    def set(self, key, value):
        self.settings[key] = value


def error_module():
    module = types.ModuleType("gunicorn.http.errors")

    def missing(name):
        error = type(name, (Exception,), {})
        setattr(module, name, error)
        return error

    module.__getattr__ = missing
    return module


def stand_in_for_gunicorn():
    gunicorn = types.ModuleType("gunicorn")
    http = types.ModuleType("gunicorn.http")
    config = types.ModuleType("gunicorn.config")
    config.Config = Config
    errors = error_module()
    gunicorn.http, gunicorn.config, http.errors = http, config, errors
    sys.modules.update({"gunicorn": gunicorn, "gunicorn.http": http,
                        "gunicorn.config": config, "gunicorn.http.errors": errors})


def uri(data):
    # gunicorn.util.split_request_uri
    if data.startswith("//"):
        parts = urllib.parse.urlsplit("." + data)
        parts = parts._replace(path=parts.path[1:])
    else:
        parts = urllib.parse.urlsplit(data)
    return {"raw": data, "path": parts.path or "", "query": parts.query or ""}


def load(path):
    module = types.ModuleType("__config__")
    module.uri = uri
    module.cfg = Config()
    importlib.machinery.SourceFileLoader("__config__", path).exec_module(module)
    return vars(module)


def main(corpus):
    stand_in_for_gunicorn()
    out = {}
    for path in sorted(glob.glob(os.path.join(corpus, "*", "*.py"))):
        kind = os.path.basename(os.path.dirname(path))
        name = os.path.splitext(os.path.basename(path))[0]
        env = load(path)
        case = {"cfg": env["cfg"].settings}
        expect = env["request"]
        if isinstance(expect, type):
            case["error"] = expect.__name__
        else:
            requests = expect if isinstance(expect, list) else [expect]
            case["requests"] = [
                {
                    "method": r["method"],
                    "version": "%d.%d" % r["version"],
                    "uri": r["uri"],
                    "headers": [list(h) for h in r["headers"]],
                    "body": r["body"].decode("latin-1") if isinstance(r["body"], bytes) else r["body"],
                }
                for r in requests
            ]
        out[kind + "/" + name] = case
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
