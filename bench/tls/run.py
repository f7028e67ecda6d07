"""TLS and HTTP/2 side by side: pyrite against Granian (and nginx where it applies), one worker
each pinned to CPU 0, the load generator on CPU 1, servers alternating round by round, medians.

    bench/tls/run [--rounds R] [--duration 10] [--only NAME,...] [--servers pyrite,granian,nginx]
    bench/tls/instructions   (callgrind: instructions per HTTPS request, pyrite and Granian)

Scenarios (each server uses the test certificate, ECDSA P-256, TLS 1.3):
  https-h1     HTTPS hello over HTTP/1.1, keep-alive:            wrk -c64
  https-h2     HTTPS hello over HTTP/2, 32 connections x 10:     h2load -c32 -m10
  h2c          hello over cleartext HTTP/2 (prior knowledge):     h2load -c32 -m10
  handshakes   a full TLS handshake per request (Connection: close): wrk -c64
  static10m    a 10 MiB static file over TLS (bytes/s):           wrk -c4
Granian and nginx run without access logs; pyrite writes its access log to stdout, which is
/dev/null (as in bench/run). Each run: a 1 s warm-up, then the measured run, with the server's
CPU time (utime + stime of all its processes) divided by the requests completed.
The load generator's own CPU time is measured too (client CPU %: 100 = its core was saturated,
so the row says more about the client than the server; then compare the server CPU µs/req).
Results: a markdown table on stdout and in target/bench-results/tls-TIMESTAMP.md.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import bench as b  # noqa: E402  (the main harness: server start/stop, wrk, Setup)

ROOT = HERE.parent.parent
TCK = os.sysconf("SC_CLK_TCK")
CERT = ROOT / "tests" / "certs" / "server.pem"
KEY = ROOT / "tests" / "certs" / "server.key"

SCENARIOS = {
    "https-h1": ("wrk", ["pyrite", "granian"], "/", 64),
    "https-h2": ("h2load", ["pyrite", "granian"], "/", 32),
    "h2c": ("h2load-plain", ["pyrite", "granian"], "/", 32),
    "handshakes": ("wrk-close", ["pyrite", "granian", "nginx"], "/", 64),
    "static10m": ("wrk", ["pyrite", "nginx", "granian"], "/static/10m.bin", 4),
}


def nginx_conf(setup, port):
    """The main harness's nginx.conf, serving hello and the static tree over TLS and h2."""
    return setup.nginx_conf(
        port,
        name="nginx-tls.conf",
        http_extra="ssl_protocols TLSv1.2 TLSv1.3;",
        server_block=f"""listen {b.HOST}:{port} ssl http2;
        ssl_certificate {CERT};
        ssl_certificate_key {KEY};
        location = / {{ return 200 "Hello, World!"; }}
        location /static/ {{ alias {setup.static}/; }}""",
    )


def command(setup, server, scenario, port):
    kind = SCENARIOS[scenario][0]
    tls = kind != "h2load-plain"
    if server == "pyrite":
        argv = [setup.pyrite, "-b", f"{b.HOST}:{port}", "-w", "1", "--pythonpath", str(b.APPS),
                "--static", f"/static={setup.static}"]
        if tls:
            argv += ["--certfile", str(CERT), "--keyfile", str(KEY)]
        return argv + ["hello:application"]
    if server == "granian":
        http = {"wrk": "1", "wrk-close": "1"}.get(kind, "2")
        if scenario == "static10m":
            http = "1"
        argv = [setup.vbin("granian"), "--interface", "wsgi", "--host", b.HOST, "--port", str(port),
                "--workers", "1", "--blocking-threads", "1", "--no-access-log", "--log-level", "warning",
                "--working-dir", str(b.APPS), "--http", http,
                "--static-path-route", "/static", "--static-path-mount", str(setup.static)]
        if tls:
            argv += ["--ssl-certificate", str(CERT), "--ssl-keyfile", str(KEY)]
        return argv + ["hello:application"]
    if server == "nginx":
        nginx = b.shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-p", str(setup.tmp), "-e", str(setup.tmp / "nginx-error.log"),
                "-c", str(nginx_conf(setup, port))]
    raise ValueError(server)


def parse_h2load(out):
    m = re.search(r"finished in [\d.]+s, ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s", out)
    rps = float(m.group(1)) if m else 0.0
    m2 = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    failed = int(m2.group(5)) + int(m2.group(6)) if m2 else -1
    done = int(m2.group(4)) if m2 else 0
    return {"rps": rps, "failed": failed, "requests": done}


