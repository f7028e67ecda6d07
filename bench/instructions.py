"""Instructions per request, pyrite beside its peers, counted by callgrind.

Timings on a shared 2-core machine move by 2x with the neighbours; the number of user-space
instructions a server executes per request does not. This is the instrument to steer by (wrk
runs, `bench/run --rounds`, confirm). Run through `bench/instructions` (it installs valgrind and
the peers and builds pyrite); see bench/README.md for the method and for what was measured.

For each (scenario, server) pair, the same method for every server:

1. start the server under `valgrind --tool=callgrind --trace-children=yes` with the command line
   `bench/run` uses (one worker, one app thread; bench.Setup.command), in its own process group;
2. open C keep-alive connections (bench/exactload.py), send a warm-up of W requests over them;
3. `callgrind_control -z` every process of the server (master, workers, helpers: the whole tree
   under the launched pid), so only what follows is counted;
4. send exactly N requests over the same connections, every response checked (status 200, the
   exact body);
5. `callgrind_control -d` every process, sum the `totals` (Ir, all threads: callgrind serialises
   a process's threads and counts them all) of the dumps, divide by N.

What is counted is every user-space instruction of the server's processes between the zero and
the dump — event loop, parser, Python, the app, the access log, idle timers — and nothing of the
kernel. Connection set-up is outside the window (the connections are opened before it). The
Python hash seed is fixed (PYTHONHASHSEED=0) so that dict layouts, hence counts, repeat.
"""

import argparse
import asyncio
import functools
import glob
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import bench  # bench/bench.py: server command lines, process handling
import exactload

SCENARIOS = ["hello", "hello-close", "hello-gen", "json10k", "post64k", "static1k", "sleep10ms"]
WSGI = ["pyrite", "fastwsgi", "bjoern", "granian"]
STATIC = ["pyrite", "nginx", "nginx-log", "granian"]
SERVERS = ["pyrite", "fastwsgi", "bjoern", "granian", "nginx", "nginx-log", "floor"]
READY_TIMEOUT = 300.0  # seconds: Python starting under callgrind takes tens of them
DUMP_TIMEOUT = 60.0
# How long a dump's set of files must stay the same before it is read (see `dump_all`).
DUMP_SETTLE = 0.3


def scenario(name):
    return next(s for s in bench.SCENARIOS if s.name == name)


def servers_for(name):
    if name == "sleep10ms":
        return WSGI + ["floor"]  # the pool's floor, bench/floor.rs: only when named
    return STATIC if name.startswith("static") else WSGI


def expected_body(setup, sc):
    """What every response body must be: computed from the app itself where it is not fixed."""
    if sc.name.startswith("static"):
        return (setup.static / sc.path.rsplit("/", 1)[1]).read_bytes()
    if sc.name == "post64k":
        return setup.post_body.read_bytes()
    if sc.app == "json10k":
        sys.path.insert(0, str(bench.APPS))
        import json10k

        return b"".join(json10k.application({}, lambda *a: None))
    if sc.app == "sleep10ms":
        return b"slept 10 ms"
    return b"Hello, World!"


# ---------------------------------------------------------------- callgrind


def callgrind_control(flag, pid, outdir):
    """Zero (-z) or dump (-d) the counters of one process; vgdb reaches it even while it sleeps
    in epoll_wait. Returns callgrind_control's output (it exits 0 even when the pid is gone)."""
    argv = ["callgrind_control", f"--vgdb-prefix={outdir}/vgdb", flag, str(pid)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=DUMP_TIMEOUT)
    return r.stdout + r.stderr


def totals(path):
    """(summary, totals) of one callgrind dump file: the Ir counted since the last zero or dump,
    and the sum of the file's cost lines. They agree when the dump before the zero left nothing
    behind (see `measure`); the count is the summary."""
    found = {}
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                found[line.split(":")[0]] = int(line.split()[1])
    if "summary" not in found or "totals" not in found:
        raise RuntimeError(f"no summary/totals in {path}")  # not yet complete
    return found["summary"], found["totals"]


def dump_files(outdir, pid):
    """Dumps requested by callgrind_control are written as cg.PID.1, cg.PID.2, ... (with
    `--separate-threads=yes`, one file per thread: cg.PID.1-01, cg.PID.1-02, ...)."""
    return set(glob.glob(f"{outdir}/cg.{pid}.*"))


