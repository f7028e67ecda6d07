"""What every scenario shares: the run's settings, a fresh server per scenario with the normal
load running against it, and the result (one summary line, one table row, a verdict)."""

import asyncio
import contextlib
import os
import re
import shutil
import time

import procs
from load import Load
from server import Peer, Server, reap


class Ctx:
    """The run's settings: binary, scratch directory, static files, durations."""

    def __init__(self, binary, tmp, files_dir, files, mix, duration, soak, workers, clients):
        self.binary = binary
        self.tmp = tmp
        self.files_dir = files_dir
        self.files = files
        self.mix = mix
        self.duration = duration
        self.soak = soak
        self.workers = workers
        self.clients = clients
        self.logs = None  # a directory for each scenario's server log, when set
        self.peer = None  # (gunicorn, threads): run gunicorn gthread instead of pyrite
        self.extra = ()  # flags added to every pyrite command line (--pyrite-args)

    def server(self, extra=(), workers=None):
        if self.peer:
            return Peer(*self.peer, self.tmp, workers or self.workers)
        return Server(self.binary, self.tmp, self.files_dir, workers or self.workers,
                      (*self.extra, *extra))


class Result:
    def __init__(self, name):
        self.name = name
        self.stats = None
        self.lost_label = None
        self.rss = None
        self.fds = None
        self.events = []
        self.problems = []
        self.notes = []
        self.data = {}
        self.backlog = []

    @property
    def verdict(self):
        return "FAIL" if self.problems else "PASS"

    def check_failures(self, stats, who="the load"):
        if stats.failed:
            self.problems.append(f"{sum(stats.failed.values())} failed requests ({who})")

    def check_log(self, server, allow_exits=False):
        """A panic is always a problem; so is a worker that exited (or was killed for hanging)
        where the scenario never asked for it."""
        log = server.log()
        panics = log.count("panicked")
        if panics:
            self.problems.append(f"{panics} panics in the server log")
        if not allow_exits:
            exits = re.findall(r"WARN.*worker exited.*", log)
            hung = log.count("worker timed out")
            if exits or hung:
                self.problems.append(f"{len(exits)} unexpected worker exits, {hung} hung-worker kills")
                self.notes.append(exits[0][-160:] if exits else "worker timed out")


def fmt_ms(seconds):
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def kinds(counter):
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


@contextlib.asynccontextmanager
async def loaded(ctx, result, extra=(), workers=None, clients=None, fds=False, rss=True,
                 mix=None, **load_kw):
    """A fresh server with the normal load on it for the body of the `async with`; on exit the
    load stops (its outcomes go to `result`), then the server (its log is checked by the
    scenario through `result.server`)."""
    server = ctx.server(extra, workers)
    server.start()
    result.server = server
    if rss:
        result.rss = [server.rss_kib()[0], None]
    if fds:
        result.fds = [server.worker_fds(), None]
    load = Load(server.port, mix or ctx.mix, clients or ctx.clients, **load_kw)
    load.start()
    sampler = asyncio.ensure_future(_sample_backlog(server.port, result))
    try:
        yield server, load
    finally:
        sampler.cancel()
        await load.stop()
        result.stats = load.stats
        if fds:
            result.fds[1] = await settle_fds(server, result.fds[0])
        if rss:
            result.rss[1] = server.rss_kib()[0]
        result.stop_seconds = server.stop()
        if result.stop_seconds is None:
            result.problems.append("the server did not stop within 15 s of SIGTERM")
        if ctx.logs:
            shutil.copyfile(server.logpath, os.path.join(ctx.logs, f"{result.name}.log"))


async def _sample_backlog(port, result, every=0.5):
    """The listen queue under load, every 0.5 s: connections the kernel accepted that no worker
    has taken yet."""
    samples = result.backlog = []
    while True:
        depth = procs.listen_queue(port)
        if depth is not None:
            samples.append(depth)
        await asyncio.sleep(every)


async def settle_fds(server, start, limit=8.0):
    """Worker descriptors once the clients are gone: given a few seconds to fall back to `start`
    (the server sees the last closes a little after the clients make them)."""
    until = time.monotonic() + limit
    now = server.worker_fds()
    while now > start and time.monotonic() < until:
        await asyncio.sleep(0.25)
        now = server.worker_fds()
    return now


async def run_for(seconds, step, every):
    """Calls `step()` (a coroutine) every `every` seconds for `seconds`, reaping as it goes."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await step()
        reap()
        await asyncio.sleep(max(0.0, min(every, end - time.monotonic())))


async def until(cond, limit, every=0.05):
    """Waits (without blocking the load) until `cond()` holds; returns whether it did."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        reap()
        if cond():
            return True
        await asyncio.sleep(every)
    return cond()


async def workers_back(server, n, limit=15.0, exclude=()):
    """True once `n` booted workers other than `exclude` are running."""
    return await until(lambda: len([p for p in server.live_workers() if p not in exclude]) >= n,
                       limit)


async def settled(server, n, limit=20.0):
    """True once exactly `n` booted workers remain (old ones drained away)."""
    return await until(lambda: len(server.live_workers()) == n, limit, 0.1)


def doom(server, load, pid, label):
    """Marks the load's connections that `pid` holds (it must be stopped) as lost with it."""
    ports = procs.sockets_of(pid, server.port)
    marked = 0
    for port in ports:
        conn = load.registry.get(port)
        if conn is not None:
            conn.doomed = label
            marked += 1
    return marked
