"""Scenarios that hit the server's processes under load: kill -9 of workers, SIGSTOP/SIGCONT
of a worker, HUP and USR2 storms, TTIN/TTOU. In the first two the requests on the struck worker
are lost by nature and counted apart; everywhere else any failed request fails the scenario."""

import asyncio
import os
import random
import signal
import time

import procs
from common import Result, doom, kinds, loaded, run_for, settled, until, workers_back
from load import Load
from mix import Mix
from server import EXITED

LOST_KILLED = "lost with the killed worker"
LOST_STOPPED = "lost with the stopped worker"


async def kill9(ctx):
    """Every ~1.5 s a random booted worker gets SIGKILL (after a SIGSTOP of a few ms, so the
    connections it holds can be listed exactly); the master must replace each one."""
    r = Result("kill9")
    r.lost_label = LOST_KILLED
    rng = random.Random(9)
    kills = []
    marked = 0
    async with loaded(ctx, r, rss=False) as (server, load):
        async def step():
            nonlocal marked
            live = server.live_workers()
            if not live:
                return
            pid = rng.choice(live)
            os.kill(pid, signal.SIGSTOP)
            procs.wait_stopped(pid)
            marked += doom(server, load, pid, LOST_KILLED)
            os.kill(pid, signal.SIGKILL)
            kills.append(pid)

        await asyncio.sleep(1.0)
        await run_for(ctx.duration - 2.0, step, 1.5)
        replaced = await workers_back(server, ctx.workers, exclude=kills)
        await asyncio.sleep(1.0)
    r.check_failures(r.stats, "on healthy workers")
    if not replaced:
        r.problems.append("killed workers not all replaced within 15 s")
    r.events.append(f"{len(kills)} kills, {'all' if replaced else 'NOT all'} replaced")
    r.data["connections held by the killed workers"] = marked
    r.check_log(server, allow_exits=True)
    return r


async def sigstop(ctx):
    """Two short stops (1 s, under `--timeout 2`: the worker must resume and lose nothing), then
    a long one: the master must find the silent worker and replace it; then SIGCONT."""
    r = Result("sigstop")
    r.lost_label = LOST_STOPPED
    timeout = 2
    async with loaded(ctx, r, extra=("--timeout", str(timeout)), rss=False) as (server, load):
        await asyncio.sleep(1.0)
        for _ in range(2):
            pid = random.Random(len(r.events)).choice(server.live_workers())
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(1.0)
            os.kill(pid, signal.SIGCONT)
            r.events.append(f"stop 1 s+cont: {'resumed' if procs.alive(pid) else 'KILLED'}")
            if not procs.alive(pid):
                r.problems.append("a worker stopped for 1 s (< --timeout) was killed")
            await asyncio.sleep(1.0)
        pid = server.live_workers()[0]
        os.kill(pid, signal.SIGSTOP)
        procs.wait_stopped(pid)
        doom(server, load, pid, LOST_STOPPED)
        stopped_at = time.monotonic()
        gone = None
        if await until(lambda: not procs.alive(pid), 20.0, 0.02):
            gone = time.monotonic() - stopped_at
        else:
            os.kill(pid, signal.SIGCONT)
        replaced = await workers_back(server, ctx.workers, exclude=[pid])
        back = time.monotonic() - stopped_at
        rest = ctx.duration - (time.monotonic() - stopped_at) - 5.0
        await asyncio.sleep(max(2.0, rest))
    r.check_failures(r.stats, "on healthy workers, or in the short stops")
    if gone is None:
        r.problems.append("a worker stopped for 20 s was never killed by the master")
        r.events.append("long stop: NOT replaced in 20 s")
    else:
        r.events.append(f"long stop: killed after {gone:.1f} s, serving again after {back:.1f} s"
                        f" (--timeout {timeout})")
        # The master's rule: silent past timeout + 2 s grace (+ 1 s beat allowance), SIGABRT,
        # SIGKILL 1 s later; allow 2 s of slack on a busy machine.
        if gone > timeout + 2 + 1 + 1 + 2:
            r.problems.append(f"the stopped worker was killed only after {gone:.1f} s")
    if not replaced:
        r.problems.append("the stopped worker was not replaced")
    r.check_log(server, allow_exits=True)
    return r


async def hup(ctx):
    """HUPs to the master every 0.3-1.5 s, now and then 2 or 3 in a burst: reloads follow each
    other, and a HUP during a reload is ignored."""
    r = Result("hup-storm")
    rng = random.Random(1)
    sent = 0
    async with loaded(ctx, r, rss=False) as (server, load):
        async def step():
            nonlocal sent
            for _ in range(rng.choice([1, 1, 2, 3])):  # now and then a burst, 30 ms apart
                server.signal_master(signal.SIGHUP)
                sent += 1
                await asyncio.sleep(0.03)
            await asyncio.sleep(rng.uniform(0.0, 1.2))

        await asyncio.sleep(1.0)
        await run_for(ctx.duration - 4.0, step, 0.3)
        settle = await settled(server, ctx.workers)
        await asyncio.sleep(2.0)
        reloads = server.count("reload complete")
    r.check_failures(r.stats)
    r.events.append(f"{sent} HUPs, {reloads} reloads completed")
    if reloads == 0:
        r.problems.append("no reload completed")
    if not settle:
        r.problems.append(f"worker count did not return to {ctx.workers}")
    _lost_is_failure(r)
    r.check_log(server, allow_exits=True)
    return r


