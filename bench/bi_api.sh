#!/usr/bin/env bash
# The BI API's answers over a whole year, end to end: `shopflow serve` on a
# loaded data folder (its sinks off: the warehouse stays still), curl asking
# each question RUNS times in a row over one keep-alive connection; p50, p99
# and mean of curl's time_total (request sent to last byte read), and the
# answer's size. The warehouse call alone is bench_bi's figure.
#   bench/bi_api.sh SHOPFLOW DATA [RUNS] [YEAR]     (default 100 runs, 2011)
# DATA: a data folder whose warehouse the sink has loaded (bench/warehouse.sh
# makes one; so does `shopflow import` + `shopflow sink warehouse --once`).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=$1 data=$2 runs=${3:-100} year=${4:-2011}
tmp=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
key=$("$shopflow" keys create --data "$data" --role analyst | tail -1)
bench_serve "$data" --sinks none
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg); $runs runs per question, from=$year&to=$year"
for q in "sales?granularity=month" "sales?granularity=day" "sales?granularity=hour" \
    "profile?by=hour_of_day" "top-products?period=month" "top-products?period=day" \
    "top-products?period=day&by=revenue" "top-customers?period=day" "top-invoices?period=day" \
    "top-products?period=year"; do
    u="$url/v1/bi/$q&from=$year&to=$year"
    args=()
    for _ in $(seq "$runs"); do args+=(-o /dev/null -w '%{time_total} %{size_download}\n' "$u"); done
    curl -s -H "Authorization: Bearer $key" "${args[@]}" > "$tmp/t" ||
        { echo "GET $u failed" >&2; exit 1; }
    sort -n "$tmp/t" | awk -v q="$q" '{t[NR] = $1 * 1000; s += $1 * 1000; b = $2}
        END {k = int(NR * 0.99); if (k < 1) k = 1
             printf "%-36s p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms  (%d bytes)\n", q,
             t[int(NR / 2) + 1], t[k], s / NR, b}'
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
