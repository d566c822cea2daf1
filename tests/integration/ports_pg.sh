#!/usr/bin/env bash
# Every command through the ports, with the warehouse in PostgreSQL (a real
# server started here, tests/support/pg.sh; skipped, 77, without one):
#  - `import FILE --sinks all` with the archive and the history store away
#    from the data folder (--objects, --store) and the warehouse in
#    PostgreSQL, from a --config file: when it returns, fact_sales holds as
#    many rows, and as much revenue, as sqlite3 counts over the same CSV
#    rows, and the archive and store are where they were told to be;
#  - `status` (the warehouse from SHOPFLOW_WAREHOUSE): lag 0 for every sink;
#    on a database never loaded, the warehouse sink has not started (lag =
#    every record) and nothing is made in the data folder;
#  - `import --from-archive` of that archive, named through the objects
#    port's file: scheme, into a new folder, then the warehouse sink into
#    another PostgreSQL database: the same figures, status lag 0.
#   usage: ports_pg.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"

(gzip -dc "$data" || true) | head -20001 > "$tmp/part.csv"
want=$(sqlite_figures "$tmp/part.csv" | jq -r '"\(.rows) \(.revenue | sub("\\."; "") | tonumber)"')
pg_figures() { "$PG_BIN/psql" -X -At -F ' ' -d "$1" -c 'SELECT count(*), sum(amount_milli) FROM fact_sales'; }

# import --sinks, the stores where the settings say (a config file this time).
cat > "$tmp/import.conf" <<EOF
sinks = all
objects = $tmp/elsewhere/archive
store = $tmp/elsewhere/history
warehouse = $PG_URL
EOF
out=$("$shopflow" import --config "$tmp/import.conf" --data "$tmp/d" "$tmp/part.csv") ||
    fail "import --sinks all into PostgreSQL exited $?: $out"
grep -q "20,000 imported" <<< "$out" && grep -q "^sinks (3) caught up" <<< "$out" ||
    fail "import: $out"
[[ $(pg_figures "$PG_URL") == "$want" ]] ||
    fail "PostgreSQL's fact_sales: $(pg_figures "$PG_URL"), sqlite3 over the CSV: $want"
[[ ! -e $tmp/d/warehouse.db && ! -e $tmp/d/archive && ! -e $tmp/d/history ]] ||
    fail "a sink's store was made in the data folder: $(ls "$tmp/d")"
records=$(find "$tmp/elsewhere/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l)
[[ $records -eq 20000 ]] || fail "the archive at --objects holds $records records"

# status asks each port: everything caught up.
places=(--objects "$tmp/elsewhere/archive" --store "$tmp/elsewhere/history")
st=$(SHOPFLOW_WAREHOUSE=$PG_URL "$shopflow" status --data "$tmp/d" "${places[@]}" --json)
jq -e '.sinks.archive.lag == 0 and .sinks.history.lag == 0 and .sinks.warehouse.lag == 0
       and ([.partitions[].end_offset] | add) == 20000' <<< "$st" > /dev/null ||
    fail "status over PostgreSQL: $st"
# A database the sink never loaded: not started, and status makes nothing.
fresh=$(pg_new_db fresh)
st=$("$shopflow" status --data "$tmp/d" "${places[@]}" --warehouse "$fresh" --json)
jq -e '.sinks.warehouse.lag == 20000 and .sinks.archive.lag == 0' <<< "$st" > /dev/null ||
    fail "status of a database never loaded: $st"
"$shopflow" status --data "$tmp/d" --warehouse "$fresh" --json |
    jq -e '.sinks.archive.lag == 20000 and .sinks.history.lag == 20000' > /dev/null ||
    fail "status of stores never made"
[[ ! -e $tmp/d/archive && ! -e $tmp/d/history ]] || fail "status made a store: $(ls "$tmp/d")"

# import --from-archive through the objects port (a file: location), then the
# warehouse sink into another database: the same figures.
out=$("$shopflow" import --from-archive "file:$tmp/elsewhere/archive" --data "$tmp/r") ||
    fail "import --from-archive exited $?: $out"
grep -q "20,000 rows, 20,000 imported" <<< "$out" || fail "rebuild: $out"
rebuilt=$(pg_new_db rebuilt)
"$shopflow" sink warehouse --data "$tmp/r" --warehouse "$rebuilt" --once > /dev/null
[[ $(pg_figures "$rebuilt") == "$want" ]] ||
    fail "the rebuilt log's fact_sales: $(pg_figures "$rebuilt"), sqlite3 over the CSV: $want"
"$shopflow" status --data "$tmp/r" --warehouse "$rebuilt" --json |
    jq -e '.sinks.warehouse.lag == 0' > /dev/null || fail "status of the rebuilt warehouse"
echo "ok: import --sinks, status and import --from-archive through the ports, on PostgreSQL"
