#!/usr/bin/env bash
# Static files: pyrite against nginx, same machine, same run, run by hand (never in tests).
#
# Serves a 1 KiB and a 10 MiB file from one directory with pyrite (-w 1, release build) and
# with nginx (its default configuration: sendfile on, one worker), each server pinned to
# core 0 and wrk pinned to core 1, and prints a markdown table: requests/s, MB/s, and server
# CPU per request (utime+stime of every server process from /proc/PID/stat, before/after,
# divided by the requests wrk completed).
#
#   bench/static/run.sh            # DURATION=10s CONNECTIONS=64 ROUNDS=3 by default
#
# The servers are measured in alternation, ROUNDS times, and each cell of the table is the
# median over the rounds, so that a burst of other work on the machine skews one round, not
# the result. The per-round figures are printed too.
#
# Needs: wrk, taskset, nginx (apt-get install -y nginx; it is started here with its own
# configuration in a temporary directory, never as a system service).
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
PYRITE=target/release/pyrite

for tool in wrk taskset "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done
[ -x "$PYRITE" ] || cargo build --release

work=$(mktemp -d)
chmod 755 "$work"
pids_to_stop=()
cleanup() {
    for pid in "${pids_to_stop[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
head -c 1024 /dev/urandom > "$work/www/1k.bin"
head -c $((10 * 1024 * 1024)) /dev/urandom > "$work/www/10m.bin"
chmod 644 "$work/www"/*
# An old modification time, as after a deploy: pyrite caches a file only once it has settled.
touch -d '1 hour ago' "$work/www"/*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

# Sum of utime+stime (clock ticks) of the given pids.
cpu_ticks() {
    local total=0 pid fields
    for pid in "$@"; do
        # Fields after the parenthesised command name: state is $1, utime $12, stime $13.
        fields=$(sed 's/^.*) //' "/proc/$pid/stat")
        total=$((total + $(echo "$fields" | awk '{print $12 + $13}')))
    done
    echo "$total"
}

# wrk's "Transfer/sec: 1.23GB" → MB/s (10^6 bytes).
to_mb() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        m = (u == "GB") ? 1073741824 : (u == "MB") ? 1048576 : (u == "KB") ? 1024 : 1;
        printf "%.1f", n * m / 1e6 }'
}

HZ=$(getconf CLK_TCK)
results="$work/results"

# measure NAME FILE URL PID...: one wrk run, appended to $results as "NAME FILE RPS MBS US".
measure() {
    local name=$1 file=$2 url=$3
    shift 3
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
    local before after out requests rps transfer us
    before=$(cpu_ticks "$@")
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$url")
    after=$(cpu_ticks "$@")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
    transfer=$(echo "$out" | awk '/Transfer\/sec/ {print $2}')
    us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$requests" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
    echo "$name $file $rps $(to_mb "$transfer") $us" >>"$results"
    echo "  $ROUND $name $file $rps $(to_mb "$transfer") $us" >&2
    if echo "$out" | grep -qE 'Non-2xx|Socket errors'; then
        echo "    ($(echo "$out" | grep -E 'Non-2xx|Socket errors' | xargs))" >&2
    fi
}

# median NAME FILE COLUMN (3 = req/s, 4 = MB/s, 5 = µs/req)
median() {
    awk -v n="$1" -v f="$2" -v c="$3" '$1 == n && $2 == f { print $c }' "$results" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# nginx, default configuration apart from paths: sendfile on, one worker.
nginx_port=$(free_port)
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events {}
http {
    sendfile on;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx-body;
    proxy_temp_path $work/nginx-proxy;
    fastcgi_temp_path $work/nginx-fastcgi;
    uwsgi_temp_path $work/nginx-uwsgi;
    scgi_temp_path $work/nginx-scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
    }
}
CONF
taskset -c "$SERVER_CPU" "$NGINX" -c "$work/nginx.conf" -g 'daemon off;' &
nginx_master=$!
pids_to_stop+=("$nginx_master")
wait_port "$nginx_port"
nginx_pids=("$nginx_master" $(pgrep -P "$nginx_master"))

# pyrite: one worker, access log to a file like nginx's.
pyrite_port=$(free_port)
taskset -c "$SERVER_CPU" "$PYRITE" -w 1 -b "127.0.0.1:$pyrite_port" --docroot "$work/www" \
    >"$work/pyrite-access.log" 2>"$work/pyrite-error.log" &
pyrite_master=$!
pids_to_stop+=("$pyrite_master")
wait_port "$pyrite_port"
for _ in $(seq 100); do grep -q 'booted worker' "$work/pyrite-error.log" && break; sleep 0.1; done
pyrite_pids=("$pyrite_master" $(pgrep -P "$pyrite_master"))

echo "round server file req/s MB/s µs/req:" >&2
for ROUND in $(seq "$ROUNDS"); do
    for file in 1k.bin 10m.bin; do
        measure nginx "$file" "http://127.0.0.1:$nginx_port/$file" "${nginx_pids[@]}"
        measure pyrite "$file" "http://127.0.0.1:$pyrite_port/$file" "${pyrite_pids[@]}"
    done
done

echo
echo "wrk -t1 -c$CONNECTIONS -d$DURATION (core $CLIENT_CPU); servers on core $SERVER_CPU; median of $ROUNDS rounds; $(nproc) CPUs, $(uname -r)"
echo
echo "| server | file | req/s | MB/s | server CPU µs/req |"
echo "|---|---|---:|---:|---:|"
for file in 1k.bin 10m.bin; do
    for name in nginx pyrite; do
        echo "| $name | $file | $(median $name $file 3) | $(median $name $file 4) | $(median $name $file 5) |"
    done
done
echo
awk -v a="$(median pyrite 1k.bin 3)" -v b="$(median nginx 1k.bin 3)" -v c="$(median pyrite 1k.bin 5)" -v d="$(median nginx 1k.bin 5)" \
    'BEGIN { printf "1 KiB: pyrite/nginx req/s = %.2f (target >= 1.5); nginx/pyrite CPU per request = %.2f\n", a / b, d / c }'
awk -v a="$(median pyrite 10m.bin 4)" -v b="$(median nginx 10m.bin 4)" -v c="$(median pyrite 10m.bin 5)" -v d="$(median nginx 10m.bin 5)" \
    'BEGIN { printf "10 MiB: pyrite/nginx bytes/s = %.2f (target >= 0.9); nginx/pyrite CPU per request = %.2f\n", a / b, d / c }'
