"""pyrite against its peers: every scenario against every server, one markdown table.

Run through `bench/run` (it installs wrk, nginx and the peers, and builds pyrite); this script
only measures. For each (scenario, server) pair it starts the server in its own process group
pinned to CPU 0, waits until it answers, checks one response by content, runs a short wrk warm-up,
then the measured `wrk --latency` run pinned to CPU 1 while sampling the server's processes, and
stops the whole process group. With --together the servers of a scenario are measured at the
same time, a wrk each. See bench/README.md for what each number means.
"""

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APPS = BENCH / "apps"
HOST = "127.0.0.1"  # the only address any run targets
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
WRK_CPU = os.environ.get("BENCH_WRK_CPU", "1")
TWO_CPUS = f"{SERVER_CPU},{WRK_CPU}"
READY_TIMEOUT = 30.0  # seconds a server gets to answer its first request
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL of a server's process group
WARMUP = "1s"

WSGI_SERVERS = ["pyrite", "granian", "fastwsgi", "bjoern", "gunicorn", "uwsgi", "waitress"]
STATIC_SERVERS = ["pyrite", "nginx", "nginx-log", "granian"]
# nginx-log: nginx with its access log on (a file in the scratch directory), beside the usual
# nginx with it off: the two nginx rows show what a log line costs.
# floor: bench/floor.rs, the pool's architecture with nothing in it (no Python, no HTTP beyond
# finding the blank line): the least the sleep10ms scenario can cost. Run only when named.
ALL_SERVERS = WSGI_SERVERS + ["nginx", "nginx-log", "floor"]


@dataclass
class Scenario:
    name: str
    what: str
    app: str  # module in bench/apps
    path: str = "/"
    connections: int = 64
    threads: int = 1  # app threads per worker
    workers: int = 1
    lua: str = ""  # wrk script in bench/
    wrk_timeout: str = "2s"  # wrk's own default; a slower request counts as a timeout error
    servers: list = field(default_factory=lambda: list(WSGI_SERVERS))
    server_cpus: str = SERVER_CPU
    close: bool = False  # every request on a new connection (Connection: close)


SCENARIOS = [
    Scenario("hello", "list body [b'Hello, World!'] with Content-Length", "hello"),
    Scenario("hello-close", "the hello view, a new connection per request (Connection: close), as from a proxy "
             "that keeps no upstream connections open", "hello", close=True),
    Scenario("hello-gen", "generator body, no Content-Length (chunked)", "hello_gen"),
    Scenario("json10k", "json.dumps of a dict, 10 KiB, each request", "json10k"),
    Scenario("post64k", "POST 64 KiB, app reads wsgi.input and echoes it", "echo", lua="post64k.lua"),
    Scenario("sleep10ms", "time.sleep(0.01) per request, c256, 32 threads", "sleep10ms", connections=256, threads=32,
             servers=WSGI_SERVERS + ["floor"]),
    Scenario("static1k", "GET a 1 KiB file under /static/", "hello", path="/static/1k.bin", servers=list(STATIC_SERVERS)),
    Scenario("static10m", "GET a 10 MiB file under /static/", "hello", path="/static/10m.bin",
             servers=list(STATIC_SERVERS), wrk_timeout="10s"),
    Scenario("cpu-1w", "~200 us of pure Python per request, 1 worker", "cpu"),
    Scenario("cpu-2w", "the same view, 2 workers, server on CPUs 0-1", "cpu", workers=2, server_cpus=TWO_CPUS),
]
QUICK = ["hello", "post64k", "sleep10ms", "static1k", "cpu-1w", "cpu-2w"]

STATIC_FILES = {"1k.bin": 1024, "10m.bin": 10 * 1024 * 1024}


# ---------------------------------------------------------------- processes and /proc


def proc_table():
    """{pid: (ppid, pgrp, utime + stime ticks)} for every process on the machine."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("latin-1")
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ')'
        rest = stat[stat.rfind(")") + 2 :].split()
        # rest[0] is field 3 (state): ppid is field 4, pgrp 5, utime 14, stime 15
        table[int(entry)] = (int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12]))
    return table


def descendants(root, table=None):
    """root and every process below it (master, workers, their helpers)."""
    table = table if table is not None else proc_table()
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return found


def cpu_ticks(root):
    """{pid: utime + stime} for root and its descendants."""
    table = proc_table()
    return {pid: table[pid][2] for pid in descendants(root, table)}


def cpu_split(before, after):
    """How the server's CPU time was shared among its processes, largest first (percent)."""
    deltas = sorted((after[p] - before.get(p, 0) for p in after), reverse=True)
    total = sum(deltas)
    return [round(100 * d / total) for d in deltas if total and d * 100 >= total] if total else []