async def usr2(ctx):
    """USR2 to whichever master the pid file names (now and then twice, 50 ms apart), again as
    soon as a new master has written it (plus 0-1 s): upgrades overlap and chain."""
    r = Result("usr2-storm")
    rng = random.Random(2)
    sent = 0
    async with loaded(ctx, r, rss=False) as (server, load):
        await asyncio.sleep(1.0)
        end = time.monotonic() + ctx.duration - 6.0
        while time.monotonic() < end:
            before = server.master()
            os.kill(before, signal.SIGUSR2)
            sent += 1
            if rng.random() < 0.3:  # a second one while the first upgrade is under way
                await asyncio.sleep(0.05)
                os.kill(before, signal.SIGUSR2)
                sent += 1
            await until(lambda: server.master() != before, 15.0)
            await asyncio.sleep(rng.uniform(0.0, 1.0))
        # The last upgrade finishes: one master, its workers serving.
        await until(lambda: len(procs.masters_of(server.pgrp)) == 1, 20.0, 0.1)
        masters = procs.masters_of(server.pgrp)
        current = server.master()
        members = procs.group_members(server.pgrp)
        left = {m: sum(1 for ppid, cmd in members.values() if ppid == m and "worker" in cmd)
                for m in masters}
        settle = await settled(server, ctx.workers)
        await asyncio.sleep(2.0)
        upgrades = server.count("new master serving")
    r.check_failures(r.stats)
    r.events.append(f"{sent} USR2, {upgrades} upgrades completed, {len(masters)} master(s) left")
    if len(masters) != 1:
        older = [f"{m} ({n} workers)" for m, n in left.items() if m != current]
        r.problems.append(f"{len(masters)} masters running 20 s after the last USR2: besides the"
                          f" pid file's, {', '.join(older)}")
        r.notes.append(_abandoned(server.log(), masters))
    if not settle:
        r.problems.append(f"worker count did not return to {ctx.workers}")
    _lost_is_failure(r)
    r.check_log(server, allow_exits=True)
    return r


async def ttin_ttou(ctx):
    """A random walk of TTIN / TTOU between 1 and 4 workers, one signal every 0.4-1.2 s."""
    r = Result("ttin-ttou")
    rng = random.Random(3)
    want = ctx.workers
    counts = {"TTIN": 0, "TTOU": 0}
    async with loaded(ctx, r, rss=False) as (server, load):
        async def step():
            nonlocal want
            up = want == 1 or (want < 4 and rng.random() < 0.5)
            server.signal_master(signal.SIGTTIN if up else signal.SIGTTOU)
            want += 1 if up else -1
            counts["TTIN" if up else "TTOU"] += 1
            await asyncio.sleep(rng.uniform(0.1, 0.9))

        await asyncio.sleep(1.0)
        await run_for(ctx.duration - 4.0, step, 0.3)
        settle = await settled(server, want)
        await asyncio.sleep(2.0)
    r.check_failures(r.stats)
    r.events.append(f"{counts['TTIN']} TTIN, {counts['TTOU']} TTOU, {want} workers at the end")
    if not settle:
        r.problems.append(f"worker count did not settle at {want}")
    _lost_is_failure(r)
    r.check_log(server, allow_exits=True)
    return r


async def term(ctx):
    """A graceful stop (SIGTERM to the master) under load, standalone. Once the listener is
    closed new connections are refused, as they must be; every request on a connection the
    kernel had already accepted (the listen backlog, idle keep-alive connections) must still be
    answered, so any other failure fails the scenario."""
    r = Result("term")
    async with loaded(ctx, r, rss=False) as (server, load):
        # A real app has slow views: one client keeps a 2 s request in flight.
        slow = Load(server.port, Mix(ctx.files, {"work2000": 1}), clients=1, close_share=0,
                    idle_share=0)
        slow.start()
        await asyncio.sleep(min(5.0, ctx.duration / 2))
        master = server.master()
        stopped_at = time.monotonic()
        os.kill(master, signal.SIGTERM)
        gone = await until(lambda: not procs.group_members(server.pgrp), 40.0, 0.02)
        took = time.monotonic() - stopped_at
        load.running = False
        await slow.stop()
    refused = 0
    for stats in (r.stats, slow.stats):
        for kind in ("refused", "POST refused"):
            n = stats.failed.pop(kind, 0)
            stats.requests -= n
            stats.posts -= n if kind.startswith("POST") else 0
            refused += n
    r.check_failures(r.stats, "on connections accepted before or during the drain")
    code = EXITED.get(master)
    r.events.append(f"SIGTERM: all processes gone after {took:.1f} s, master exit code {code}")
    s = slow.stats
    r.events.append(f"2 s requests: {s.ok} of {s.requests} ok"
                    + (f" (failed: {kinds(s.failed)})" if s.failed else ""))
    if s.failed:
        r.problems.append(f"{sum(s.failed.values())} failed 2 s requests")
    r.events.append(f"{refused:,} connection attempts refused after the listener closed (expected,"
                    " not counted as requests)")
    if not gone:
        r.problems.append("processes still running 40 s after SIGTERM")
    if code not in (0, None):
        r.problems.append(f"master exit code {code}")
    r.check_log(server, allow_exits=True)
    return r


def _abandoned(log, masters):
    """What the log says of the masters left over: the upgrades they saw fail."""
    lines = [line for line in log.splitlines() if "the new master (USR2) exited" in line]
    return f"{len(lines)} masters logged 'the new master (USR2) exited; this one keeps serving'" + (
        f", e.g. {lines[0][lines[0].index('WARN'):][:160]}" if lines else "")


def _lost_is_failure(r):
    # Nothing is killed here, so nothing is "lost by nature": check_failures already counted all.
    assert not r.stats.lost, r.stats.lost
