"""Imports a package that only the venv's site-packages holds, and shows sys.prefix."""

import sys

import pyrite_venv_probe


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s" % (pyrite_venv_probe.VALUE, sys.prefix)).encode()]