def status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """Sums VmRSS over the server's processes every 0.5 s; keeps the peak."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.peak_kib, self.samples = root, 0, 0
        self.stop = threading.Event()

    def sample(self):
        total = sum(status_kib(pid, "VmRSS") for pid in descendants(self.root))
        self.peak_kib, self.samples = max(self.peak_kib, total), self.samples + 1

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.5)

    def finish(self):
        self.stop.set()
        self.join()
        self.sample()
        if self.samples == 0:  # fall back to the high-water marks
            self.peak_kib = sum(status_kib(pid, "VmHWM") for pid in descendants(self.root))
        return self.peak_kib


_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    # a server outlives nothing: if the harness dies (even by SIGKILL) the server gets SIGKILL
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


RUNNING = {}  # pid -> Popen of every server process group started and not yet stopped


def start(argv, cwd, env, stderr_path):
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # servers' own output (access logs are off)
            stderr=err,
            start_new_session=True,  # its own process group: killpg reaches every worker
            preexec_fn=_child_setup,
        )
    RUNNING[proc.pid] = proc
    return proc


def group_members(pgid):
    return [pid for pid, (_, pgrp, _) in proc_table().items() if pgrp == pgid]


def stop(proc):
    """SIGTERM to the whole process group, SIGKILL to whatever is left after STOP_TIMEOUT."""
    pgid = proc.pid
    members = set(descendants(pgid)) | set(group_members(pgid))
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not group_members(pgid):
            break
        time.sleep(0.05)
    leftovers = set(group_members(pgid)) | {p for p in members if os.path.exists(f"/proc/{p}")}
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    RUNNING.pop(proc.pid, None)


def stop_all():
    for proc in list(RUNNING.values()):
        stop(proc)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- servers


class Setup:
    """What the harness found: binaries, flags pyrite supports, scratch directories."""

    def __init__(self, args):
        self.venv = Path(args.venv).resolve()
        self.pyrite = str(Path(args.pyrite).resolve())  # servers start in bench/apps
        # bench/setup.sh builds it and sets FLOOR_BIN
        self.floor = str(Path(os.environ.get("FLOOR_BIN") or ROOT / "target/release/examples/pool_floor").resolve())
        self.tmp = Path(tempfile.mkdtemp(prefix="pyrite-bench-"))
        os.chmod(self.tmp, 0o755)  # nginx workers may run as another user
        self.static = self.tmp / "static"
        self.static.mkdir()
        os.chmod(self.static, 0o755)
        for name, size in STATIC_FILES.items():
            data = (bytes(range(256)) * (size // 256 + 1))[:size]
            (self.static / name).write_bytes(data)
            os.chmod(self.static / name, 0o644)
            # An old modification time, as after a deploy: pyrite caches a file only once it has
            # settled (2 s), which a fresh file would not have at the start of a short run.
            old = time.time() - 3600
            os.utime(self.static / name, (old, old))
        self.post_body = self.tmp / "post64k.bin"
        self.post_body.write_bytes(b"x" * 65536)
        help_text = subprocess.run([self.pyrite, "--help"], capture_output=True, text=True, timeout=30).stdout
        self.pyrite_threads = "--threads" in help_text
        self.env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
        self.env["PYTHONPATH"] = str(APPS)
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"
        # nginx drops its worker to `nobody` when started as root; bench/instructions keeps it
        # root, because callgrind's control pipes are the root master's and `nobody` cannot open them.
        self.nginx_worker_root = False

    def vbin(self, name):
        return str(self.venv / "bin" / name)

    def available(self, server):
        """None when the server can run, else why not."""
        if server == "pyrite":
            return None if os.access(self.pyrite, os.X_OK) else f"no binary at {self.pyrite}"
        if server == "floor":
            return None if os.access(self.floor, os.X_OK) else f"no binary at {self.floor}"
        if server.startswith("nginx"):
            return None if shutil.which("nginx") or os.path.exists("/usr/sbin/nginx") else "nginx not installed"
        if server in ("bjoern", "fastwsgi"):
            ok = subprocess.run([self.vbin("python"), "-c", f"import {server}"], capture_output=True, timeout=30)
            return None if ok.returncode == 0 else f"{server} not importable in the venv"
        exe = {"waitress": "waitress-serve"}.get(server, server)
        return None if os.access(self.vbin(exe), os.X_OK) else f"{exe} not installed in the venv"

    def nginx_conf(self, port, access_log=False, server_block=None, name="nginx.conf", http_extra=""):
        """An nginx.conf for one worker on `port` serving the static tree; `server_block` (the
        inside of `server {}`) and `http_extra` (more `http {}` lines) let other harnesses (the
        TLS one) serve something else with the same settings."""
        conf = self.tmp / name
        log = f"{self.tmp}/nginx-access.log" if access_log else "off"
        t = self.tmp
        if server_block is None:
            server_block = f"""listen {HOST}:{port};
        location /static/ {{ alias {self.static}/; }}"""
        conf.write_text(
            ("user root;\n" if self.nginx_worker_root and os.geteuid() == 0 else "")
            + f"""worker_processes 1;