def dump_number(path):
    """The dump a file belongs to: 2 for cg.PID.2 and for cg.PID.2-03."""
    return int(re.search(r"\.(\d+)(?:-\d+)?$", path).group(1))


def complete_dump(new):
    """(files, (summary, totals)) of the newest dump among the files `new`, its threads' counts
    added up, once every file of it is complete; None while one is still being written."""
    newest = max(dump_number(path) for path in new)
    files = sorted(path for path in new if dump_number(path) == newest)
    try:
        counts = [totals(path) for path in files]
    except RuntimeError:  # still being written
        return None
    return files, (sum(c[0] for c in counts), sum(c[1] for c in counts))


def dump_all(outdir, pids):
    """{pid: (dump files, (summary, totals))} of a dump of every process, once its files are
    complete: one file, or one per thread of the process. A dump's thread files appear one after
    the other, so a set counts as complete once every file is and no new one came for a while."""
    before = {pid: dump_files(outdir, pid) for pid in pids}
    for pid in pids:
        callgrind_control("-d", pid, outdir)
    found, seen = {}, {}
    deadline = time.monotonic() + DUMP_TIMEOUT
    while len(found) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            new = dump_files(outdir, pid) - before[pid]
            if pid in found or not new:
                continue
            dump = complete_dump(new)
            if dump is None:
                seen.pop(pid, None)
            elif seen.get(pid, (None,))[0] != dump[0]:
                seen[pid] = (dump[0], time.monotonic())
            elif time.monotonic() - seen[pid][1] >= DUMP_SETTLE:
                found[pid] = dump
        time.sleep(0.1)
    missing = [pid for pid in pids if pid not in found]
    if missing:
        raise RuntimeError(f"no callgrind dump from pid {missing}")
    return found


# ---------------------------------------------------------------- one measurement


def process_name(pid):
    """The command line of a process, without valgrind's own part (it shows in /proc)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    outfile = [i for i, a in enumerate(argv) if a.startswith("--callgrind-out-file=")]
    argv = argv[outfile[-1] + 1 :] if outfile else argv
    return " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv) if a).strip()


async def measure(setup, sc, server, args, outdir):
    """One server started under callgrind, warmed up, counted over exactly args.n requests."""
    port = bench.free_port()
    argv, _notes, skip = setup.command(server, sc, port)
    if skip:
        raise RuntimeError(f"skipped: {skip}")
    outdir.mkdir(parents=True, exist_ok=True)
    # vgdb's pipes in the run's own directory: a server killed at the end leaves none in /tmp,
    # and concurrent runs of this harness cannot mix them up.
    valgrind = ["valgrind", "--tool=callgrind", "--trace-children=yes", f"--vgdb-prefix={outdir}/vgdb",
                f"--callgrind-out-file={outdir}/cg.%p"]
    if args.profile:
        # A file per thread, so that each thread's frames active at the dump can be told apart
        # from its costs (see `annotate`); the counts are the same added up.
        valgrind.insert(3, "--separate-threads=yes")
    log = outdir / "stderr"
    proc = bench.start(["taskset", "-c", bench.SERVER_CPU] + valgrind + argv, cwd=str(bench.APPS),
                       env=setup.env, stderr_path=log)
    try:
        url = f"http://{bench.HOST}:{port}{sc.path}"
        body = setup.post_body.read_bytes() if sc.name == "post64k" else None
        load = exactload.Load(url, args.connections, body, expected_body(setup, sc), close=sc.close)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:  # listening? (a pre-fork master may listen before its worker has booted)
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}: {bench.tail(log)}")
            try:
                await load.open()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"did not listen within {READY_TIMEOUT:.0f} s: {bench.tail(log)}")
                await load.close()
                await asyncio.sleep(0.5)
        try:
            await load.run(args.warmup)
            await asyncio.sleep(0.5)  # let deferred work of the warm-up (log flushes...) run first
            pids = sorted(bench.descendants(proc.pid))
            # A dump, thrown away, before the zero: `-z` alone leaves some call costs of the
            # warm-up in place, which the next dump would list (its cost lines would then add up
            # to more than its summary, by 3% for pyrite and 30% for fastwsgi).
            dump_all(outdir, pids)
            for pid in pids:
                callgrind_control("-z", pid, outdir)
            await load.run(args.n)
            dumps = dump_all(outdir, pids)
        finally:
            await load.close()
        if sorted(bench.descendants(proc.pid)) != pids:
            raise RuntimeError("the server's processes changed during the measurement")
        table = bench.proc_table()
        procs = [{"pid": pid, "ppid": table.get(pid, (0,))[0], "cmd": process_name(pid), "ir": ir,
                  "lines_total": lines, "dump": files} for pid, (files, (ir, lines)) in dumps.items()]
        total = sum(p["ir"] for p in procs)
        return {"ir_per_request": total / args.n, "processes": procs, "argv": " ".join(argv)}
    finally:
        bench.stop(proc)


def split_entry(entry):
    """`file:function [object]` from callgrind_annotate as (function, object's file name)."""
    obj = ""
    m = re.match(r"^(.*) \[([^\]]*)\]$", entry)
    if m:
        entry, obj = m.group(1), os.path.basename(m.group(2))
    # the file ends at the first single colon (Rust and C++ names hold `::`, paths do not)
    i = 0
    while True:
        i = entry.find(":", i)
        if i < 0:
            return entry, obj
        if entry[i + 1 : i + 2] == ":":
            i += 2
            continue
        return entry[i + 1 :], obj


@functools.lru_cache(maxsize=None)  # the self listing serves both by_object and top_functions
def annotate(path, inclusive):
    """(total, [(Ir, function, object's file name)]) of one dump file by callgrind_annotate, the
    frames active when the dump was taken left out: main, the master's loop, the worker's entry, a
    thread's start (everything above 97% of the file's total) are the spine that holds the
    thread's work, not a cost of their own. With a file per thread, each thread's spine is above
    97% of its own file; in one file for all threads it would be below, and listed as a cost."""
    r = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100",
                        "--auto=no", path], capture_output=True, text=True, timeout=300)
    total, entries = 0, []
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = ir
            continue
        if ir > 0.97 * total:
            continue
        entries.append((ir, *split_entry(m.group(2))))
    return total, tuple(entries)


