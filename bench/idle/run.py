#!/usr/bin/env python3
"""Memory of idle keep-alive connections, run by hand (never in tests).

Starts `pyrite -w 1` serving a small file, opens N connections that each make one request and
then stay open and idle, and prints the worker's RSS before and after (from /proc/PID/status).

    bench/idle/run.py [--conns 10000] [--bin target/release/pyrite]
"""
import argparse
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--bin", default="target/release/pyrite")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "1k.bin"), "wb") as f:
            f.write(os.urandom(1024))
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = subprocess.Popen(
            [args.bin, "-w", "1", "-b", f"127.0.0.1:{port}", "--docroot", tmp,
             "--keep-alive", "120", "--max-connections", str(args.conns + 100)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        worker = None
        for line in server.stderr:
            m = re.search(r"booted worker pid=(\d+)", line)
            if m:
                worker = int(m.group(1))
                break
        time.sleep(0.5)
        request = f"GET /1k.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(request)
        warm.recv(4096)
        before = rss_kib(worker)
        conns = []
        for _ in range(args.conns):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(request)
            got = b""
            while b"\r\n\r\n" not in got or len(got) < 1024:
                got += c.recv(4096)
            conns.append(c)
        time.sleep(1)
        after = rss_kib(worker)
        print(f"{args.conns} idle keep-alive connections: worker RSS {before / 1024:.1f} MiB -> "
              f"{after / 1024:.1f} MiB (+{(after - before) / 1024:.1f} MiB, "
              f"{(after - before) * 1024 / args.conns:.0f} bytes each)")
        for c in conns:
            c.close()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
