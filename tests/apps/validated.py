"""The test apps wrapped in wsgiref.validate.validator (PEP 3333 lint).

Load one as `validated:<name>`, or `validated:everything`, which picks the app by the
`X-App` request header (default `hello`) inside one validator, so one server can run them
all. Any violation raises AssertionError in the worker, which turns into a 500 and a
traceback on stderr.
"""

from wsgiref.validate import validator

import closing as _closing
import echo as _echo
import environ_dump as _environ_dump
import generator as _generator
import hello as _hello
import input_exerciser as _input_exerciser
import post_echo as _post_echo
import sysinfo as _sysinfo
import write_app as _write_app

APPS = {
    "hello": _hello.application,
    "echo": _echo.application,
    "environ_dump": _environ_dump.application,
    "post_echo": _post_echo.application,
    "generator": _generator.application,
    "input_exerciser": _input_exerciser.application,
    "sysinfo": _sysinfo.application,
    "closing": _closing.application,
    "write_app": _write_app.application,
}

hello = validator(_hello.application)
echo = validator(_echo.application)
environ_dump = validator(_environ_dump.application)
post_echo = validator(_post_echo.application)
generator = validator(_generator.application)
input_exerciser = validator(_input_exerciser.application)
sysinfo = validator(_sysinfo.application)
closing = validator(_closing.application)
write_app = validator(_write_app.application)


def _by_header(environ, start_response):
    return APPS[environ.get("HTTP_X_APP", "hello")](environ, start_response)


everything = validator(_by_header)