def top_functions(paths, n_requests, inclusive, count=20):
    """The `count` costliest functions of one dump (its files: one, or one per thread) in
    instructions per request.

    callgrind_annotate lists a function once per source file its code came from (inlining): the
    self costs of those entries are added up; their inclusive costs overlap (each counts calls
    made from the other's code), so the largest is kept, a lower bound. Threads' files add up."""
    grand, costs, objs = 0, {}, {}
    for path in paths:
        total, entries = annotate(path, inclusive)
        grand += total
        here = {}
        for ir, name, obj in entries:
            here[name] = max(here.get(name, 0), ir) if inclusive else here.get(name, 0) + ir
            objs[name] = objs.get(name) or obj
        for name, ir in here.items():
            costs[name] = costs.get(name, 0) + ir
    grand = grand or 1
    rows = [(ir / n_requests, 100 * ir / grand, name + (f" [{objs[name]}]" if objs[name] else ""))
            for name, ir in sorted(costs.items(), key=lambda kv: -kv[1])]
    return rows[:count]


def by_object(paths, n_requests):
    """Self instructions per request of each object (pyrite, libpython, libc...), largest first."""
    grand, objs = 0, {}
    for path in paths:
        total, entries = annotate(path, False)
        grand += total
        home = {}
        for _ir, name, obj in entries:
            home[name] = home.get(name) or obj
        for ir, name, _obj in entries:  # an inlined part is listed without its object: its function's
            obj = home.get(name) or "???"
            objs[obj] = objs.get(obj, 0) + ir
    grand = grand or 1
    return [(ir / n_requests, 100 * ir / grand, obj) for obj, ir in sorted(objs.items(), key=lambda kv: -kv[1])]


