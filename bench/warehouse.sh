#!/usr/bin/env bash
# bench/warehouse.sh - the warehouse sink's load rate and the BI questions'
# latency, beside sqlite3 doing the same work on the same machine.
#
#   bench/warehouse.sh [RUNS]       (default 5; Release build in build-bench/)
#
# 1. `shopflow import` of the bundled file into a scratch data folder, once.
# 2. hyperfine: `shopflow sink warehouse --once` from an empty warehouse
#    (541,909 records: facts, dimensions, rollups, durable commits), beside
#    the sqlite3 CLI's `.import --csv` of the same CSV into a new file.
# 3. /usr/bin/time: the sink's CPU time and peak memory; with perf, the CPU
#    time of each of its threads (the SQLite writer thread is the critical
#    path: the wall time on an idle 2-core machine cannot go below it).
# 4. bench_bi: each BI question over the year 2011 (sf_bi_answer, as the
#    gateway calls it) and the same question in SQL over fact_sales.
# 5. with valgrind: instructions per thread (callgrind Ir) loading the first
#    100,000 rows, a figure that does not move with the machine's load.
# Results and their reading: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
build=build-bench
csv=$build/online_retail.csv
work=$(mktemp -d)
trap 'rm -rf "$work" || true' EXIT
for tool in cmake hyperfine sqlite3 gzip; do
    command -v "$tool" > /dev/null || { echo "bench/warehouse.sh: $tool is needed" >&2; exit 1; }
done
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF > /dev/null
cmake --build "$build" -j2 --target shopflow-cli bench_bi > /dev/null
shopflow=$build/src/shopflow
[[ -s $csv ]] || gzip -dc data/online_retail.csv.gz > "$csv"

echo "== machine: nproc $(nproc); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$shopflow" import --data "$work/d" data/online_retail.csv.gz
echo
echo "== load: $runs runs each, from an empty warehouse"
hyperfine --runs "$runs" --export-markdown "$work/load.md" \
    --prepare "rm -f $work/d/warehouse.db $work/d/warehouse.db-wal $work/d/warehouse.db-shm $work/s.db" \
    -n "shopflow sink warehouse --once" "$shopflow sink warehouse --data $work/d --once" \
    -n "sqlite3 .import --csv (new file)" "sqlite3 $work/s.db '.import --csv $csv t'"
cat "$work/load.md"
rm -f "$work"/d/warehouse.db*
/usr/bin/time -f "sink warehouse: %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
    "$shopflow" sink warehouse --data "$work/d" --once
if command -v perf > /dev/null; then
    rm -f "$work"/d/warehouse.db*
    perf record -q -F 1000 -o "$work/perf.data" \
        "$shopflow" sink warehouse --data "$work/d" --once > /dev/null 2>&1
    echo "CPU per thread (perf samples at 1 kHz = ms):"
    perf script -i "$work/perf.data" -F tid 2> /dev/null | sort | uniq -c | sort -n
fi
echo
echo "== BI questions over 2011 (bench_bi -n 200)"
"$build/bench/bench_bi" -n 200 "$work/d/warehouse.db" 2011-01 2011-12
if command -v valgrind > /dev/null; then
    echo
    echo "== instructions per thread, first 100,000 rows (callgrind)"
    head -100001 "$csv" > "$work/slice.csv"
    "$shopflow" import --data "$work/s" "$work/slice.csv" > /dev/null
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/cg" \
        "$shopflow" sink warehouse --data "$work/s" --once > /dev/null 2>&1
    for f in "$work"/cg-*; do echo "$(basename "$f"): $(grep -m1 '^summary' "$f")"; done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
