#!/usr/bin/env bash
# Gateway benchmark: durable ingest through `shopflow serve` on loopback, with
# wrk (Debian's) as the load generator on the same machine.
#   bench/gateway.sh [SHOPFLOW] [SECONDS]
# Prints, for /healthz (the server's ceiling), one record per request over
# keep-alive connections (how the original Python client sends), and
# batches of 500 records: requests/s, records/s and p50/p99 latency.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=${1:-build-bench/src/shopflow}
secs=${2:-10}
command -v wrk >/dev/null || { echo "bench/gateway.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
key=$("$shopflow" keys create --data "$tmp/data" --role ingest | tail -1)
bench_serve "$tmp/data"

# One real record, and 500 consecutive rows of the bundled data as a JSON array.
printf '{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850.0,"Country":"United Kingdom"}' > "$tmp/one.json"
(gzip -dc data/online_retail.csv.gz || true) | head -501 > "$tmp/batch.csv"

run() { # name connections wrk-args...
    local name=$1 conns=$2
    shift 2
    local out
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$@")
    local rps p50 p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%-28s %6s conns %12s req/s   p50 %8s   p99 %8s\n' "$name" "$conns" "$rps" "$p50" "$p99"
    echo "$rps"> "$tmp/rps.$name"
}

echo "shopflow gateway, ${secs}s per run, $(nproc) cores, wrk -t1"
run healthz 64 "$url/healthz"
KEY=$key BODY_FILE="$tmp/one.json" run single-record 64 -s bench/wrk/post.lua "$url/v1/transactions"
KEY=$key BODY_FILE="$tmp/batch.csv" CTYPE=text/csv run batch-500 16 -s bench/wrk/post.lua "$url/v1/transactions"
printf 'single-record records/s: %.0f\nbatch-500 records/s: %.0f\n' \
    "$(cat "$tmp/rps.single-record")" "$(echo "$(cat "$tmp/rps.batch-500") * 500" | bc)"
curl -s "$url/metrics" | grep -E '^shopflow_(log_group_commits_total|log_appended_records_total|log_fsync_seconds_(sum|count)) '
codes=$(curl -s "$url/metrics" | grep "^shopflow_http_requests_total{route=\"/v1/transactions\"" | grep -v -e "code=\"200\"" -e "code=\"aborted\"" || true)
[[ -z "$codes" ]] || { echo "non-200 answers: $codes" >&2; exit 1; }