def print_profile(res, server, sc_name, n):
    worker = max(res["processes"], key=lambda p: p["ir"])
    print(f"## {server} / {sc_name}: {res['ir_per_request']:,.0f} instructions per request "
          f"(pid {worker['pid']}, the process that carried the requests: "
          f"{worker['ir'] / n:,.0f})")
    print("\n### Own instructions by object, per request\n")
    print("| instr/req | % | object |\n|---:|---:|---|")
    for per, pct, obj in by_object(worker["dump"], n):
        if pct >= 0.1:
            print(f"| {per:,.0f} | {pct:.1f} | {obj} |")
    if len(worker["dump"]) > 1:
        print("\n### Instructions by thread, per request (callgrind's thread numbers; 1 is the main thread)\n")
        print("| instr/req | % | thread |\n|---:|---:|---|")
        threads = sorted(((totals(path)[0], int(re.search(r"-(\d+)$", path).group(1)))
                          for path in worker["dump"]), reverse=True)
        grand = sum(ir for ir, _ in threads) or 1
        shown = [(ir, t) for ir, t in threads if ir >= 0.05 * grand]
        for ir, t in shown:
            print(f"| {ir / n:,.0f} | {100 * ir / grand:.1f} | {t} |")
        rest = [ir for ir, t in threads if ir < 0.05 * grand]
        if rest:
            print(f"| {sum(rest) / n:,.0f} | {100 * sum(rest) / grand:.1f} | {len(rest)} more, "
                  f"{min(rest) / n:,.0f} to {max(rest) / n:,.0f} each |")
    for inclusive in (True, False):
        kind = "inclusive (callees counted)" if inclusive else "self (own instructions only)"
        print(f"\n### Top 20 functions, {kind}, instructions per request\n")
        print("| instr/req | % | function |\n|---:|---:|---|")
        for per, pct, fn in top_functions(worker["dump"], n, inclusive):
            print(f"| {per:,.0f} | {pct:.1f} | `{fn[:150]}` |")


# ---------------------------------------------------------------- tables


def spread(values):
    """(max - min) / mean, in percent: how far repeated counts disagree."""
    mean = sum(values) / len(values)
    return 100 * (max(values) - min(values)) / mean if mean else 0.0


