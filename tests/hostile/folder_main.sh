#!/usr/bin/env bash
# Issue 16 item 3: a data folder written by shopflow before stream positions
# were wide (folder-main/, made by shopflow at 0ff10be: a log of 5,300
# records, its three sinks 300 records behind, an import ledger) opens with
# this shopflow and goes on where it was:
#  - `status` gives the same positions and lags as the old shopflow did;
#  - the history API and the BI answers, before the sinks run, are byte for
#    byte the old ones (the stores read as they were);
#  - `sink all --once` migrates what needs it, saying so in the log (the
#    SQLite warehouse, schema 5 -> 6), and loads exactly the missing rows:
#    fact_sales' count and sum are sqlite3's over the 5,300 rows, every
#    new fact_id above the old ones, the archive holds each record once;
#  - answers about records the new rows do not touch are still the old ones;
#  - importing the first file again appends nothing (the old ledger holds
#    it).
#   usage: folder_main.sh SHOPFLOW DATA_GZ
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
shopflow=$1
data_gz=$2
fx=$here/folder-main
tmp=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2> /dev/null && wait "${SERVER_PID:-}"; rm -rf "$tmp" || true' EXIT
d=$tmp/d
mkdir -p "$d"
xz -dc "$fx/folder.tar.xz" | tar -C "$d" -xf -
tar -C "$tmp" -xzf "$fx/answers.tar.gz"
# The files it was made from (README.md): the first 5,000 rows, then 300.
rows() { { gzip -dc "$data_gz" || true; } | sed -n "$1"; } # (gzip stops early: SIGPIPE)
rows '1,5001p;5001q' > "$tmp/first.csv"
{ rows '1p;1q'; rows '5002,5301p;5301q'; } > "$tmp/more.csv"
{ cat "$tmp/first.csv"; tail -n +2 "$tmp/more.csv"; } > "$tmp/all.csv"

# status: the same positions and lags (the new fields aside).
project='{p: [.partitions[] | [.partition, .end_offset, .missing]],
          s: (.sinks | map_values({lag, offsets}))}'
want=$(jq -c "$project" "$tmp/answers/status.json")
got=$("$shopflow" status --data "$d" --json | jq -c "$project")
[[ "$got" == "$want" ]] || fail "status: $got, the old shopflow: $want"
[[ $(jq '.s.warehouse.lag' <<<"$got") == 300 ]] || fail "no lag to catch up: $got"

analyst=$("$shopflow" keys create --data "$d" --role analyst | tail -1)
get() { curl -s -w '\n%{http_code}\n' -H "Authorization: Bearer $analyst" "http://127.0.0.1:$PORT/v1/$1"; }
same() { # ANSWER PATH
    get "$2" | cmp -s - "$tmp/answers/$1.txt" ||
        fail "GET /v1/$2 differs from the old answer: $(get "$2" | head -c 400)"
}
ask_history() {
    for inv in 536365 536367 C536379 536592; do
        same "invoice-$inv" "invoices/$inv"
    done
    same c17850 "customers/17850/invoices?limit=5"
    same c13047 "customers/13047/invoices"
}
start_server "$d" --sinks none
ask_history
same bi-sales-year "bi/sales?granularity=year"
same bi-top-products-year "bi/top-products?granularity=year"
stop_server
[[ $(sqlite3 "$d/warehouse.db" 'PRAGMA user_version') == 5 ]] || fail "a reader changed the warehouse"

# The sinks catch up; the warehouse's migration says so, once.
max_before=$(sqlite3 "$d/warehouse.db" 'SELECT max(fact_id) FROM fact_sales')
"$shopflow" sink all --data "$d" --once 2> "$tmp/sink.log" > /dev/null ||
    fail "sink all: $(cat "$tmp/sink.log")"
grep -c 'event=warehouse_upgraded .*from=5 to=6' "$tmp/sink.log" | grep -qx 1 ||
    fail "the warehouse's upgrade is not logged once: $(cat "$tmp/sink.log")"
[[ $("$shopflow" status --data "$d" --json | jq '[.sinks[].lag] | add') == 0 ]] ||
    fail "the sinks did not catch up: $("$shopflow" status --data "$d")"
want=$(sqlite_figures "$tmp/all.csv" | jq -r '"\(.rows) \(.revenue | sub("\\."; "") | tonumber)"')
got=$(sqlite3 -separator ' ' "$d/warehouse.db" 'SELECT count(*), sum(amount_milli) FROM fact_sales')
[[ "$got" == "$want" ]] || fail "warehouse: $got, sqlite3 over the rows: $want"
# New facts are numbered past the old ones in each partition (ordinal =
# the old next offset), and log_offset is still the record's offset.
[[ $(sqlite3 "$d/warehouse.db" "SELECT count(*) FROM fact_sales WHERE fact_id > $max_before
        AND (fact_id >> 40) = 7") -gt 0 ]] || fail "no new facts in partition 7"
[[ $(sqlite3 "$d/warehouse.db" 'SELECT count(*) FROM fact_sales
        WHERE fact_id <> (log_partition << 40) + log_offset') == 0 ]] ||
    fail "a fact_id is not partition x 2^40 + its offset on a dense log"
[[ $(sqlite3 "$d/warehouse.db" 'SELECT sum(ordinal) = sum(next_offset) FROM sink_offsets') == 1 ]] ||
    fail "ordinals and positions disagree on a dense log"
records=$(find "$d/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l)
[[ $records -eq 5300 ]] || fail "the archive holds $records records"

# Answers the new rows do not touch are the old ones.
start_server "$d" --sinks none
ask_history
stop_server

# The old ledger knows the first file: nothing is appended again.
ends() { "$shopflow" status --data "$d" --json | jq -c '[.partitions[].end_offset]'; }
before=$(ends)
out=$("$shopflow" import --data "$d" "$tmp/first.csv" 2>&1)
grep -q 'already imported: 5,000 rows, 0 loaded' <<<"$out" || fail "import again: $out"
[[ $(ends) == "$before" ]] || fail "the log grew on a second import: $(ends), was $before"
echo "ok: a data folder written by 0ff10be opens, answers the same and catches up"
