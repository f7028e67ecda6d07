#!/usr/bin/env python3
"""Slowloris against one worker, run by hand (never a timed test):

    bench/slowloris/run.py [--bin target/release/pyrite] [--conns 1000] [--seconds 20]

Starts `pyrite -w 1` with a hello-world app, measures a normal client's latency with
`wrk --latency` (4 keep-alive connections) alone, then again while CONNS connections each send
one byte of a request head per second (reconnecting whenever the server closes them, so CONNS
stay open), and samples the worker's RSS throughout. Prints one table.
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

APP = b'''BODY = b"Hello, world!\\n"
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
'''

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n" + b"X-Slow: " + b"a" * 4000


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wrk(port, seconds):
    out = subprocess.run(
        ["wrk", "-t1", "-c4", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True).stdout
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Socket errors: (.*)", out)
    return pct(50), pct(99), rps, errors.group(1) if errors else "none"


async def slow_client(port, stats, stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats["connect_errors"] += 1
            await asyncio.sleep(1)
            continue
        stats["open"] += 1
        try:
            for i in range(len(HEAD)):
                if stop.is_set():
                    break
                writer.write(HEAD[i:i + 1])
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                    if data.startswith(b"HTTP/1.1 408"):
                        stats["408"] += 1
                    break  # answered or closed: reconnect
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        finally:
            stats["open"] -= 1
            writer.close()


def run_slowloris(port, conns, stats, stop, ready):
    async def main():
        astop = asyncio.Event()
        tasks = [asyncio.create_task(slow_client(port, stats, astop)) for _ in range(conns)]
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.2)
        astop.set()
        await asyncio.wait(tasks, timeout=3)
    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/pyrite")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "hello.py"), "wb") as f:
        f.write(APP)
    port = 20000 + os.getpid() % 20000
    server = subprocess.Popen(
        [args.bin, "-w", "1", "-b", f"127.0.0.1:{port}", "--pythonpath", tmp, "hello:application"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in server.stderr:
        if "booted worker" in line:
            worker = int(re.search(r"pid=(\d+)", line).group(1))
            break
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    try:
        rss_idle = rss_kb(worker)
        base = wrk(port, args.seconds)
        stats = {"open": 0, "408": 0, "connect_errors": 0}
        stop, ready = threading.Event(), threading.Event()
        t = threading.Thread(target=run_slowloris, args=(port, args.conns, stats, stop, ready))
        t.start()
        ready.wait()
        time.sleep(3)  # let every slow connection open
        rss_peak = [rss_kb(worker)]
        sampling = threading.Event()
        def sample():
            while not sampling.is_set():
                rss_peak.append(rss_kb(worker))
                time.sleep(0.5)
        threading.Thread(target=sample, daemon=True).start()
        open_during = stats["open"]
        attacked = wrk(port, args.seconds)
        sampling.set()
        open_after = stats["open"]
        stop.set()
        t.join()
        print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>10}  socket errors")
        print(f"{'normal client alone':28} {base[0]:8.2f} {base[1]:8.2f} {base[2]:10.0f}  {base[3]}")
        print(f"{'with slowloris':28} {attacked[0]:8.2f} {attacked[1]:8.2f} {attacked[2]:10.0f}  {attacked[3]}")
        print(f"slow connections open: {open_during} at start, {open_after} at end "
              f"(target {args.conns}); 408s received: {stats['408']}; "
              f"connect errors: {stats['connect_errors']}")
        print(f"worker RSS: {rss_idle} kB idle, {max(rss_peak)} kB peak under attack")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
