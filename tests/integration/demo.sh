#!/usr/bin/env bash
# `shopflow demo --exit` on the bundled file: the whole flow over HTTP into
# the three sinks and the report; every row accepted once, the report's total
# the published revenue; a rerun rebuilds the demo folder; a folder that is
# not a demo's is never emptied.
#   usage: demo.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" || true' EXIT

run_demo() {
    local file=$2
    shift 2
    "$shopflow" demo --exit --data "$tmp/demo" --listen 127.0.0.1:0 --file "$file" "$@" \
        > "$tmp/out" 2> "$tmp/err" || fail "demo failed: $(cat "$tmp/err")"
}
run_demo full "$2"
grep -q "Replayed 541909 rows .*batches of 5000 as NDJSON" "$tmp/out" ||
    fail "replay line: $(head -5 "$tmp/out")"
[[ $(ls "$tmp/demo/log" | grep -c '^p') -eq 2 ]] || fail "partitions: $(ls "$tmp/demo/log")"
grep -q "541909 accepted, 0 duplicates, 0 rejected" "$tmp/out" || fail "counts"
grep -q "^total *£9,747,747.934" "$tmp/out" || fail "report total: $(grep total "$tmp/out")"
grep -q "Sinks caught up" "$tmp/out" || fail "no catch-up figure"
grep -Eq "^Watch it arrive on the dashboard: http://127\.0\.0\.1:[0-9]+/#token=sfk_[0-9a-f]{64}$" \
    "$tmp/out" || fail "no dashboard link: $(head -3 "$tmp/out")"
[[ -f "$tmp/demo/.shopflow-demo" ]] || fail "no demo marker"
# The server's log lines go to the folder's demo.log, not between the report's.
grep -q "^The server's log: $tmp/demo/demo.log$" "$tmp/out" || fail "log not named: $(head -4 "$tmp/out")"
for sink in archive history warehouse; do
    grep -q "event=sink_stopped sink=$sink applied=541909" "$tmp/demo/demo.log" ||
        fail "demo.log: $(cat "$tmp/demo/demo.log")"
done
! grep -q "event=" "$tmp/out" "$tmp/err" || fail "log lines on the terminal: $(grep -h event= "$tmp/out" "$tmp/err")"
"$shopflow" status --data "$tmp/demo" --json > "$tmp/status"
jq -e '[.sinks[] | .lag] | all(. == 0)' "$tmp/status" > /dev/null || fail "lag after demo"
sqlite3 "$tmp/demo/warehouse.db" "SELECT count(*), sum(amount_milli) FROM fact_sales" \
    > "$tmp/wh"
[[ "$(cat "$tmp/wh")" == "541909|9747747934" ]] || fail "warehouse: $(cat "$tmp/wh")"

# A rerun starts from an empty demo folder: accepted again, not duplicates
# (sent as CSV this time, into a log of 3 partitions).
(gzip -dc "$2" || true) | head -1001 > "$tmp/small.csv"
run_demo small "$tmp/small.csv" --send csv --partitions 3 --batch 100
grep -q "1000 accepted, 0 duplicates" "$tmp/out" || fail "rerun: $(head -5 "$tmp/out")"
grep -q "batches of 100 as CSV" "$tmp/out" || fail "rerun: $(head -5 "$tmp/out")"
[[ $(ls "$tmp/demo/log" | grep -c '^p') -eq 3 ]] || fail "partitions: $(ls "$tmp/demo/log")"
sqlite3 "$tmp/demo/warehouse.db" "SELECT count(*) FROM fact_sales" > "$tmp/wh"
[[ "$(cat "$tmp/wh")" == "1000" ]] || fail "warehouse after the rerun: $(cat "$tmp/wh")"
if "$shopflow" demo --exit --data "$tmp/demo" --send xml > /dev/null 2> "$tmp/err"; then
    fail "--send xml accepted"
fi
grep -q "not csv or json" "$tmp/err" || fail "--send xml: $(cat "$tmp/err")"

# Never empties a folder holding other data.
mkdir -p "$tmp/other/src"
if "$shopflow" demo --exit --data "$tmp/other" --listen 127.0.0.1:0 > "$tmp/out" 2> "$tmp/err"; then
    fail "demo ran in a folder that is not a demo's"
fi
grep -q "not a demo" "$tmp/err" || fail "refusal not said: $(cat "$tmp/err")"
[[ -d "$tmp/other/src" && ! -e "$tmp/other/.shopflow-demo" ]] || fail "the other folder was touched"
echo "demo: ok"
