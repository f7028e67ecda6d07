"""One app for the supervision tests; the path picks the behaviour, the answer is JSON.

/              who and where this worker is: pid, ppid, import-time pid, uid, gid, groups, umask
/sleep?s=N     time.sleep(N) (logs "supervised app: sleep started" to wsgi.errors first)
/guarded?s=N   time.sleep(N) inside `except Exception` (which must not catch a request timeout);
               any BaseException is described on wsgi.errors, then re-raised
/stuck         blocks for good inside C code, where no Python signal handler can run
/hoard?mib=N   allocates N MiB (pages touched) and keeps it for the life of the process
/log?msg=TEXT  writes TEXT to wsgi.errors
/touch?path=P  creates the file P and reports its permission bits
"""

import ctypes
import json
import os
import stat
import time
from urllib.parse import parse_qs

IMPORT_PID = os.getpid()
_HOARD = []


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _info():
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "import_pid": IMPORT_PID,
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "egid": os.getegid(),
        "groups": os.getgroups(),
        "umask": _umask(),
        "hoard_mib": sum(len(b) for b in _HOARD) // (1024 * 1024),
    }


def _stuck_in_c():
    # Locking a default (non-recursive, non-error-checking) pthread mutex twice from the same
    # thread deadlocks inside libc; a signal does not break the wait, so control never returns
    # to Python and no Python-level exception can be raised.
    libc = ctypes.CDLL(None, use_errno=True)
    mutex = ctypes.create_string_buffer(64)  # zeroed == PTHREAD_MUTEX_INITIALIZER on glibc
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    errors = environ["wsgi.errors"]
    payload = {}
    if path == "/sleep":
        seconds = float(query.get("s", "10"))
        errors.write("supervised app: sleep started s=%s\n" % seconds)
        errors.flush()
        time.sleep(seconds)
        payload["slept"] = seconds
    elif path == "/guarded":
        seconds = float(query.get("s", "10"))
        try:
            try:
                time.sleep(seconds)
            except Exception:
                payload["swallowed"] = True
        except BaseException as exc:
            errors.write(
                "supervised app: caught %s.%s exception_subclass=%s\n"
                % (type(exc).__module__, type(exc).__qualname__, isinstance(exc, Exception))
            )
            errors.flush()
            raise
    elif path == "/stuck":
        errors.write("supervised app: stuck started\n")
        errors.flush()
        _stuck_in_c()
    elif path == "/hoard":
        mib = int(query.get("mib", "100"))
        _HOARD.append(b"\x01" * (mib * 1024 * 1024))
    elif path == "/log":
        errors.write("%s\n" % query.get("msg", ""))
        errors.flush()
    elif path == "/touch":
        target = query["path"]
        with open(target, "w") as f:
            f.write("x")
        payload["mode"] = stat.S_IMODE(os.stat(target).st_mode)
    payload.update(_info())
    out = json.dumps(payload).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))]
    )
    return [out]
