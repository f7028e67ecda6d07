#!/usr/bin/env bash
# Instructions per request on the hello path (or a 1 KiB static file), counted by callgrind
# (repeatable whatever else the machine is doing, unlike timings). A worker recycles after N
# requests, so its profile is written when it exits; the request path is LocalSet::tick's
# inclusive cost divided by N.
#
#   bench/profile/callgrind.sh [N]               the hello app
#   bench/profile/callgrind.sh N static          GET of a 1 KiB file
# (needs valgrind and wrk; uses target/release/pyrite, or PYRITE_BIN; KEEP=DIR keeps the
# callgrind output; WRK_ARGS adds to wrk's arguments, e.g. WRK_ARGS='-H "Connection: close"' for
# a new connection per request)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-5000}
MODE=${2:-hello}
BIN=${PYRITE_BIN:-target/release/pyrite}
PORT=${PORT:-18892}
[ -x "$BIN" ] || cargo build --release
command -v valgrind >/dev/null || apt-get install -y valgrind
command -v wrk >/dev/null || apt-get install -y wrk
OUT=$(mktemp -d)
trap 'pkill -f "callgrind-out-file=$OUT" 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp "$OUT"/cg.* "$KEEP"/; rm -rf "$OUT"' EXIT
cp bench/profile/hello.py "$OUT/"
mkdir -p "$OUT/www"
head -c 1024 /dev/urandom >"$OUT/www/1k.bin"
touch -d '1 hour ago' "$OUT/www/1k.bin"
case "$MODE" in
    hello) APP=(--pythonpath "$OUT" hello:application) URL_PATH=/ ;;
    static) APP=(--docroot "$OUT/www") URL_PATH=/1k.bin ;;
    *) echo "unknown mode: $MODE (hello or static)" >&2; exit 2 ;;
esac
timeout 600 valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$OUT/cg.%p" \
    "$BIN" -w 1 -b "127.0.0.1:$PORT" --max-requests "$N" "${APP[@]}" \
    >/dev/null 2>"$OUT/err" &
for _ in $(seq 1 150); do grep -q "booted worker" "$OUT/err" && break; sleep 1; done
# Enough load for the first worker to reach N requests and exit (valgrind runs ~50x slower).
for _ in $(seq 1 60); do
    eval "wrk -t1 -c8 -d2s ${WRK_ARGS:-} \"http://127.0.0.1:\$PORT\$URL_PATH\"" >/dev/null 2>&1 || true
    grep -q "worker recycled" "$OUT/err" && break
done
sleep 2
first=$(grep -o "worker recycled pid=[0-9]*" "$OUT/err" | head -1 | grep -o "[0-9]*$")
[ -n "$first" ] || { echo "no worker finished $N requests"; exit 1; }
ANN=$(callgrind_annotate --inclusive=yes "$OUT/cg.$first" 2>/dev/null)
per_request() {
    local total
    total=$(grep -E "$1" <<<"$ANN" | head -1 | awk '{gsub(",","",$1); print $1}')
    [ -n "$total" ] && echo $((total / N)) || echo "-"
}
if [ "$MODE" = static ]; then
    echo "| part of the static 1 KiB path | instructions per request |"
    echo "|---|---|"
    echo "| whole request (tokio LocalSet::tick) | $(per_request 'LocalSet::tick \[') |"
    echo "| static_files::serve | $(per_request 'static_files::serve \[') |"
    echo "| write::response | $(per_request 'write::response') |"
    echo "| parse::head (request head) | $(per_request 'parse::head \[') |"
    echo "| access log line | $(per_request 'access_log::write \[') |"
    exit 0
fi
echo "| part of the hello path | instructions per request |"
echo "|---|---|"
echo "| whole request (tokio LocalSet::tick) | $(per_request 'LocalSet::tick \[') |"
echo "| app call incl. environ (Executor::call) | $(per_request 'Executor::call \[') |"
echo "| environ construction | $(per_request 'environ::build \[') |"
echo "| response head from start_response | $(per_request 'response_head::build \[') |"
echo "| start_response() | $(per_request '__pymethod___call____ \[') |"