def measure(scenario, url, duration):
    kind, _, _, conns = SCENARIOS[scenario]
    if kind.startswith("h2load"):
        argv = ["taskset", "-c", b.WRK_CPU, "h2load", "-t1", f"-c{conns}", "-m10", f"-D{duration}", url]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
        return parse_h2load(out)
    argv = ["taskset", "-c", b.WRK_CPU, "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "10s"]
    if kind == "wrk-close":
        argv += ["-H", "Connection: close"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=duration + 60).stdout
    res = b.parse_wrk(out)
    m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", out)
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
    res["bytes_per_s"] = float(m.group(1)) * scale[m.group(2)] if m else 0.0
    errors = sum(res.get("socket_errors", {}).values()) + res.get("non2xx", 0)
    return {"rps": res["rps"], "failed": errors, "bytes_per_s": res["bytes_per_s"], "requests": res["requests"]}


def client_cpu():
    """CPU seconds (user + system) of the load generators run so far (reaped children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_one(setup, server, scenario, duration):
    port = b.free_port()
    argv = command(setup, server, scenario, port)
    log = setup.tmp / f"{server}-{scenario}.log"
    proc = b.start(["taskset", "-c", b.SERVER_CPU] + argv, str(b.APPS), setup.env, log)
    tls = SCENARIOS[scenario][0] != "h2load-plain"
    scheme = "https" if tls else "http"
    url = f"{scheme}://{b.HOST}:{port}{SCENARIOS[scenario][2]}"
    try:
        deadline = time.monotonic() + b.READY_TIMEOUT
        while time.monotonic() < deadline:
            # h2c: prior knowledge (Granian with --http 2 does not answer HTTP/1.1)
            h2c = ["--http2-prior-knowledge"] if not tls else []
            ok = subprocess.run(["curl", "-sk", *h2c, "-o", "/dev/null", "-w", "%{http_code}", url],
                                capture_output=True, text=True, timeout=10).stdout
            if ok == "200":
                break
            time.sleep(0.2)
        else:
            return {"error": "did not answer"}
        measure(scenario, url, 1)  # warm-up, not counted
        before = b.cpu_ticks(proc.pid)
        client_before = client_cpu()
        started = time.monotonic()
        res = measure(scenario, url, duration)
        elapsed = time.monotonic() - started
        client = client_cpu() - client_before
        after = b.cpu_ticks(proc.pid)
        ticks = sum(t - before.get(pid, 0) for pid, t in after.items())
        if res.get("requests"):
            res["cpu_us"] = ticks / TCK * 1e6 / res["requests"]
            res["client_cpu_us"] = client * 1e6 / res["requests"]
        res["client_pct"] = 100 * client / elapsed
        return res
    finally:
        b.stop(proc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--servers", default="pyrite,granian,nginx")
    parser.add_argument("--venv", default=str(ROOT / "target" / "bench-venv"))
    parser.add_argument("--pyrite", default=os.environ.get("PYRITE_BIN", str(ROOT / "target" / "release" / "pyrite")))
    args = parser.parse_args()
    setup = b.Setup(argparse.Namespace(venv=args.venv, pyrite=args.pyrite))
    wanted = [s for s in args.servers.split(",") if s]
    load = os.getloadavg()
    rows = []
    try:
        for scenario in [s for s in args.only.split(",") if s]:
            servers = [s for s in SCENARIOS[scenario][1] if s in wanted]
            results = {s: [] for s in servers}
            for r in range(args.rounds):
                for server in servers:
                    res = run_one(setup, server, scenario, args.duration)
                    results[server].append(res)
                    print(f"{scenario} round {r + 1} {server}: {res}", file=sys.stderr, flush=True)
            for server in servers:
                rps = sorted(x.get("rps", 0.0) for x in results[server])
                bps = sorted(x.get("bytes_per_s", 0.0) for x in results[server])
                cpu = sorted(x.get("cpu_us", 0.0) for x in results[server])
                ccpu = sorted(x.get("client_cpu_us", 0.0) for x in results[server])
                cpct = sorted(x.get("client_pct", 0.0) for x in results[server])
                failed = sum(max(x.get("failed", 0), 0) for x in results[server])
                rows.append((scenario, server, rps[len(rps) // 2], bps[len(bps) // 2], cpu[len(cpu) // 2],
                             ccpu[len(ccpu) // 2], cpct[len(cpct) // 2],
                             failed, [round(x.get("rps", 0.0)) for x in results[server]]))
    finally:
        b.stop_all()
    lines = [f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; rounds: {args.rounds}, "
             f"{args.duration} s each", "",
             "| scenario | server | req/s (median) | MiB/s | server CPU µs/req | client CPU µs/req | client CPU % "
             "| failed | rounds (req/s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for scenario, server, rps, bps, cpu, ccpu, cpct, failed, rounds in rows:
        mib = f"{bps / (1 << 20):.0f}" if bps else ""
        lines.append(f"| {scenario} | {server} | {rps:,.0f} | {mib} | {cpu:.1f} | {ccpu:.1f} | {cpct:.0f} "
                     f"| {failed} | {rounds} |")
    table = "\n".join(lines)
    print(table)
    out = ROOT / "target" / "bench-results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"tls-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