daemon off;
master_process on;
pid {t}/nginx.pid;
error_log {t}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    access_log {log};
    client_body_temp_path {t}/nginx-body;
    proxy_temp_path {t}/nginx-proxy;
    fastcgi_temp_path {t}/nginx-fastcgi;
    uwsgi_temp_path {t}/nginx-uwsgi;
    scgi_temp_path {t}/nginx-scgi;
    {http_extra}
    server {{
        {server_block}
    }}
}}
"""
        )
        return conf

    def command(self, server, sc, port):
        """(argv, note, skip reason) to run `server` for scenario `sc` on `port`."""
        spec = f"{sc.app}:application"
        w, t = sc.workers, sc.threads
        note = []
        static = sc.name.startswith("static")
        if server == "pyrite":
            argv = [self.pyrite, "-b", f"{HOST}:{port}", "-w", str(w), "--pythonpath", str(APPS)]
            if static:
                argv += ["--static", f"/static={self.static}"]
            if t > 1:
                if self.pyrite_threads:
                    argv += ["--threads", str(t)]
                else:
                    note.append("(inline, no --threads yet)")
            return argv + [spec], note, None
        if server == "granian":
            argv = [self.vbin("granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                    "--workers", str(w), "--blocking-threads", str(t), "--no-access-log",
                    "--log-level", "warning", "--working-dir", str(APPS)]
            if static:
                argv += ["--static-path-route", "/static", "--static-path-mount", str(self.static)]
            return argv + [spec], note, None
        if server == "gunicorn":
            argv = [self.vbin("gunicorn"), "-w", str(w), "-b", f"{HOST}:{port}", "--chdir", str(APPS),
                    "--log-level", "warning"]
            if t > 1:
                argv += ["-k", "gthread", "--threads", str(t)]
            else:
                note.append("sync worker: no keep-alive")
            return argv + [spec], note, None
        if server == "uwsgi":
            argv = [self.vbin("uwsgi"), "--http-socket", f"{HOST}:{port}", "--processes", str(w),
                    "--wsgi-file", str(APPS / f"{sc.app}.py"), "--master", "--disable-logging",
                    "--die-on-term", "--need-app", "--listen", "1024"]
            if t > 1:
                argv += ["--threads", str(t)]
            note.append("http-socket: no keep-alive")
            return argv, note, None
        if server in ("bjoern", "fastwsgi"):
            if t > 1:
                note.append("single-threaded")
            script = BENCH / "servers" / f"serve_{server}.py"
            return [self.vbin("python"), str(script), spec, HOST, str(port), str(w)], note, None
        if server == "waitress":
            if w > 1:
                return None, note, "one process only"
            return [self.vbin("waitress-serve"), f"--listen={HOST}:{port}", f"--threads={t}", spec], note, None
        if server == "floor":
            # the scenario's 10 ms in the floor's own sleep (only sleep10ms lists it)
            return [self.floor, f"{HOST}:{port}", str(t), "10"], note, None
        if server.startswith("nginx"):
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            conf = self.nginx_conf(port, access_log=server == "nginx-log")
            return [nginx, "-p", str(self.tmp), "-e", str(self.tmp / "nginx-error.log"),
                    "-c", str(conf)], note, None
        raise ValueError(server)


# ---------------------------------------------------------------- requests and wrk


def curl(args, timeout=10):
    return subprocess.run(["curl", "-s", "--max-time", str(timeout)] + args, capture_output=True, timeout=timeout + 5)


def wait_ready(proc, url, log):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with {proc.returncode} before answering: {tail(log)}"
        r = curl(["-o", "/dev/null", "-w", "%{http_code}", url], timeout=2)
        if r.stdout.strip() not in (b"", b"000"):
            return None
        time.sleep(0.1)
    return f"did not answer within {READY_TIMEOUT:.0f} s: {tail(log)}"


def tail(path, n=300):
    try:
        text = Path(path).read_text(errors="replace").strip()
    except OSError:
        return ""
    return " ".join(text[-n:].split())


def check_response(setup, sc, url):
    """One request by curl, its body compared with what the scenario must return."""
    if sc.name == "post64k":
        r = curl(["--data-binary", f"@{setup.post_body}", "-H", "Content-Type: application/octet-stream",
                  "-w", "\n%{http_code}", url])
        expected = setup.post_body.read_bytes()
    else:
        r = curl(["-w", "\n%{http_code}", url])
        expected = None
    body, _, code = r.stdout.rpartition(b"\n")
    if code != b"200":
        return f"status {code.decode(errors='replace') or 'none'}"
    if sc.app in ("hello", "hello_gen") and not sc.name.startswith("static"):
        expected = b"Hello, World!"
    elif sc.name.startswith("static"):
        expected = (setup.static / sc.path.rsplit("/", 1)[1]).read_bytes()
    elif sc.app == "sleep10ms":
        expected = b"slept 10 ms"
    elif sc.app == "json10k":
        try:
            return None if len(json.loads(body)["items"]) == 118 else "wrong JSON"
        except ValueError:
            return "body is not JSON"
    elif sc.app == "cpu":
        return None if body.isdigit() else "body is not a number"
    if body != expected:
        return f"wrong body ({len(body)} bytes, expected {len(expected)})"
    return None


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(out):
    res = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        res[f"p{pct}"] = float(m.group(1)) * UNITS_MS[m.group(2)] if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    return res


def wrk(sc, url, duration, latency=True):
    """wrk's output, and the CPU seconds wrk itself used. The load generator shares the machine's
    two cores with the servers: in cpu-2w its time is time the two workers do not get, so the
    scaling table shows it beside the ratio."""
    argv = ["taskset", "-c", WRK_CPU, "wrk", "-t1", f"-c{sc.connections}", f"-d{duration}",
            "--timeout", sc.wrk_timeout]
    if latency:
        argv.append("--latency")
    if sc.lua:
        argv += ["-s", str(BENCH / sc.lua)]
    if sc.close:
        argv += ["-H", "Connection: close"]
    seconds = float(duration.rstrip("s"))
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # taskset execs wrk: the child's own resource usage is wrk's (wait4, not the children's
        # total, which the concurrent wrks of --together would mix).
        proc = subprocess.Popen(argv + [url], stdout=out, stderr=err, text=True)
        killer = threading.Timer(seconds + 30, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stderr.strip() or stdout.strip()}")
    return stdout, usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- one run


def launch(setup, sc, server):
    """Starts `server` for `sc`, waits until it answers, checks one response and warms it up:
    (row, proc, url), where proc is None (and the server stopped) when the row holds an error."""
    row = {"server": server, "scenario": sc.name, "notes": [], "error": None}
    why = setup.available(server)
    if why:
        row["error"] = why
        return row, None, None
    port = free_port()
    argv, notes, skip = setup.command(server, sc, port)
    row["notes"] += notes
    if skip:
        row["error"] = f"skipped: {skip}"
        return row, None, None
    row["argv"] = " ".join(argv)
    log = setup.tmp / f"{server}-{sc.name}.stderr"
    proc = start(["taskset", "-c", sc.server_cpus] + argv, cwd=str(APPS), env=setup.env, stderr_path=log)
    url = f"http://{HOST}:{port}{sc.path}"
    try:
        row["error"] = wait_ready(proc, url, log)
        if not row["error"]:
            row["check"] = check_response(setup, sc, url)
            wrk(sc, url, WARMUP, latency=False)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        row["error"] = str(e)
    if row["error"]:
        stop(proc)
        return row, None, url
    return row, proc, url


def settle(row, proc, sc, measured, before, after, tck):
    """Fills `row` from one measured wrk run (its output and CPU seconds) and the server's CPU
    ticks around it."""
    out, wrk_cpu = measured
    row.update(parse_wrk(out))
    row["processes"] = len(descendants(proc.pid))
    if row["requests"]:
        row["cpu_us"] = sum(t - before.get(pid, 0) for pid, t in after.items()) / tck * 1e6 / row["requests"]
        row["wrk_cpu_us"] = wrk_cpu * 1e6 / row["requests"]
    if sc.workers > 1:
        # a worker that took most of the keep-alive connections shows up here as a lopsided split
        row["notes"].append("CPU split " + "/".join(f"{p}%" for p in cpu_split(before, after)))
    if proc.poll() is not None:
        row["notes"].append(f"server exited ({proc.returncode})")


def run_one(setup, sc, server, duration, tck):
    row, proc, url = launch(setup, sc, server)
    if proc is None:
        return row
    try:
        sampler = RssSampler(proc.pid)
        before = cpu_ticks(proc.pid)
        sampler.start()
        try:
            measured = wrk(sc, url, duration)
        finally:
            after = cpu_ticks(proc.pid)
            row["rss_mib"] = sampler.finish() / 1024
        settle(row, proc, sc, measured, before, after, tck)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        row["error"] = str(e)
    finally:
        stop(proc)
    return row


def run_together(setup, sc, servers, duration, tck):
    """Every server of `sc` measured at the same time, each on the server CPUs with its own wrk
    on the wrk CPU: whatever else the machine does in those seconds, it does to all of them
    alike. Meant for scenarios that leave the server's core mostly idle (sleep10ms): in one
    that saturates it the servers share the core, and only CPU µs/req still compares."""
    launched = [launch(setup, sc, server) for server in servers]
    live = [(row, proc, url) for row, proc, url in launched if proc is not None]
    try:
        samplers = [RssSampler(proc.pid) for _, proc, _ in live]
        before = [cpu_ticks(proc.pid) for _, proc, _ in live]
        for sampler in samplers:
            sampler.start()
        outs = [None] * len(live)

        def drive(i):
            try:
                outs[i] = wrk(sc, live[i][2], duration)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                outs[i] = e

        drivers = [threading.Thread(target=drive, args=(i,)) for i in range(len(live))]
        for d in drivers:
            d.start()
        for d in drivers:
            d.join()
        after = [cpu_ticks(proc.pid) for _, proc, _ in live]
        for i, (row, proc, _) in enumerate(live):
            row["rss_mib"] = samplers[i].finish() / 1024
            if isinstance(outs[i], Exception):
                row["error"] = str(outs[i])
                continue
            settle(row, proc, sc, outs[i], before[i], after[i], tck)
            others = [r["server"] for r, _, _ in live if r is not row]
            if others:
                row["notes"].append("together with " + ", ".join(others))
    finally:
        for _, proc, _ in live:
            stop(proc)
    return [row for row, _, _ in launched]


def paired_cpu_table(rounds, scenarios):
    """pyrite's CPU µs/req over each peer's, round by round: a ratio of two runs close in time
    (or at the same time, with --together), so a slow minute of the machine cancels out."""
    out = ["| scenario | peer | median | round by round |", "|---|---|---:|---|"]
    for sc in scenarios:
        for peer in ALL_SERVERS:
            if peer == "pyrite":
                continue
            ratios = []
            for rnd in rounds:
                by = {r["server"]: r for r in rnd if r["scenario"] == sc.name and not r["error"]}
                mine, theirs = by.get("pyrite"), by.get(peer)
                if mine and theirs and mine.get("cpu_us") and theirs.get("cpu_us"):
                    ratios.append(mine["cpu_us"] / theirs["cpu_us"])
            if len(ratios) > 1:
                out.append(f"| {sc.name} | {peer} | {median(ratios):.2f}× | "
                           + ", ".join(f"{r:.2f}" for r in ratios) + " |")
    return "\n".join(out) if len(out) > 2 else ""


# ---------------------------------------------------------------- tables


def median(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def median_row(group):
    """One (scenario, server) pair over its rounds: the median of each number, the sum of the
    errors, and every round's req/s and CPU µs/req in the notes so the spread stays visible."""
    if len(group) == 1:
        return group[0]
    ok = [r for r in group if not r["error"]]
    if not ok:
        return group[-1]
    row = dict(ok[0])
    for key in ("rps", "p50", "p99", "cpu_us", "wrk_cpu_us", "rss_mib", "requests"):
        row[key] = median([r.get(key) for r in ok])
    row["non2xx"] = sum(r.get("non2xx", 0) for r in ok)
    row["socket_errors"] = {k: sum(r.get("socket_errors", {}).get(k, 0) for r in ok)
                            for k in ("connect", "read", "write", "timeout")}
    row["check"] = next((r["check"] for r in ok if r.get("check")), None)
    notes = [n for n in ok[0]["notes"] if not n.startswith("CPU split")]
    notes.append("rounds: " + " / ".join(f"{r['rps']:,.0f}" for r in ok) + " req/s, "
                 + " / ".join(f"{r.get('cpu_us') or 0:.1f}" for r in ok) + " µs")
    if len(ok) < len(group):
        notes.append(f"{len(group) - len(ok)} round(s) failed: {next(r['error'] for r in group if r['error'])}")
    row["notes"] = notes
    return row


