#!/usr/bin/env bash
# Where pyrite's worker spends its time under wrk, by `perf` sampling (the cpu-clock software
# event: it works in virtual machines without hardware counters, and it sees the kernel too,
# which callgrind does not). Prints the share of each object (the kernel, pyrite, libpython,
# libc...), the top symbols, and the top kernel symbols.
#
#   bench/profile/perf.sh [SCENARIO] [SECONDS]     SCENARIO: hello (default), hello-gen, static1k
#   KEEP=DIR bench/profile/perf.sh                  keeps perf.data and the full report in DIR
#
# pyrite runs with one worker pinned to CPU 0 (its access log off, the default), wrk -t1 -c64 on
# CPU 1, as in bench/run. Uses target/release/pyrite (PYRITE_BIN to override); needs perf and wrk
# (apt-get install -y linux-perf wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCENARIO=${1:-hello}
SECONDS_=${2:-10}
BIN=${PYRITE_BIN:-target/release/pyrite}
[ -x "$BIN" ] || cargo build --release
for tool in perf wrk taskset; do
    command -v "$tool" >/dev/null || { echo "perf.sh: missing $tool" >&2; exit 1; }
done

work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$work"/perf.* "$KEEP"/ 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/static"
head -c 1024 /dev/urandom >"$work/static/1k.bin"
touch -d '1 hour ago' "$work/static/1k.bin"  # pyrite caches a file once it has settled
case "$SCENARIO" in
    hello) APP=hello URL_PATH=/ ;;
    hello-gen) APP=hello_gen URL_PATH=/ ;;
    static1k) APP=hello URL_PATH=/static/1k.bin ;;
    *) echo "perf.sh: unknown scenario: $SCENARIO (hello, hello-gen, static1k)" >&2; exit 2 ;;
esac
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 "$BIN" -b "127.0.0.1:$PORT" -w 1 --pythonpath bench/apps --static "/static=$work/static" \
    "$APP:application" >/dev/null 2>"$work/stderr" &
server=$!
for _ in $(seq 100); do grep -q "booted worker" "$work/stderr" && break; sleep 0.1; done
worker=$(pgrep -P "$server" | head -1)
[ -n "$worker" ] || { echo "perf.sh: no worker: $(tail -3 "$work/stderr")" >&2; exit 1; }
URL="http://127.0.0.1:$PORT$URL_PATH"
taskset -c 1 wrk -t1 -c64 -d2s "$URL" >/dev/null  # warm-up

taskset -c 1 wrk -t1 -c64 -d"$((SECONDS_ + 2))s" "$URL" >"$work/wrk.txt" &
wrk_pid=$!
sleep 1
perf record -q -e cpu-clock -g -p "$worker" -o "$work/perf.data" -- sleep "$SECONDS_" 2>/dev/null
wait "$wrk_pid"

echo "## perf, pyrite worker, $SCENARIO, wrk -t1 -c64 ($(grep -o 'Requests/sec:.*' "$work/wrk.txt"))"
echo
echo "Share of samples by object (self time):"
echo
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -E '^\s+[0-9.]+%' | head -12
echo
echo "Top 25 symbols (self):"
echo
perf report -i "$work/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -E '^\s+[0-9.]+%' | head -25
echo
echo "Kernel time by system call (inclusive: on loopback, sendto also runs the receiver's TCP"
echo "processing and wake-up in softirq):"
echo
perf report -i "$work/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
    grep -E '^\s+[0-9.]+%' | grep -E '\[k\] (__x64_sys_|do_syscall_64|handle_softirqs|asm_exc_page_fault)' | head -12
echo
echo "Where the time of _raw_spin_unlock_irqrestore (waking a task: the kernel's top symbol) comes from:"
echo
perf report -i "$work/perf.data" --no-children --sort sym --stdio --symbols _raw_spin_unlock_irqrestore \
    -g caller,0.5,callee,function,percent 2>/dev/null | grep -E -- '--[0-9.]+%--' | head -8
perf report -i "$work/perf.data" --no-children --stdio >"$work/perf.report.txt" 2>/dev/null || true