def table(results, scenarios, servers):
    """Scenario x server, instructions per request (the mean of the runs, and their spread)."""
    cols = [s for s in servers if any((sc, s) in results for sc in scenarios)]
    out = ["| scenario | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for sc in scenarios:
        cells = []
        for s in cols:
            runs = results.get((sc, s))
            if runs is None:
                cells.append("—")
            elif isinstance(runs, str):
                cells.append(f"failed: {runs}")
            else:
                v = [r["ir_per_request"] for r in runs]
                cell = f"{sum(v) / len(v):,.0f}"
                cells.append(cell + (f" (±{spread(v) / 2:.2f}%)" if len(v) > 1 else ""))
        out.append(f"| {sc} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def process_notes(results):
    """Which processes were counted and how the instructions split among them (first run)."""
    lines = []
    for (sc, server), runs in results.items():
        if isinstance(runs, str):
            continue
        procs = sorted(runs[0]["processes"], key=lambda p: p["pid"])
        pids = {p["pid"] for p in procs}
        total = sum(p["ir"] for p in procs) or 1
        parts = [f"pid {p['pid']}" + (f" (child of {p['ppid']})" if p["ppid"] in pids else " (launched)")
                 + f" {100 * p['ir'] / total:.1f}%" for p in procs]
        lines_total = sum(p["lines_total"] for p in procs)
        check = "" if abs(lines_total - total) <= 0.01 * total else (
            f" (the dumps' cost lines add up to {100 * lines_total / total:.0f}% of the count)")
        lines.append(f"- {server} / {sc}: {len(procs)} process(es): " + ", ".join(parts) + check)
    return "\n".join(lines)


# ---------------------------------------------------------------- main


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line naming the bad flag, exit code 2
        print(f"bench/instructions: {message}", file=sys.stderr)
        sys.exit(2)


def pick(text, universe, what, parser):
    if not text:
        return list(universe)
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in universe]
    if unknown:
        parser.error(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(universe)})")
    return [u for u in universe if u in wanted]


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", help="comma-separated: " + ",".join(SCENARIOS))
    ap.add_argument("--servers", help="comma-separated: " + ",".join(SERVERS))
    ap.add_argument("-n", "--requests", dest="n", type=int, default=2000, help="counted requests (default 2000)")
    ap.add_argument("--warmup", type=int, default=500, help="requests before the counters are zeroed (default 500)")
    ap.add_argument("-c", "--connections", type=int, default=8, help="keep-alive connections (default 8)")
    ap.add_argument("--runs", type=int, default=1, help="measure every pair this many times, each from a fresh start")
    ap.add_argument("--profile", nargs=2, metavar=("SERVER", "SCENARIO"),
                    help="one run of one pair, then its 20 costliest functions (inclusive) per request")
    ap.add_argument("--keep", help="copy the callgrind files to this directory")
    ap.add_argument("--pyrite", default=os.environ.get("PYRITE_BIN", str(bench.ROOT / "target/release/pyrite")))
    ap.add_argument("--venv", default=str(bench.ROOT / "target/bench-venv"))
    ap.add_argument("--out", default=str(bench.ROOT / "target/bench-results"), help="where the .md and .json go")
    args = ap.parse_args()
    for flag, value in (("--requests", args.n), ("--warmup", args.warmup), ("--connections", args.connections),
                        ("--runs", args.runs)):
        if value < 1:
            ap.error(f"{flag} must be at least 1")
    if args.profile:
        server, sc_name = args.profile
        pick(server, SERVERS, "server", ap)
        pick(sc_name, SCENARIOS, "scenario", ap)
        if server not in servers_for(sc_name):
            ap.error(f"--profile: {server} does not run {sc_name}")
        pairs = [(sc_name, server)]
        args.runs = 1
    else:
        scenarios = pick(args.scenarios, SCENARIOS, "scenario", ap)
        # The floor runs only when named.
        servers = pick(args.servers or ",".join(s for s in SERVERS if s != "floor"), SERVERS, "server", ap)
        pairs = [(sc, s) for sc in scenarios for s in servers if s in servers_for(sc)]
        if not pairs:
            ap.error("none of these servers runs any of these scenarios")

    for sig in (bench.signal.SIGINT, bench.signal.SIGTERM, bench.signal.SIGHUP):
        bench.signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    setup = bench.Setup(args)
    setup.env["PYTHONHASHSEED"] = "0"
    setup.nginx_worker_root = True
    results = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        for run in range(args.runs):  # run by run, so repeats of one pair are apart in time
            for sc_name, server in pairs:
                if isinstance(results.get((sc_name, server)), str):
                    continue
                why = setup.available(server)
                if why:
                    results[(sc_name, server)] = why
                    continue
                print(f"instructions: run {run + 1} {sc_name:9} {server:9} ...", end=" ", file=sys.stderr, flush=True)
                outdir = setup.tmp / f"cg-{sc_name}-{server}-{run + 1}"
                try:
                    res = asyncio.run(measure(setup, scenario(sc_name), server, args, outdir))
                except (RuntimeError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        exactload.BadResponse, subprocess.TimeoutExpired) as e:
                    msg = f"{type(e).__name__}: {e}"
                    print(msg, file=sys.stderr, flush=True)
                    results[(sc_name, server)] = msg
                    continue
                print(f"{res['ir_per_request']:,.0f} instructions/request", file=sys.stderr, flush=True)
                results.setdefault((sc_name, server), []).append(res)
        if args.profile:
            res = results[pairs[0]]
            if isinstance(res, str):
                return 1
            print_profile(res[0], server, sc_name, args.n)
            return 0
        all_sc = [sc for sc in SCENARIOS if any(p[0] == sc for p in pairs)]
        all_srv = [s for s in SERVERS if any(p[1] == s for p in pairs)]
        report = [
            f"## Instructions per request (callgrind) — {started}",
            "",
            f"User-space instructions (Ir) of all the server's processes and threads, per request: "
            f"{args.n} keep-alive requests over {args.connections} connections after a {args.warmup}-request "
            f"warm-up; mean of {args.runs} run(s), each from a fresh start"
            + (", ± half the spread between runs" if args.runs > 1 else "") + ".",
            "",
            f"Versions: {bench.versions(setup)}.",
            "",
            table(results, all_sc, all_srv),
            "",
            "Processes counted:",
            "",
            process_notes(results),
        ]
        text = "\n".join(report)
        print(text)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        (out / f"instructions-{stamp}.md").write_text(text + "\n")
        flat = [{"scenario": k[0], "server": k[1], "runs": v} for k, v in results.items()]
        (out / f"instructions-{stamp}.json").write_text(json.dumps(flat, indent=1, default=str) + "\n")
        print(f"\ninstructions: wrote {out}/instructions-{stamp}.md and .json", file=sys.stderr)
        return 0
    finally:
        bench.stop_all()
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            subprocess.run(["cp", "-r"] + glob.glob(f"{setup.tmp}/cg-*") + [args.keep], check=False)
        bench.shutil.rmtree(setup.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
