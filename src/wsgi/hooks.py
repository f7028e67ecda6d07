"""pyrite's side of gunicorn's server hooks: the objects hooks are given (a server, a worker, a
request, a response carrying what hooks use in practice), loading the configuration file, and
calling a hook so that an exception is reported, never raised into pyrite."""

import importlib.util
import os
import sys
import time
import traceback


class Config:
    """`server.cfg` / `worker.cfg`: the effective settings, by gunicorn's names (and pyrite's)."""

    def __init__(self, settings):
        self.__dict__.update(settings)

    def __repr__(self):
        return "Config(%r)" % self.__dict__


class Server:
    """What gunicorn's Arbiter offers hooks: pid, cfg, log, address, num_workers, proc_name."""

    def __init__(self, pid, cfg, log, address, num_workers, proc_name):
        self.pid = pid
        self.cfg = cfg
        self.log = log
        self.address = address
        self.LISTENERS = address
        self.num_workers = num_workers
        self.proc_name = proc_name
        self.WORKERS = {}


class Worker:
    """What gunicorn's Worker offers hooks: pid, ppid, age (the spawn count), cfg, log, alive,
    booted, wsgi (the app, once loaded)."""

    def __init__(self, pid, ppid, age, cfg, log):
        self.pid = pid
        self.ppid = ppid
        self.age = age
        self.cfg = cfg
        self.log = log
        self.alive = True
        self.booted = False
        self.wsgi = None
        self.started = time.time()

    def __repr__(self):
        return "<Worker %s>" % self.pid


class Request:
    """What gunicorn's Request offers hooks: method, uri, path, query, fragment, version,
    headers (a list of (NAME, value) with upper-case names), scheme, remote_addr."""

    __slots__ = ("method", "uri", "path", "query", "fragment", "version", "headers", "scheme",
                 "remote_addr", "peer_addr")

    def __init__(self, method, uri, path, query, version, headers, scheme, remote_addr):
        self.method = method
        self.uri = uri
        self.path = path
        self.query = query
        self.fragment = ""
        self.version = version
        self.headers = headers
        self.scheme = scheme
        self.remote_addr = remote_addr
        self.peer_addr = remote_addr

    def __repr__(self):
        return "<Request %s %s>" % (self.method, self.uri)


class Response:
    """What gunicorn's Response offers post_request: status ("200 OK"), status_code, headers."""

    __slots__ = ("status", "status_code", "headers", "sent", "response_length")

    def __init__(self, status, headers, length):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None
        self.headers = headers
        self.sent = 0
        self.response_length = length


def load(path):
    """Executes the configuration file as gunicorn does (a module named __config__)."""
    spec = importlib.util.spec_from_file_location("__config__", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = module
    spec.loader.exec_module(module)
    return vars(module)


def call(hook, *args):
    """Calls a hook; returns None, or the formatted traceback of what it raised."""
    try:
        hook(*args)
        return None
    except BaseException:
        return traceback.format_exc().rstrip()


def on_abort(hook, worker):
    """The SIGABRT handler of a worker that defines worker_abort: the hook, then exit."""

    def handler(signum, frame):
        error = call(hook, worker)
        if error:
            worker.log.error("the worker_abort hook raised\n%s", error)
        os._exit(1)

    return handler
