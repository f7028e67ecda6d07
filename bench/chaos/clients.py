"""Scenarios where the chaos comes from clients, or from time: a baseline, slow readers, slow
writers, clients that vanish mid-response, and the soak. No process is struck, so every failed
request of the normal load, and any worker exit, fails the scenario."""

import asyncio
import random
import statistics
import time

from common import Result, fmt_ms, kinds, loaded, percentile, run_for
from load import Failure, Stats, connect, exchange
from mix import Mix, pattern
from slow import BIG, Tally, expected, slow_reader, slow_writer, vanisher


async def baseline(ctx):
    """The normal load alone: the reference for every other line."""
    r = Result("baseline")
    async with loaded(ctx, r, fds=True) as (server, load):
        await asyncio.sleep(ctx.duration)
    r.check_failures(r.stats)
    _check_fds(r)
    r.check_log(server)
    return r


async def slow_readers(ctx, count=64):
    """`count` clients ask for 1-4 MiB answers (a file, a generator, a list body) and read them
    at 32 bytes/s through a 4 KiB receive buffer, beside the normal load."""
    r = Result("slow-readers")
    tally = Tally()
    async with loaded(ctx, r, fds=True) as (server, load):
        stop = asyncio.Event()
        tasks = []
        for i in range(count):
            target, _ = BIG[i % len(BIG)]
            want = expected(ctx.files, pattern, target)
            tasks.append(asyncio.ensure_future(
                slow_reader(server.port, target, want, lambda: not stop.is_set(), tally)))
        await asyncio.sleep(ctx.duration)
        stop.set()
        await asyncio.gather(*tasks)
    r.check_failures(r.stats, "the normal load")
    if tally.mismatch:
        r.problems.append(f"{tally.mismatch} slow readers got wrong bytes")
    r.events.append(f"slow: {tally.line()}")
    if tally.ended_after:
        r.events.append(f"cut after {min(tally.ended_after):.0f}-{max(tally.ended_after):.0f} s")
    _check_fds(r)
    r.check_log(server)
    return r


async def slow_writers(ctx, count=32):
    """`count` clients trickle requests in, one after another, beside the normal load: half a
    GET head at ~24 B/s (about 4 s a head, under `--header-timeout` 10 s), half a 2 KiB POST
    body at 400 B/s. Every trickled request must be answered right."""
    r = Result("slow-writers")
    slow_stats = Stats()
    rng = random.Random(5)
    async with loaded(ctx, r, fds=True) as (server, load):
        end = time.monotonic() + ctx.duration

        async def writer(i):
            while time.monotonic() < end - 4:
                if i % 2:
                    await slow_writer(server.port, None, slow_stats, 24)
                else:
                    await slow_writer(server.port, rng.randbytes(2048), slow_stats, 400)

        await asyncio.gather(*(writer(i) for i in range(count)))
        await asyncio.sleep(max(0.0, end - time.monotonic()))
    r.check_failures(r.stats, "the normal load")
    if slow_stats.failed:
        r.problems.append(f"{sum(slow_stats.failed.values())} trickled requests failed")
    r.events.append(f"slow: {slow_stats.ok}/{slow_stats.requests} trickled requests ok"
                    + (f" (failed: {dict(slow_stats.failed)})" if slow_stats.failed else ""))
    r.data["slow_writers"] = {"requests": slow_stats.requests, "ok": slow_stats.ok,
                              "failed": dict(slow_stats.failed), "examples": slow_stats.examples}
    _check_fds(r)
    r.check_log(server)
    return r


async def vanish(ctx, concurrent=8):
    """`concurrent` clients at a time ask for a large answer (file, generator, list body) or
    start a 1 MiB upload, and go away part way, with a reset or a close, beside the normal load.
    The workers must live on, and their descriptors come back."""
    r = Result("vanish")
    tally = Tally()
    rng = random.Random(6)
    async with loaded(ctx, r, fds=True) as (server, load):
        end = time.monotonic() + ctx.duration

        async def loop():
            while time.monotonic() < end:
                await vanisher(server.port, ctx.files, pattern, rng, tally)

        await asyncio.gather(*(loop() for _ in range(concurrent)))
    r.check_failures(r.stats, "the normal load")
    r.events.append(f"vanished: {sum(v for k, v in tally.count.items() if '(' in k):,}")
    r.data["vanish"] = dict(tally.count)
    _check_fds(r)
    r.check_log(server)
    return r


