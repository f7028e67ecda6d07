"""PEP 3333 corners, one behaviour per path, for tests/wsgi/request.rs, tests/wsgi/response.rs
and tests/wsgi/process.rs.

Every path answers in a way a raw-HTTP test can check; what cannot be seen on the wire (close()
calls, reads of a file) is reported on wsgi.errors, which reaches pyrite's error log.
"""

import atexit
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from urllib.parse import parse_qs


def _json(start_response, value, status="200 OK"):
    body = json.dumps(value).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


# --- wsgi.input ------------------------------------------------------------------------------

def input_ops(environ, start_response):
    """?ops=read:5,readline,readline:3,readlines:10,iter,read — the repr of every result."""
    stream = environ["wsgi.input"]
    results = []
    for op in _query(environ).get("ops", "").split(","):
        name, _, arg = op.partition(":")
        args = (int(arg),) if arg else ()
        if name == "iter":
            value = list(stream)
        else:
            value = getattr(stream, name)(*args)
        results.append(repr(value))
    results.append(repr(stream.read()))
    results.append(repr(stream.readline()))
    return _json(start_response, {
        "results": results,
        "terminated": environ["wsgi.input_terminated"],
        "content_length": environ.get("CONTENT_LENGTH"),
    })


# --- start_response ----------------------------------------------------------------------------

def twice(environ, start_response):
    start_response("200 OK", [])
    try:
        start_response("201 Created", [])
    except Exception as exc:
        return [f"second call raised {type(exc).__name__}".encode()]
    return [b"second call was accepted"]


def exc_info_before(environ, start_response):
    start_response("200 OK", [("X-First", "yes")])
    try:
        raise ValueError("replaced before any byte")
    except ValueError:
        start_response("500 Replaced", [("X-Second", "yes")], sys.exc_info())
    return [b"replaced"]


def exc_info_after(environ, start_response):
    errors = environ["wsgi.errors"]
    start_response("200 OK", [])

    def body():
        yield b"part one;"
        try:
            raise ValueError("after the headers went out")
        except ValueError:
            try:
                start_response("500 Too Late", [], sys.exc_info())
            except ValueError:
                errors.write("exc_info_after: start_response re-raised ValueError\n")
                raise
            errors.write("exc_info_after: start_response did not re-raise\n")
        yield b"never"

    return body()


