#!/usr/bin/env bash
# Read API benchmark: purchase-history routes (and BI routes, when the
# warehouse answers them) of `shopflow serve` on loopback, loaded with the
# whole bundled dataset; wrk (Debian's) on the same machine picks a random
# customer, invoice or period per request. Beside each, the same question
# asked of SQLite over the raw rows (sqlite3 .import of the CSV, no index).
#   [CONNS="2 4 8"] [THREADS=N] [HISTORY_ONLY=1] bench/read_api.sh [SHOPFLOW] [SECONDS]
# CONNS: wrk's connection counts, one set of runs each (default 8); THREADS:
# the server's --threads (default: its own). Each line gives the server's
# CPU per request (utime + stime of the process over the run, /proc).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=${1:-build-bench/src/shopflow}
secs=${2:-10}
command -v wrk >/dev/null || { echo "bench/read_api.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
gzip -dc data/online_retail.csv.gz > "$tmp/all.csv"
"$shopflow" import "$tmp/all.csv" --data "$tmp/data" > /dev/null
bench_serve "$tmp/data" ${THREADS:+--threads "$THREADS"}
for _ in $(seq 600); do
    lag=$(curl -s "$url/metrics" | awk '/^shopflow_sink_lag_records/ {s += $2} END {print s}')
    applied=$(curl -s "$url/metrics" | awk '/^shopflow_sink_applied_records_total/ {s += $2} END {print s}')
    [[ "$lag" == 0 && "$applied" -ge $((3 * 541909)) ]] && break
    sleep 0.2
done
key=$("$shopflow" keys create --data "$tmp/data" --role analyst | tail -1)

sqlite3 -batch "$tmp/raw.db" ".mode csv" ".import '$tmp/all.csv' t"
sqlite3 -batch "$tmp/raw.db" "SELECT DISTINCT CAST(CAST(CustomerID AS REAL) AS INTEGER) FROM t
                              WHERE CustomerID <> ''" | sed 's|.*|/v1/customers/&/invoices|' \
    > "$tmp/customers"
sqlite3 -batch "$tmp/raw.db" "SELECT DISTINCT InvoiceNo FROM t" | sed 's|^|/v1/invoices/|' \
    > "$tmp/invoices"

# BI questions over random periods of the data (a month, a day, or the year 2011).
months=$(sqlite3 -batch "$tmp/raw.db" "SELECT DISTINCT substr(InvoiceDate, 1, 7) FROM t")
days=$(sqlite3 -batch "$tmp/raw.db" "SELECT DISTINCT substr(InvoiceDate, 1, 10) FROM t")
for m in $months; do
    echo "/v1/bi/sales?granularity=day&from=$m&to=$m"
    echo "/v1/bi/top-products?by=revenue&period=month&at=$m&limit=10"
    echo "/v1/bi/top-customers?period=month&at=$m&limit=10"
    echo "/v1/bi/top-invoices?period=month&at=$m&limit=10"
done > "$tmp/bi-month"
for d in $days; do
    echo "/v1/bi/top-products?period=day&at=$d&limit=10"
    echo "/v1/bi/sales?granularity=hour&from=$d&to=$d"
done > "$tmp/bi-day"
printf '%s\n' "/v1/bi/sales?granularity=month&from=2011&to=2011" \
    "/v1/bi/sales?granularity=day&from=2011&to=2011" "/v1/bi/profile?by=hour_of_day&from=2011&to=2011" \
    "/v1/bi/top-products?period=year&at=2011&limit=10" > "$tmp/bi-year"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
run() { # name paths-file
    local out rps p50 p99 codes c0 c1 reqs
    c0=$(cpu_ticks)
    out=$(PATHS_FILE=$2 KEY=$key wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/wrk/paths.lua "$url")
    c1=$(cpu_ticks)
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    codes=$(awk '/Non-2xx/ {print $4}' <<<"$out")
    printf '%-26s %12s req/s   p50 %8s   p99 %8s   server CPU %5.1f us/req %s\n' "$1" "$rps" \
        "$p50" "$p99" "$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $reqs" | bc -l)" \
        "${codes:+non-2xx: $codes}"
}
sqlite_time() { # name SQL: the same question of SQLite over the raw rows
    local t0 t1
    t0=$(date +%s.%N)
    sqlite3 -batch "$tmp/raw.db" "$2" > /dev/null
    t1=$(date +%s.%N)
    printf '%-26s %8.1f ms (sqlite3, raw rows, one query)\n' "$1" "$(echo "($t1 - $t0) * 1000" | bc)"
}

echo /healthz > "$tmp/healthz"
for conns in ${CONNS:-8}; do
    echo "shopflow read API, ${secs}s per run, $(nproc) cores, wrk -t1 -c$conns," \
        "load average $(cut -d' ' -f1-3 /proc/loadavg)"
    run healthz "$tmp/healthz"
    run customer-overview "$tmp/customers"
    run invoice-details "$tmp/invoices"
    [[ -n "${HISTORY_ONLY:-}" ]] && continue
    run bi-month-questions "$tmp/bi-month"
    run bi-day-questions "$tmp/bi-day"
    run bi-year-questions "$tmp/bi-year"
done
[[ -n "${HISTORY_ONLY:-}" ]] && exit 0
sqlite_time customer-overview "SELECT InvoiceNo, min(InvoiceDate), count(*), sum(Quantity),
    sum(Quantity * UnitPrice) FROM t WHERE CustomerID = '14911.0' GROUP BY InvoiceNo
    ORDER BY 2 DESC LIMIT 20"
sqlite_time invoice-details "SELECT * FROM t WHERE InvoiceNo = '536365'"
sqlite_time bi-month-top-products "SELECT StockCode, sum(Quantity * UnitPrice) AS r FROM t
    WHERE InvoiceDate LIKE '2011-11%' GROUP BY StockCode ORDER BY r DESC LIMIT 10"
sqlite_time bi-year-sales-by-month "SELECT substr(InvoiceDate, 1, 7), sum(Quantity * UnitPrice),
    count(DISTINCT InvoiceNo), count(DISTINCT CustomerID) FROM t
    WHERE InvoiceDate LIKE '2011%' GROUP BY 1"