async def soak(ctx, every=10.0):
    """Steady mixed load for `ctx.soak` seconds, master + worker RSS every 10 s. Goal: no
    error, and less than 5% RSS growth after the warm-up (the first sixth, at least 20 s), no
    worker replaced, no descriptor left behind."""
    r = Result("soak")
    samples = []
    warm = max(20.0, ctx.soak / 6)
    async with loaded(ctx, r, fds=True) as (server, load):
        started = time.monotonic()
        workers = set(server.live_workers())

        async def sample():
            total, per = server.rss_kib()
            samples.append((round(time.monotonic() - started), total, per, load.stats.requests))

        await run_for(ctx.soak, sample, every)
        await sample()
        replaced = set(server.live_workers()) != workers
    r.check_failures(r.stats)
    # Growth: the median of the last fifth of the samples after the warm-up against the median
    # of its first fifth (single samples swing by a few MiB with the large request bodies).
    after = [total for t, total, _, _ in samples if t >= warm] or [samples[-1][1]]
    k = max(1, len(after) // 5)
    early, late = statistics.median(after[:k]), statistics.median(after[-k:])
    growth = (late - early) / early * 100
    r.rss = [samples[0][1], samples[-1][1]]
    r.events.append(f"RSS idle {samples[0][1] / 1024:.1f}, after warm-up ({warm:.0f} s) {early / 1024:.1f},"
                    f" at the end {late / 1024:.1f} MiB: {growth:+.1f}%; peak {max(s[1] for s in samples) / 1024:.1f}")
    r.data["rss_samples"] = [{"t": t, "rss_kib": total, "per_pid": per, "requests": n}
                             for t, total, per, n in samples]
    if growth >= 5.0:
        r.problems.append(f"RSS grew {growth:.1f}% after warm-up (limit 5%)")
    if replaced:
        r.problems.append("the set of workers changed during the soak")
    _check_fds(r)
    r.check_log(server)
    return r


async def fairness(ctx, clients=60, every=0.25):
    """One worker, `clients` keep-alive clients keeping it busy with a 5 ms view (so it always
    has a request ready), and every `every` s a new connection asking for /app/hello: it should
    be answered within about one round of the busy clients. A probe slower than max(1 s, 2 x the
    busy clients' p99), or unanswered in 10 s, fails the scenario."""
    r = Result("accept-fairness")
    probes = Stats()
    busy = Mix(ctx.files, {"work5": 1})
    async with loaded(ctx, r, workers=1, clients=clients, close_share=0.0, idle_share=0.0,
                      rss=False, mix=busy) as (server, load):
        end = time.monotonic() + ctx.duration
        await asyncio.sleep(1.0)
        n = 0
        while time.monotonic() < end:
            n += 1
            asyncio.ensure_future(_probe(server.port, n, probes))
            await asyncio.sleep(every)
        await asyncio.sleep(10.0)
    r.check_failures(r.stats, "the busy clients")
    p99 = percentile(r.stats.latencies, 99) or 0.0
    bound = max(1.0, 2 * p99)
    slow = [x for x in probes.latencies if x > bound]
    lat = sorted(probes.latencies)
    if lat:
        r.events.append(f"{probes.requests} new connections: first answer p50 {fmt_ms(lat[len(lat) // 2])},"
                        f" max {fmt_ms(lat[-1])}; {len(slow)} over {fmt_ms(bound)}")
    if probes.failed:
        r.events.append(f"probes failed: {kinds(probes.failed)}")
        r.problems.append(f"{sum(probes.failed.values())} new connections got no answer")
    if slow:
        r.problems.append(f"{len(slow)} of {probes.requests} new connections waited over {fmt_ms(bound)}")
    r.data["probe_latencies_ms"] = [round(x * 1000, 1) for x in probes.latencies]
    r.check_log(server)
    return r


async def _probe(port, n, stats, limit=10.0):
    started = time.monotonic()
    conn = None
    want = b"hello probe%d\n" % n
    try:
        async with asyncio.timeout(limit):
            conn = await connect(port, {})
            status, _, body, _ = await exchange(
                conn, f"GET /app/hello?t=probe{n} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), "GET")
        stats.record("ok" if status == 200 and body == want else f"status-{status}", started, None)
    except Failure as err:
        stats.record(err.kind, started, None, err.detail)
    except TimeoutError:
        stats.record("timeout", started, None, f"no answer in {limit:.0f} s")
    finally:
        if conn is not None:
            conn.close()


def _check_fds(r):
    if r.fds and r.fds[1] > r.fds[0] + 2:
        r.problems.append(f"worker descriptors {r.fds[0]} → {r.fds[1]} after the clients left")