def write_then_exc_info(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written;")
    try:
        raise ValueError("after write()")
    except ValueError:
        try:
            start_response("500 Too Late", [], sys.exc_info())
        except ValueError:
            environ["wsgi.errors"].write("write_then_exc_info: start_response re-raised\n")
    return [b"returned"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Connection", "close"),
        ("Keep-Alive", "timeout=99"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("X-Kept", "yes"),
    ])
    return [b"hop-by-hop dropped"]


def lazy(environ, start_response):
    def body():
        start_response("201 Created Lazily", [("X-Lazy", "yes")])
        yield b""
        yield b"lazy "
        yield b"body"

    return body()


# --- write() -------------------------------------------------------------------------------------

def write_stream(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one,")

    def body():
        yield b"two,"
        write(b"three,")
        yield b"four,"
        write(b"five")

    return body()


def write_list(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written,")
    return [b"returned"]


# --- Content-Length and bodyless responses ------------------------------------------------------

def cl_short(environ, start_response):
    start_response("200 OK", [("Content-Length", "10")])
    return iter([b"12345"])


def cl_short_list(environ, start_response):
    start_response("200 OK", [("Content-Length", "10")])
    return [b"12345"]


def cl_long(environ, start_response):
    start_response("200 OK", [("Content-Length", "5")])
    return iter([b"123", b"4567890"])


class Closing:
    """An iterable that reports its close() calls on wsgi.errors."""

    def __init__(self, environ, name, chunks, fail_at=None):
        self.errors = environ["wsgi.errors"]
        self.name = name
        self.chunks = list(chunks)
        self.fail_at = fail_at
        self.pulled = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError(f"{self.name} fails on purpose")
            self.pulled += 1
            yield chunk

    def close(self):
        self.errors.write(f"closed {self.name} after {self.pulled}\n")
        self.errors.flush()


def head(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(environ, "head " + environ["REQUEST_METHOD"], [b"hello ", b"head"])


def status(environ, start_response):
    code = environ["PATH_INFO"].rsplit("/", 1)[1]
    start_response(f"{code} Whatever", [("Content-Type", "text/plain")])
    return Closing(environ, f"status {code}", [b"this body must not be sent"])


def empty_chunk(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"a", b"", b"b", b"", b"", b"c"])


# --- close() -----------------------------------------------------------------------------------

def close_normal(environ, start_response):
    start_response("200 OK", [])
    return Closing(environ, "normal", [b"x"] * 3)


def close_raise(environ, start_response):
    start_response("200 OK", [])
    return Closing(environ, "raising", [b"x"] * 3, fail_at=1)


def close_raise_first(environ, start_response):
    start_response("200 OK", [])
    return Closing(environ, "raising first", [b"x"] * 3, fail_at=0)


def big(environ, start_response):
    """100 MiB in 1 MiB chunks, streamed."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return Closing(environ, "big", [b"\x00" * (1 << 20)] * 100)


# --- wsgi.file_wrapper -------------------------------------------------------------------------

class Counting:
    """A file-like that reports how often Python read it and when it was closed."""

    kind = "file"
    errors = None
    reads = 0

    def read(self, size=-1):
        self.reads += 1
        return super().read(size)

    def close(self):
        if not self.closed and self.errors is not None:
            self.errors.write(f"{self.kind} closed after {self.reads} python reads\n")
        super().close()


class CountingFile(Counting, io.FileIO):
    """A real file."""


class CountingBytes(Counting, io.BytesIO):
    kind = "bytes"


def file(environ, start_response):
    """?path=P&offset=N&length=M&kind=file|bytes&blksize=B&prefix=TEXT (given to write())
    &status=CODE"""
    q = _query(environ)
    if q.get("kind", "file") == "file":
        f = CountingFile(q["path"], "rb")
    else:
        with open(q["path"], "rb") as src:
            f = CountingBytes(src.read())
    f.errors = environ["wsgi.errors"]
    f.seek(int(q.get("offset", "0")))
    headers = [("Content-Type", "application/octet-stream")]
    if "length" in q:
        headers.append(("Content-Length", q["length"]))
    status = f"{q['status']} Whatever" if "status" in q else "200 OK"
    write = start_response(status, headers)
    if "prefix" in q:
        write(q["prefix"].encode())
    wrapper = environ["wsgi.file_wrapper"]
    if "blksize" in q:
        return wrapper(f, int(q["blksize"]))
    return wrapper(f)


# --- wsgi.errors, strings ----------------------------------------------------------------------

def errors(environ, start_response):
    stream = environ["wsgi.errors"]
    stream.write("errors: line one\nerrors: line two\nerrors: partial")
    stream.write(" line three\n")
    stream.writelines(["errors: from writelines a\n", "errors: from writelines b\n"])
    stream.writelines(line for line in ["errors: from a generator\n"])
    stream.write("errors: flushed without a newline")
    stream.flush()
    print("errors: via print", file=stream)
    start_response("200 OK", [])
    return [b"ok"]


def strings(environ, start_response):
    cgi = {k: v for k, v in environ.items() if k.isupper()}
    return _json(start_response, {
        "not_str": sorted(k for k, v in cgi.items() if type(v) is not str),
        "SCRIPT_NAME": ascii(environ["SCRIPT_NAME"]),
        "PATH_INFO": ascii(environ["PATH_INFO"]),
        "QUERY_STRING": ascii(environ["QUERY_STRING"]),
        "HTTP_X_LATIN": ascii(environ.get("HTTP_X_LATIN", "")),
        "latin1_roundtrip": environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace"),
    })


# --- a Python that behaves like Python ----------------------------------------------------------

def double(x):
    return x * 2


def _child(queue, x):
    queue.put(double(x))


def process_info(environ, start_response):
    return _json(start_response, {
        "executable": sys.executable,
        "argv": sys.argv,
        "main_has_file": hasattr(sys.modules["__main__"], "__file__"),
        "version": "%d.%d" % sys.version_info[:2],
    })


def mp(environ, start_response):
    method = _query(environ)["method"]
    ctx = multiprocessing.get_context(method)
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, 21))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(60)
    return _json(start_response, {"method": method, "result": result, "exitcode": proc.exitcode})


def _sleeper():
    time.sleep(600)


def mp_terminate(environ, start_response):
    """A child the app forks or spawns stops on `terminate()` (SIGTERM), as pools rely on."""
    ctx = multiprocessing.get_context(_query(environ)["method"])
    proc = ctx.Process(target=_sleeper)
    proc.start()
    proc.terminate()
    proc.join(60)
    if proc.exitcode is None:
        proc.kill()
        proc.join()
    return _json(start_response, {"exitcode": proc.exitcode})


def threads(environ, start_response):
    results = []

    def work(n):
        results.append(sum(range(n)))

    workers = [threading.Thread(target=work, args=(n,)) for n in (10, 100, 1000)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return _json(start_response, {"results": sorted(results)})


_background = {"ticks": 0}


def _ticker(stop):
    while not stop.wait(0.01):
        _background["ticks"] += 1


_stop = threading.Event()
threading.Thread(target=_ticker, args=(_stop,), daemon=True).start()


def background(environ, start_response):
    return _json(start_response, {"ticks": _background["ticks"]})


def at_exit(environ, start_response):
    path = _query(environ)["path"]

    def record():
        with open(path, "a") as f:
            f.write(f"atexit ran in {os.getpid()}\n")

    atexit.register(record)
    return _json(start_response, {"registered": path, "pid": os.getpid()})


def sigterm(environ, start_response):
    path = _query(environ)["path"]

    def handler(signum, frame):
        with open(path, "a") as f:
            f.write(f"sigterm handler ran with {signum}\n")
        sys.exit(0)

    previous = signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    return _json(start_response, {
        "previous": str(previous),
        "current_is_handler": signal.getsignal(signal.SIGTERM) is handler,
    })


ROUTES = {
    "/input": input_ops,
    "/twice": twice,
    "/exc_info_before": exc_info_before,
    "/exc_info_after": exc_info_after,
    "/write_then_exc_info": write_then_exc_info,
    "/hop": hop_by_hop,
    "/lazy": lazy,
    "/write_stream": write_stream,
    "/write_list": write_list,
    "/cl_short": cl_short,
    "/cl_short_list": cl_short_list,
    "/cl_long": cl_long,
    "/head": head,
    "/empty_chunk": empty_chunk,
    "/close_normal": close_normal,
    "/close_raise": close_raise,
    "/close_raise_first": close_raise_first,
    "/big": big,
    "/file": file,
    "/errors": errors,
    "/process": process_info,
    "/mp": mp,
    "/mp_terminate": mp_terminate,
    "/threads": threads,
    "/background": background,
    "/atexit": at_exit,
    "/sigterm": sigterm,
}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/status/"):
        return status(environ, start_response)
    if path.startswith("/strings"):
        return strings(environ, start_response)
    view = ROUTES.get(path)
    if view is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such corner: " + path.encode("latin-1")]
    return view(environ, start_response)
