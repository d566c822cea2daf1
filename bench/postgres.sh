#!/usr/bin/env bash
# bench/postgres.sh - the "postgres" warehouse adapter: its load rate beside
# psql's \copy of the same CSV, and the BI questions' latency on PostgreSQL
# beside SQLite, on the same machine.
#
#   bench/postgres.sh [RUNS]       (default 3; Release build in build-bench/)
#
# A throwaway PostgreSQL 15 server (tests/support/pg.sh: initdb in a
# temporary folder, unix socket, default settings, fsync on).
# 1. `shopflow import` of the bundled file into a scratch data folder, once.
# 2. hyperfine, from an empty database / file each run:
#    `shopflow sink warehouse --once --warehouse postgresql://...` (facts
#    by COPY into a staging table, rollups, positions, durable commits),
#    `psql -c '\copy t FROM online_retail.csv CSV HEADER'` into a new table
#    of eight text columns (no keys, no rollups), and the SQLite sink.
# 3. bench_bi -n 200 over 2011: each BI question on the SQLite file and on
#    the PostgreSQL database loaded from the same log.
# Results and their reading: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
build="build-bench"
csv=$PWD/$build/online_retail.csv
work=$(mktemp -d)
source tests/support/pg.sh
trap 'pg_stop; rm -rf "$work" || true' EXIT
for tool in cmake hyperfine gzip; do
    command -v "$tool" > /dev/null || { echo "bench/postgres.sh: $tool is needed" >&2; exit 1; }
done
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF > /dev/null
cmake --build "$build" -j2 --target shopflow-cli bench_bi > /dev/null
shopflow=$build/src/shopflow
[[ -s $csv ]] || gzip -dc data/online_retail.csv.gz > "$csv"
chmod 644 "$csv"
pg_start "$work" || { echo "bench/postgres.sh: cannot start PostgreSQL" >&2; exit 1; }
psql="$PG_BIN/psql -X -q -h $PG_DIR -p $PG_PORT -U postgres"

echo "== machine: nproc $(nproc); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $("$PG_BIN/postgres" --version)"
"$shopflow" import --data "$work/d" data/online_retail.csv.gz
echo
echo "== load: $runs runs each, from an empty warehouse"
hyperfine --runs "$runs" --export-markdown "$work/load.md" \
    -n "shopflow sink warehouse --once (postgres)" \
    --prepare "$psql -d postgres -c 'DROP DATABASE IF EXISTS b' -c 'CREATE DATABASE b'" \
    "$shopflow sink warehouse --data $work/d --once --warehouse 'postgresql:///b?host=$PG_DIR&port=$PG_PORT&user=postgres'" \
    -n "psql \\copy (text columns, no keys)" \
    --prepare "$psql -d b -c 'DROP TABLE IF EXISTS t' -c 'CREATE TABLE t (a text, b text, c text, d text, e text, f text, g text, h text)'" \
    "$psql -d b -c '\\copy t FROM $csv CSV HEADER'" \
    -n "shopflow sink warehouse --once (sqlite)" \
    --prepare "rm -f $work/d/warehouse.db $work/d/warehouse.db-wal $work/d/warehouse.db-shm" \
    "$shopflow sink warehouse --data $work/d --once"
cat "$work/load.md"
$psql -d postgres -c 'DROP DATABASE IF EXISTS b' -c 'CREATE DATABASE b'
/usr/bin/time -f "sink warehouse (postgres): %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
    "$shopflow" sink warehouse --data "$work/d" --once \
    --warehouse "postgresql:///b?host=$PG_DIR&port=$PG_PORT&user=postgres"
echo
echo "== BI questions over 2011 (bench_bi -n 200): SQLite"
"$build/bench/bench_bi" -n 200 "$work/d/warehouse.db" 2011-01 2011-12
echo
echo "== BI questions over 2011 (bench_bi -n 200): PostgreSQL"
"$build/bench/bench_bi" -n 200 "postgresql:///b?host=$PG_DIR&port=$PG_PORT&user=postgres" \
    2011-01 2011-12
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
