# A gunicorn configuration file whose hooks record what they were given, one line each, in
# the file named by $HOOK_LOG; $HOOK_FAIL names a hook that raises.
import os


def _record(*words):
    with open(os.environ["HOOK_LOG"], "a") as log:
        log.write(" ".join(str(w) for w in words) + "\n")


def _maybe_fail(name):
    if os.environ.get("HOOK_FAIL") == name:
        raise RuntimeError("%s fails on purpose" % name)


def on_starting(server):
    _record("on_starting", server.pid, server.num_workers, os.getpid() != server.pid)
    _maybe_fail("on_starting")


def when_ready(server):
    _record("when_ready", ",".join(server.address))
    _maybe_fail("when_ready")


def pre_fork(server, worker):
    _record("pre_fork", worker.age)


def post_fork(server, worker):
    _record("post_fork", worker.pid, worker.age, server.pid, worker.cfg.workers)
    _maybe_fail("post_fork")


def post_worker_init(worker):
    _record("post_worker_init", worker.pid, worker.wsgi is not None)


def pre_request(worker, req):
    headers = dict(req.headers)
    _record("pre_request", worker.pid, req.method, req.path, req.query, headers.get("X-REQUEST-ID"))
    if req.path == "/refused-by-hook":
        raise RuntimeError("pre_request refuses this one")


def post_request(worker, req, environ, resp):
    _record("post_request", req.path, resp.status_code, environ["PATH_INFO"])
    _maybe_fail("post_request")


def child_exit(server, worker):
    _record("child_exit", worker.pid, worker.age)
    _maybe_fail("child_exit")


def worker_exit(server, worker):
    _record("worker_exit", worker.pid)


def on_reload(server):
    _record("on_reload")


def nworkers_changed(server, new, old):
    _record("nworkers_changed", new, old)


def on_exit(server):
    _record("on_exit")


def worker_abort(worker):
    _record("worker_abort", worker.pid)
