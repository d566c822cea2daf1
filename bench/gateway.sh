#!/usr/bin/env bash
# Gateway benchmark: durable ingest through `shopflow serve` on loopback, with
# wrk (Debian's) as the load generator on the same machine.
#   bench/gateway.sh [SHOPFLOW] [SECONDS]
# Prints, for /healthz (the server's ceiling), one record per request over
# keep-alive connections (how the original Python client sends), and
# batches of 500 records: requests/s, records/s, p50/p99 latency, and the
# server's CPU time per request (user + system, from /proc: far steadier
# than the rates on a shared machine). The server runs with --sinks none:
# this measures the gateway and the durable log (the sinks have their own
# benchmarks). CONNS="16 64 256" runs /healthz and single-record at each
# of those connection counts (default 64); BATCH_CONNS="2 4 8 16" runs batch-500
# at each of those (default 16). Each run also prints the log's fdatasyncs and
# zero-fill steps during it (from /metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=${1:-build-bench/src/shopflow}
secs=${2:-10}
command -v wrk >/dev/null || { echo "bench/gateway.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
key=$("$shopflow" keys create --data "$tmp/data" --role ingest | tail -1)
bench_serve "$tmp/data" --sinks none

# One real record, and 500 consecutive rows of the bundled data as a JSON array.
printf '{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850.0,"Country":"United Kingdom"}' > "$tmp/one.json"
(gzip -dc data/online_retail.csv.gz || true) | head -501 > "$tmp/batch.csv"

run() { # name connections wrk-args...
    local name=$1 conns=$2
    shift 2
    local out cpu0 cpu1 rps p50 p99 n f0 f1
    cpu0=$(server_cpu)
    f0=$(fsync_snap)
    z0=$(prealloc_snap)
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$@")
    cpu1=$(server_cpu)
    f1=$(fsync_snap)
    z1=$(prealloc_snap)
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    printf '%-16s %5s conns %10s req/s   p50 %8s   p99 %8s   server CPU %5.1f us/req   load %s\n' \
        "$name" "$conns" "$rps" "$p50" "$p99" "$(echo "($cpu1 - $cpu0) * 1000000 / $hz / $n" | bc -l)" \
        "$(cut -d' ' -f1 /proc/loadavg)"
    # This run's fdatasyncs (from the log's metrics): mean, and the share over 2.5 ms.
    awk -v a="$f0" -v b="$f1" 'BEGIN { split(a, x); split(b, y); n = y[1] - x[1]
        if (n > 0) printf "  fdatasync: %d, mean %.3f ms, %.1f %% over 2.5 ms\n", n,
            (y[2] - x[2]) * 1000 / n, 100 * (n - (y[3] - x[3])) / n }'
    # Its zero-fill steps (shopflow_log_prealloc_seconds): how many, and the time they took.
    awk -v a="$z0" -v b="$z1" -v s="$secs" 'BEGIN { split(a, x); split(b, y); n = y[1] - x[1]
        if (n > 0) printf "  zero-fill steps: %d (%.1f/s), mean %.2f ms, %.1f %% of the run\n", n,
            n / s, (y[2] - x[2]) * 1000 / n, 100 * (y[2] - x[2]) / s }'
    echo "$rps"> "$tmp/rps.$name"
}

hz=$(getconf CLK_TCK)
server_cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # utime + stime, in ticks
fsync_snap() { # "count sum count-at-or-under-2.5ms" of the log's fdatasyncs so far
    curl -s "$url/metrics" | awk '/^shopflow_log_fsync_seconds_count / { c = $2 }
        /^shopflow_log_fsync_seconds_sum / { s = $2 }
        /^shopflow_log_fsync_seconds_bucket\{le="0.0025"\}/ { u = $2 }
        END { print c + 0, s + 0, u + 0 }'
}

prealloc_snap() { # "count sum" of the log's zero-fill steps so far
    curl -s "$url/metrics" | awk '/^shopflow_log_prealloc_seconds_count / { c = $2 }
        /^shopflow_log_prealloc_seconds_sum / { s = $2 } END { print c + 0, s + 0 }'
}

echo "shopflow gateway, ${secs}s per run, $(nproc) cores, wrk -t1"
for c in ${CONNS:-64}; do
    run healthz "$c" "$url/healthz"
    KEY=$key BODY_FILE="$tmp/one.json" run single-record "$c" -s bench/wrk/post.lua "$url/v1/transactions"
done
for c in ${BATCH_CONNS:-16}; do
    KEY=$key BODY_FILE="$tmp/batch.csv" CTYPE=text/csv run batch-500 "$c" -s bench/wrk/post.lua "$url/v1/transactions"
    printf '  batch-500 records/s at %s connections: %.0f\n' "$c" "$(echo "$(cat "$tmp/rps.batch-500") * 500" | bc)"
done
printf 'single-record records/s: %.0f\n' "$(cat "$tmp/rps.single-record")"
curl -s "$url/metrics" | grep -E '^shopflow_(log_group_commits_total|log_appended_records_total|log_fsync_seconds_(sum|count|bucket)|log_prealloc_seconds_(sum|count))[ {]'
codes=$(curl -s "$url/metrics" | grep "^shopflow_http_requests_total{route=\"/v1/transactions\"" | grep -v -e "code=\"200\"" -e "code=\"aborted\"" || true)
[[ -z "$codes" ]] || { echo "non-200 answers: $codes" >&2; exit 1; }
