#!/usr/bin/env python3
"""Fairness of the thread pool under a mixed load, run by hand (never a timed test):

    bench/poolmix/run.py [--bin target/release/pyrite ...] [--granian] [--rounds 3] [--seconds 10]

One worker with `--threads 8` (server on CPU 0, the clients on CPU 1) serves three loads at once
(bench/apps/poolmix.py): 24 connections asking for `/cpu` (about 2 ms of Python each: the pool
is saturated and its threads queue for the GIL), 8 asking for `/io` (5 ms of `time.sleep`, as a
database call) and 4 asking for `/quick`. For each route it prints req/s and the 50th, 90th and
99th percentile latencies from `wrk --latency`, the median over the rounds. What it shows is who
waits for the GIL: a change that makes the pool cheaper per request by holding the GIL longer, or
by waking threads less eagerly, shows up here as `/io` or `/quick` latency.

Several `--bin` are measured round by round, alternating (so a burst of other work on the
machine hits them alike); `--granian` adds Granian (`--blocking-threads 8`) from the venv that
bench/setup.sh creates (target/bench-venv).
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "bench" / "apps"
VENV = ROOT / "target" / "bench-venv"
LOADS = [("cpu", 24), ("io", 8), ("quick", 4)]
THREADS = 8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(server, port):
    if server == "granian":
        return [str(VENV / "bin" / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1", "--blocking-threads", str(THREADS),
                "--no-access-log", "--log-level", "warning", "--working-dir", str(APPS),
                "poolmix:application"]
    return [server, "-b", f"127.0.0.1:{port}", "-w", "1", "--threads", str(THREADS),
            "--pythonpath", str(APPS), "poolmix:application"]


def wait_ready(proc, port):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/quick", timeout=1) as r:
                if r.read() == b"quick":
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not answer within 30 s")


def parse(out):
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = "; ".join(m.group(0) for m in re.finditer(r"Non-2xx or 3xx responses: \d+|Socket errors: .*", out))
    return {"rps": rps, "p50": pct(50), "p90": pct(90), "p99": pct(99), "errors": errors}


def one_run(server, seconds):
    port = free_port()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.Popen(["taskset", "-c", "0"] + command(server, port), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_ready(proc, port)
        clients = {}
        for route, conns in LOADS:
            # The flood starts first and ends last: the measured clients always meet it.
            d = seconds + 2 if route == "cpu" else seconds
            clients[route] = subprocess.Popen(
                ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{d}s", "--latency",
                 f"http://127.0.0.1:{port}/{route}"], stdout=subprocess.PIPE, text=True)
            if route == "cpu":
                time.sleep(1)
        return {route: parse(c.communicate(timeout=seconds + 60)[0]) for route, c in clients.items()}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", help="a pyrite binary (repeatable)")
    ap.add_argument("--granian", action="store_true", help="measure Granian beside it")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    servers = [str(Path(b).resolve()) for b in (args.bin or [str(ROOT / "target/release/pyrite")])]
    if args.granian:
        servers.append("granian")
    runs = {s: [] for s in servers}
    for r in range(args.rounds):
        for s in servers:
            runs[s].append(one_run(s, args.seconds))
            print(f"round {r + 1}: {s}: " + ", ".join(
                f"{route} {v['rps']:.0f}/s p99 {v['p99']:.1f} ms" for route, v in runs[s][-1].items()),
                file=sys.stderr)
    print("| server | route | req/s | p50 ms | p90 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---|")
    for s in servers:
        for route, _ in LOADS:
            med = {k: statistics.median(run[route][k] for run in runs[s]) for k in ("rps", "p50", "p90", "p99")}
            errors = "; ".join(e for e in (run[route]["errors"] for run in runs[s]) if e)
            print(f"| {s} | /{route} | {med['rps']:.0f} | {med['p50']:.1f} | {med['p90']:.1f} | "
                  f"{med['p99']:.1f} | {errors or 'none'} |")


if __name__ == "__main__":
    sys.exit(main())
