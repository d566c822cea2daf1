#!/usr/bin/env bash
# bench/replay.sh - `shopflow replay` into `shopflow serve` on loopback, both
# Release builds on the same machine.
#
#   bench/replay.sh [SHOPFLOW] [LIMIT_FOR_BATCH_1]
#
# Runs, each against a fresh data folder and server:
#   1. the bundled file at --batch 500 (4 connections), then the same again
#      (every row a duplicate: the server's dedup path);
#   2. --batch 1 (one row per request, as the original Python client sent)
#      over 4, 16 and 64 connections, bounded by --limit (default 20,000 rows);
#   3. the bundled file at --batch 2000.
# Prints replay's own summary figures (rows/s = rows answered / seconds) and
# the client's peak RSS (/usr/bin/time). Results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-}
limit=${2:-20000}
data=data/online_retail.csv.gz
if [[ -z $shopflow ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target shopflow-cli >/dev/null
    shopflow=build-bench/src/shopflow
fi
tmp=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

serve() { # fresh data folder and server; sets key, url, pid
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    local d="$tmp/d$1"
    key=$("$shopflow" keys create --data "$d" --role ingest | tail -1)
    "$shopflow" serve --data "$d" --listen 127.0.0.1:0 2>"$d.log" &
    pid=$!
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*event=server_started .*port=\([0-9]*\).*/\1/p' "$d.log")
        [[ -n $port ]] && break
        sleep 0.05
    done
    url="http://127.0.0.1:$port"
}

run() { # name replay-args...
    local name=$1
    shift
    /usr/bin/time -f '%M' -o "$tmp/rss" "$shopflow" replay "$data" --url "$url" --key "$key" "$@" \
        >"$tmp/out"
    local get='$1 == k { print $2 }'
    printf '%-34s rows %9s  accepted %9s  dup %9s  requests %9s  %6ss  %9s rows/s  RSS %s MB\n' \
        "$name" "$(awk -v k=rows "$get" "$tmp/out")" "$(awk -v k=accepted "$get" "$tmp/out")" \
        "$(awk -v k=duplicates "$get" "$tmp/out")" "$(awk -v k=requests "$get" "$tmp/out")" \
        "$(awk -v k=seconds "$get" "$tmp/out")" "$(awk -v k=rows/s "$get" "$tmp/out")" \
        "$(($(cat "$tmp/rss") / 1024))"
}

echo "shopflow replay -> serve on loopback, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
serve 1
run "full file, --batch 500, 4 conns" --batch 500
run "again (all duplicates)" --batch 500
serve 2
run "--batch 1, 4 conns, --limit $limit" --batch 1 --connections 4 --limit "$limit"
serve 3
run "--batch 1, 16 conns, --limit $limit" --batch 1 --connections 16 --limit "$limit"
serve 4
run "--batch 1, 64 conns, --limit $limit" --batch 1 --connections 64 --limit "$limit"
serve 5
run "full file, --batch 2000, 4 conns" --batch 2000
