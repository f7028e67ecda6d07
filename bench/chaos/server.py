"""One pyrite under test: started in its own process group on a free loopback port with the
chaos app and the static files, its error log kept in a file the scenarios read (boots,
reloads, exits), and stopped — with everything it forked, USR2 masters included — at the end."""

import os
import re
import signal
import socket
import subprocess
import time

import procs

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, binary, tmp, files_dir, workers=2, extra=()):
        self.binary = binary
        self.port = free_port()
        self.pidfile = os.path.join(tmp, "pyrite.pid")
        self.logpath = os.path.join(tmp, "pyrite.log")
        self.workers = workers
        self.argv = [
            binary, "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "--pid", self.pidfile,
            "--pythonpath", os.path.join(HERE, "apps"), "--static", f"/static={files_dir}",
            *extra, "chaos_app:application",
        ]
        self.proc = None
        self.pgrp = None

    def start(self, limit=60.0):
        for stale in (self.pidfile, self.logpath):
            if os.path.exists(stale):
                os.unlink(stale)
        log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=procs.die_with_parent,
        )
        log.close()
        self.pgrp = self.proc.pid
        if not self.wait_workers(self.workers, limit):
            self.stop()
            raise RuntimeError(f"pyrite did not boot {self.workers} workers; log:\n{self.log()[-2000:]}")

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def booted(self):
        """Pids that logged `booted worker`, in order."""
        return [int(p) for p in re.findall(r"booted worker pid=(\d+)", self.log())]

    def count(self, text):
        return self.log().count(text)

    def master(self):
        """The current master (its pid file; USR2 moves it)."""
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return self.proc.pid

    def live_workers(self):
        """Booted, running (or stopped) workers of every master."""
        booted = set(self.booted())
        return [p for p in procs.workers_of(self.pgrp) if p in booted]

    def wait_workers(self, n, limit=30.0, exclude=()):
        until = time.monotonic() + limit
        while time.monotonic() < until:
            if self.proc.poll() is not None and not procs.masters_of(self.pgrp):
                return False
            live = [p for p in self.live_workers() if p not in exclude]
            if len(live) >= n:
                return True
            time.sleep(0.05)
        return False

    def rss_kib(self):
        """(master + workers) resident memory, and the per-process values."""
        pids = procs.masters_of(self.pgrp) + procs.workers_of(self.pgrp)
        per = {p: procs.rss_kib(p) for p in pids}
        return sum(per.values()), per

    def worker_fds(self):
        return sum(procs.fd_count(p) for p in procs.workers_of(self.pgrp))

    def signal_master(self, sig):
        os.kill(self.master(), sig)

    def stop(self, limit=15.0):
        """SIGTERM to every master of the group (a USR2 storm may leave more than one); SIGKILL
        to the whole group after `limit`. Returns the seconds the graceful stop took, or None if
        it had to be killed."""
        if self.proc is None:
            return None
        started = time.monotonic()
        for pid in set(procs.masters_of(self.pgrp)) | {self.master()}:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        took = None
        until = started + limit
        while time.monotonic() < until:
            reap()
            if not procs.group_members(self.pgrp):
                took = time.monotonic() - started
                break
            time.sleep(0.05)
        try:
            os.killpg(self.pgrp, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        reap()
        return took


class Peer(Server):
    """gunicorn with its gthread worker serving the same app, for comparing a scenario that only
    needs the app (`--peer`, accept-fairness): `gunicorn -k gthread --threads T -w W`."""

    def __init__(self, gunicorn, threads, tmp, workers=1):
        super().__init__(gunicorn, tmp, None, workers)
        self.argv = [
            gunicorn, "-k", "gthread", "--threads", str(threads), "-w", str(workers),
            "-b", f"127.0.0.1:{self.port}", "--pid", self.pidfile, "--log-level", "info",
            "--chdir", os.path.join(HERE, "apps"), "chaos_app:application",
        ]

    def wait_workers(self, n, limit=30.0, exclude=()):
        until = time.monotonic() + limit
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    s.sendall(b"GET /app/hello?t=up HTTP/1.0\r\n\r\n")
                    if s.recv(12)[8:12] == b" 200":
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def live_workers(self):
        return [p for p, (ppid, _) in procs.group_members(self.pgrp).items() if ppid == self.pgrp]


EXITED = {}


def reap():
    """Reaps exited children (masters re-parented here after a USR2), keeping their exit codes
    (a negative number for a signal) in `EXITED`."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        EXITED[pid] = os.waitstatus_to_exitcode(status)