def fmt_ms(v):
    return "—" if not v else (f"{v:.2f} ms" if v < 100 else f"{v:.0f} ms")


def problems(row):
    parts = []
    if row.get("check"):
        parts.append(f"WRONG RESPONSE: {row['check']}")
    if row.get("non2xx"):
        parts.append(f"non-2xx {row['non2xx']}")
    for kind, n in row.get("socket_errors", {}).items():
        if n:
            parts.append(f"{kind} {n}")
    return ", ".join(parts) or "0"


def results_table(rows):
    out = ["| server | scenario | req/s | p50 | p99 | server CPU µs/req | peak RSS | errors | notes |",
           "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        if r["error"]:
            out.append(f"| {r['server']} | {r['scenario']} | — | — | — | — | — | — | {r['error']} |")
            continue
        cpu = f"{r['cpu_us']:.1f}" if r.get("cpu_us") is not None else "—"
        out.append(
            f"| {r['server']} | {r['scenario']} | {r['rps']:,.0f} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])} "
            f"| {cpu} | {r['rss_mib']:.1f} MiB | {problems(r)} | {'; '.join(r['notes'])} |"
        )
    return "\n".join(out)


def ratio_table(rows, scenarios):
    by = {(r["scenario"], r["server"]): r for r in rows if not r["error"] and r.get("rps")}
    peers = [s for s in ALL_SERVERS if s != "pyrite" and any(k[1] == s for k in by)]
    if not peers or not any(k[1] == "pyrite" for k in by):
        return ""
    out = ["| scenario | " + " | ".join(peers) + " |", "|---|" + "---:|" * len(peers)]
    for sc in scenarios:
        mine = by.get((sc.name, "pyrite"))
        if not mine:
            continue
        cells = []
        for peer in peers:
            theirs = by.get((sc.name, peer))
            cells.append(f"{mine['rps'] / theirs['rps']:.2f}×" if theirs else "—")
        out.append(f"| {sc.name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def scaling_table(rows, rounds):
    """Two workers against one: the ratio of the medians, and the median of the ratios within
    each round (the two runs a minute apart, so a slow minute of the machine weighs on both).
    wrk runs on one of the two cores the two workers use, so what it spends there (its CPU per
    request times the requests per second, in cores) is taken from them: with the server's CPU
    per request unchanged, two workers reach at most (2 - that) cores' worth of one worker's
    rate."""
    by = {(r["scenario"], r["server"]): r for r in rows if not r["error"] and r.get("rps")}
    out = ["| server | 1 worker req/s | 2 workers req/s | 2w / 1w | 2w / 1w round by round (median) "
           "| server CPU µs/req 1w → 2w | wrk's CPU µs/req in 2w | cores wrk took in 2w |",
           "|---|---:|---:|---:|---|---:|---:|---:|"]
    for server in ALL_SERVERS:
        one, two = by.get(("cpu-1w", server)), by.get(("cpu-2w", server))
        if one and two:
            paired = []
            for rnd in rounds:
                pair = {r["scenario"]: r for r in rnd if r["server"] == server and not r["error"]}
                if pair.get("cpu-1w", {}).get("rps") and pair.get("cpu-2w", {}).get("rps"):
                    paired.append(pair["cpu-2w"]["rps"] / pair["cpu-1w"]["rps"])
            each = (", ".join(f"{r:.2f}" for r in paired) + f" (**{median(paired):.2f}×**)"
                    if len(paired) > 1 else "—")
            cpu = (f"{one['cpu_us']:.1f} → {two['cpu_us']:.1f}"
                   if one.get("cpu_us") and two.get("cpu_us") else "—")
            client = two.get("wrk_cpu_us")
            taken = (f"{client:.1f} | {client * two['rps'] / 1e6:.2f}" if client else "— | —")
            out.append(f"| {server} | {one['rps']:,.0f} | {two['rps']:,.0f} | {two['rps'] / one['rps']:.2f}× "
                       f"| {each} | {cpu} | {taken} |")
    return "\n".join(out) if len(out) > 2 else ""


def versions(setup):
    """One line naming what ran: pyrite's --version, the peers' package versions, nginx and wrk."""
    from importlib import metadata

    parts = [subprocess.run([setup.pyrite, "--version"], capture_output=True, text=True).stdout.strip() or "pyrite"]
    for dist in ("granian", "fastwsgi", "bjoern", "gunicorn", "uwsgi", "waitress"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    for argv, pattern in ((["nginx", "-v"], r"nginx/(\S+)"), (["wrk", "-v"], r"wrk (\S+)")):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            m = re.search(pattern, r.stdout + r.stderr)
            parts.append(f"{argv[0]} {m.group(1) if m else '?'}")
        except OSError:
            parts.append(f"{argv[0]} (not installed)")
    parts.append(f"Python {sys.version.split()[0]}")
    return ", ".join(parts)


# ---------------------------------------------------------------- main


def pick(names, universe, what):
    if not names:
        return list(universe)
    wanted = [n.strip() for n in names.split(",") if n.strip()]

    def matches(u, w):  # an exact name picks only itself; otherwise a prefix picks a family
        return u == w if w in universe else u.startswith(w)

    chosen = [u for u in universe if any(matches(u, w) for w in wanted)]
    unknown = [w for w in wanted if not any(matches(u, w) for u in universe)]
    if unknown:
        sys.exit(f"bench: unknown {what}: {', '.join(unknown)} (known: {', '.join(universe)})")
    return chosen


def report_row(row):
    if row["error"]:
        print(row["error"], file=sys.stderr, flush=True)
    else:
        print(f"{row['rps']:,.0f} req/s, {row.get('cpu_us') or 0:.1f} µs/req, "
              f"errors: {problems(row)}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"3 s runs of a subset: {', '.join(QUICK)}")
    ap.add_argument("--only", "--scenarios", dest="only",
                    help="comma-separated scenarios (a prefix matches: 'cpu', 'static')")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every pair this many times, servers alternating round by round; "
                         "the table shows the medians")
    ap.add_argument("--together", action="store_true",
                    help="measure the servers of a scenario at the same time, each with its own wrk "
                         "(for scenarios that leave the server's core mostly idle, such as sleep10ms)")
    ap.add_argument("--servers", help="comma-separated servers: " + ",".join(ALL_SERVERS))
    ap.add_argument("--duration", help="seconds per measured run (default $DURATION or 10; 3 with --quick)")
    ap.add_argument("--pyrite", default=os.environ.get("PYRITE_BIN", str(ROOT / "target/release/pyrite")))
    ap.add_argument("--venv", default=str(ROOT / "target/bench-venv"))
    ap.add_argument("--out", default=str(ROOT / "target/bench-results"), help="where the .md and .json go")
    ap.add_argument("--list", action="store_true", help="print the scenarios and exit")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    if args.list:
        for sc in SCENARIOS:
            print(f"{sc.name:10} {sc.what}  [{', '.join(sc.servers)}]")
        return 0
    seconds = args.duration or ("3" if args.quick else os.environ.get("DURATION", "10"))
    duration = f"{int(float(seconds))}s"
    names = [s.name for s in SCENARIOS]
    scen_names = pick(args.only, QUICK if args.quick and not args.only else names, "scenario")
    scenarios = [s for s in SCENARIOS if s.name in scen_names]
    # The floor runs only when named.
    servers = pick(args.servers or ",".join(s for s in ALL_SERVERS if s != "floor"), ALL_SERVERS, "server")
    if not any(s in sc.servers for sc in scenarios for s in servers):
        sys.exit("bench: none of these servers runs any of these scenarios (see --list)")

    cpus = os.sched_getaffinity(0)
    if not {int(SERVER_CPU), int(WRK_CPU)} <= cpus:
        sys.exit(f"bench: needs CPUs {SERVER_CPU} and {WRK_CPU} (this process may use {sorted(cpus)})")
    os.sched_setaffinity(0, {int(WRK_CPU)})  # the harness itself stays off the server's core
    tck = int(subprocess.run(["getconf", "CLK_TCK"], capture_output=True, text=True).stdout)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    setup = Setup(args)
    rounds = []  # one list of rows per round
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        # Round by round, every server of a scenario one after the other: a burst of other work
        # on the machine then skews one round of every server alike, and the median drops it.
        for rnd in range(args.rounds):
            rounds.append([])
            label = f"round {rnd + 1}/{args.rounds} " if args.rounds > 1 else ""
            for sc in scenarios:
                here = [s for s in servers if s in sc.servers]
                if args.together:
                    print(f"bench: {label}{sc.name:10} {'+'.join(here)} together ...", file=sys.stderr, flush=True)
                    rows = run_together(setup, sc, here, duration, tck)
                    for row in rows:
                        print(f"bench:   {row['server']:9} ...", end=" ", file=sys.stderr, flush=True)
                        report_row(row)
                else:
                    rows = []
                    for server in here:
                        print(f"bench: {label}{sc.name:10} {server:9} ...", end=" ", file=sys.stderr, flush=True)
                        rows.append(run_one(setup, sc, server, duration, tck))
                        report_row(rows[-1])
                rounds[-1] += rows
    finally:
        stop_all()
        shutil.rmtree(setup.tmp, ignore_errors=True)
    rows = [median_row(list(group)) for group in zip(*rounds)] if rounds and rounds[-1] else []

    report = [
        f"## pyrite vs peers — {started}, wrk -t1 -c64 (-c256 for sleep10ms) -d{duration} --latency"
        + (f", median of {args.rounds} rounds" if args.rounds > 1 else "")
        + (", the servers of each scenario measured together (at the same time, a wrk each)" if args.together else ""),
        "",
        f"Server on CPU {SERVER_CPU} (CPUs {TWO_CPUS} for cpu-2w), wrk on CPU {WRK_CPU}; one worker unless "
        "the scenario says otherwise"
        + ("" if setup.pyrite_threads else "; this pyrite has no --threads: its sleep10ms row runs inline") + ".",
        "",
        f"Versions: {versions(setup)}.",
        "",
        results_table(rows),
    ]
    ratios = ratio_table(rows, scenarios)
    if ratios:
        report += ["", "### pyrite req/s ÷ peer req/s", "", ratios]
    paired = paired_cpu_table(rounds, scenarios)
    if paired:
        report += ["", "### pyrite CPU µs/req ÷ peer's, round by round", "", paired]
    scaling = scaling_table(rows, rounds)
    if scaling:
        report += ["", "### CPU-bound view: 2 workers vs 1", "", scaling]
    report += [
        "",
        "Notes: every server's access log is off (pyrite's is off by default) — except nginx-log, nginx "
        "with its access log on (to a file). gunicorn's sync worker and uWSGI's --http-socket close every "
        "connection (uWSGI's closes come back from wrk as read errors, one per request). "
        "bjoern and fastwsgi are single-threaded: in sleep10ms they serve one request at a time. "
        "Errors are wrk's non-2xx responses and socket errors (a timeout is a request slower than wrk's 2 s, 10 s for static10m), "
        "plus a WRONG RESPONSE when the body checked before the run was not the expected one.",
    ]
    text = "\n".join(report)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (out / f"{stamp}.md").write_text(text + "\n")
    (out / f"{stamp}.json").write_text(json.dumps({"medians": rows, "rounds": rounds}, indent=1, default=str) + "\n")
    print(f"\nbench: wrote {out / stamp}.md and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
