"""Instructions per request of HTTPS hello over HTTP/1.1 (TLS 1.3, keep-alive), pyrite beside
Granian, counted by callgrind exactly as bench/instructions counts plain HTTP (see bench/README.md):
the server under valgrind, 8 keep-alive TLS connections opened and warmed up (the handshakes are
never counted), the counters zeroed, exactly N requests, every process dumped, Ir summed / N.

    bench/tls/instructions [--servers pyrite,granian] [-n 2000] [--warmup 500] [--profile]

It reuses bench/instructions.py (measure) and bench/exactload.py (Load) with two substitutions:
the connections are TLS (no certificate check: the test certificate) and the command lines are
bench/tls/run.py's https-h1 ones.
"""

import argparse
import asyncio
import os
import ssl
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import bench  # noqa: E402
import exactload  # noqa: E402
import instructions  # noqa: E402
import run as tls_run  # noqa: E402  (bench/tls/run.py: the TLS command lines)


class TlsLoad(exactload.Load):
    async def open(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        for _ in range(self.connections):
            conn = asyncio.open_connection(self.host, self.port, ssl=ctx)
            self.conns.append(await asyncio.wait_for(conn, self.timeout))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", default="pyrite,granian")
    ap.add_argument("-n", "--requests", dest="n", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("-c", "--connections", type=int, default=8)
    ap.add_argument("--profile", action="store_true", help="also the 20 costliest functions of each")
    ap.add_argument("--pyrite", default=os.environ.get("PYRITE_BIN", str(bench.ROOT / "target/release/pyrite")))
    ap.add_argument("--venv", default=str(bench.ROOT / "target/bench-venv"))
    args = ap.parse_args()
    setup = bench.Setup(args)
    setup.env["PYTHONHASHSEED"] = "0"
    setup.command = lambda server, sc, port: (tls_run.command(setup, server, "https-h1", port), [], None)
    exactload.Load = TlsLoad  # instructions.measure builds its load through this name
    sc = instructions.scenario("hello")
    lines = [f"## HTTPS hello, HTTP/1.1 over TLS 1.3: instructions per request (callgrind) — "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"{args.n} keep-alive requests over {args.connections} TLS connections after {args.warmup} "
             "warm-up requests (handshakes not counted).", "",
             "| server | Ir/request | processes (Ir share) |", "|---|---:|---|"]
    try:
        for server in [s for s in args.servers.split(",") if s]:
            print(f"tls instructions: {server} ...", end=" ", file=sys.stderr, flush=True)
            outdir = setup.tmp / f"cg-https-{server}"
            res = asyncio.run(instructions.measure(setup, sc, server, args, outdir))
            print(f"{res['ir_per_request']:,.0f}", file=sys.stderr, flush=True)
            total = sum(p["ir"] for p in res["processes"]) or 1
            shares = ", ".join(f"{p['cmd'].split()[0]} {100 * p['ir'] / total:.1f}%" for p in res["processes"])
            lines.append(f"| {server} | {res['ir_per_request']:,.0f} | {shares} |")
            if args.profile:
                instructions.print_profile(res, server, "https-hello", args.n)
    finally:
        bench.stop_all()
    text = "\n".join(lines)
    print(text)
    out = bench.ROOT / "target" / "bench-results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"tls-instructions-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
