#!/usr/bin/env bash
# Hello-world throughput and server CPU per request for one or more pyrite binaries:
# one worker pinned to CPU 0, wrk pinned to CPU 1. Run by hand:
#   bench/codec/run.sh target/release/pyrite [other/pyrite ...]
set -euo pipefail
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/hello.py" <<'PY'
BODY = b"Hello, world!\n"
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
PY
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '%-40s %12s %16s\n' binary req/s "server µs/req"
for bin in "$@"; do
    worker=
    for _attempt in 1 2 3; do
        port=$((20000 + RANDOM % 20000))
        : > "$dir/err"
        taskset -c 0 "$bin" -w 1 -b "127.0.0.1:$port" --pythonpath "$dir" hello:application \
            2>"$dir/err" >/dev/null &
        master=$!
        for _ in $(seq 600); do
            grep -q "booted worker" "$dir/err" && break
            kill -0 "$master" 2>/dev/null || break
            sleep 0.1
        done
        worker=$(grep -o 'booted worker pid=[0-9]*' "$dir/err" | grep -o '[0-9]*$' | head -1) && break
        kill -TERM "$master" 2>/dev/null; wait "$master" || true
    done
    [ -n "$worker" ] || { echo "$bin: no worker: $(tail -1 "$dir/err")" >&2; continue; }
    before=$(cpu_ticks "$worker")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$port/")
    after=$(cpu_ticks "$worker")
    kill -TERM "$master"; wait "$master" || true
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    hz=$(getconf CLK_TCK)
    us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    printf '%-40s %12s %16s\n' "$bin" "$rps" "$us"
done
