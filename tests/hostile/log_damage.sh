#!/usr/bin/env bash
# A damaged log never loses acknowledged records silently (issue 15, items
# 2 and 6). A server whose three sinks are caught up is stopped, then its
# log is damaged as a bad disk would:
#   1. the last segment of partition 0 cut short by 5 bytes: serve refuses,
#      naming the repair; `log repair` restores the record from the archive;
#      serve starts, 12 new records reach every sink, the lost one is back;
#   2. the same cut with an archive that lacks the record: repair marks a
#      hole, which verify and readers report; no offset is given twice and
#      12 new records reach every sink;
#   3. a byte flipped in the middle of a segment: verify names partition,
#      file and offset and exits 1, serve refuses naming them and the
#      tools; repair restores the entry from the archive, verify exits 0;
#   4. a sink whose stored position is past the log's end (a history store
#      copied from a longer log): serve and `sink` stop, naming it.
#   usage: log_damage.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID; rm -rf "$tmp" || true' EXIT
rows=2000
(gzip -dc "$2" || true) | head -$((rows + 1)) > "$tmp/rows.csv"
base="$tmp/base"
ingest=$("$shopflow" keys create --data "$base" --role ingest | tail -1)
analyst=$("$shopflow" keys create --data "$base" --role analyst | tail -1)
seg0=log/p0000/00000000000000000000.seg

archived() { find "$1/archive" -name '*.ndjson.gz' -exec gzip -dc {} + 2>/dev/null | wc -l; }
facts() { sqlite3 "$1/warehouse.db" 'SELECT count(*) FROM fact_sales'; }
# caught_up DIR N: every sink has applied everything and holds N records.
caught_up() {
    for _ in $(seq 600); do
        local lags=0
        for s in archive history warehouse; do
            [[ "$(metric "shopflow_sink_lag_records{sink=\"$s\"}")" == 0 ]] || lags=1
        done
        [[ $lags == 0 && $(archived "$1") == "$2" && $(facts "$1") == "$2" ]] && return 0
        sleep 0.1
    done
    fail "$1: sinks never caught up to $2 records (archive $(archived "$1"), warehouse $(facts "$1"))"
}
serve() { start_server "$1" --archive-max-wait 100ms; }
# refuses DIR: serve must exit non-zero without serving; its stderr in $tmp/err.
refuses() {
    local rc=0
    timeout 30 "$shopflow" serve --data "$1" --listen 127.0.0.1:0 2> "$tmp/err" || rc=$?
    [[ $rc != 0 && $rc != 124 ]] || fail "serve did not refuse $1 (rc $rc): $(cat "$tmp/err")"
}
says() { grep -qF -- "$2" "$1" || fail "$1 does not say '$2': $(cat "$1")"; }
# post_new FIRST: 12 records of 12 new invoices FIRST..FIRST+11, with
# event ids; the answer is left in $tmp/resp.
post_new() {
    for i in $(seq 0 11); do
        printf '{"event_id":"ev-%s","invoice_no":"%s","stock_code":"85123A","description":"%s",' \
            $(($1 + i)) $(($1 + i)) "WHITE HANGING HEART T-LIGHT HOLDER"
        printf '"quantity":%d,"invoice_date":"2010-12-01 18:00:00","unit_price":"2.55",' $((i + 1))
        printf '"customer_id":17850,"country":"United Kingdom"}\n'
    done > "$tmp/new.ndjson"
    [[ $(post "$ingest" application/x-ndjson "$tmp/new.ndjson") == 200 ]] ||
        fail "post: $(cat "$tmp/resp")"
}
invoice() {
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $analyst" \
        "http://127.0.0.1:$PORT/v1/invoices/$1"
}
all_invoices_200() { # FIRST
    for i in $(seq 0 11); do
        [[ $(invoice $(($1 + i))) == 200 ]] || fail "invoice $(($1 + i)) is not readable"
    done
}

serve "$base"
[[ $(post "$ingest" text/csv "$tmp/rows.csv") == 200 ]] || fail "post: $(cat "$tmp/resp")"
caught_up "$base" $rows
stop_server
"$shopflow" log verify --data "$base" > "$tmp/out" || fail "a sound log fails verify: $(cat "$tmp/out")"
# The last record of partition 0: the one the cut takes away.
"$shopflow" log dump --data "$base" --partition 0 | tail -1 > "$tmp/lost"
lost_off=$(jq -r .offset "$tmp/lost")
lost_inv=$(jq -r .invoice_no "$tmp/lost")

# 1. Cut short; restored from the archive.
d="$tmp/d1"
cp -a "$base" "$d"
truncate -s -5 "$d/$seg0"
refuses "$d"
says "$tmp/err" "partition 0"
says "$tmp/err" "00000000000000000000.seg"
says "$tmp/err" "offsets $lost_off to $lost_off (1 record) were acknowledged"
says "$tmp/err" "shopflow log repair --data $d"
"$shopflow" log stat --data "$d" > /dev/null 2> "$tmp/stat"
says "$tmp/stat" "acknowledged offsets $lost_off to $lost_off are missing"
grep -q removed "$tmp/stat" && fail "a read-only open says removed: $(cat "$tmp/stat")"
if "$shopflow" log verify --data "$d" > "$tmp/out"; then fail "verify passes a cut log"; fi
says "$tmp/out" "partition 0"
"$shopflow" log repair --data "$d" > "$tmp/out" || fail "repair: $(cat "$tmp/out")"
says "$tmp/out" "offsets $lost_off to $lost_off (1 record) restored from the archive"
"$shopflow" log verify --data "$d" > /dev/null || fail "verify after repair"
"$shopflow" log dump --data "$d" --partition 0 --from "$lost_off" --limit 1 | diff - "$tmp/lost" ||
    fail "the lost record is not back"
cmp "$base/$seg0" "$d/$seg0" || fail "the repaired segment differs from the sound one"
serve "$d"
post_new 990001
caught_up "$d" $((rows + 12))
all_invoices_200 990001
[[ $(invoice "$lost_inv") == 200 ]] || fail "the lost record's invoice $lost_inv is not readable"
stop_server

# 2. Cut short, and the archive does not hold the record: a hole.
d="$tmp/d2"
cp -a "$base" "$d"
truncate -s -5 "$d/$seg0"
mkdir "$tmp/empty"
"$shopflow" log repair --data "$d" --archive "$tmp/empty" > "$tmp/out" || fail "repair: $(cat "$tmp/out")"
says "$tmp/out" "offsets $lost_off to $lost_off (1 record) marked lost for good"
"$shopflow" log verify --data "$d" > "$tmp/out" || fail "a log with a recorded hole fails verify"
says "$tmp/out" "a hole: offsets $lost_off to $lost_off (1 record) were lost for good"
"$shopflow" log dump --data "$d" --partition 0 --from "$lost_off" > "$tmp/dump" 2> "$tmp/dumperr"
[[ $(head -1 "$tmp/dump" | jq -r '.hole.count') == 1 ]] || fail "dump shows no hole: $(cat "$tmp/dump")"
says "$tmp/dumperr" "event=log_hole_skipped partition=0 from=$lost_off"
serve "$d"
post_new 991001
caught_up "$d" $((rows + 12)) # the lost record had reached the sinks before
all_invoices_200 991001
[[ "$(metric shopflow_log_hole_skips_total)" -ge 1 ]] || fail "no hole skip counted in /metrics"
says "$d.server.log" "event=log_hole_skipped partition=0 from=$lost_off"
stop_server
# The event-id window, loaded from the log on start, reads past the hole.
serve "$d"
post_new 991001
jq -e '.accepted == 0 and .duplicates == 12' "$tmp/resp" > /dev/null ||
    fail "records after the hole were taken again: $(cat "$tmp/resp")"
stop_server
# No offset given twice: the hole keeps its place, new records come after.
"$shopflow" log dump --data "$d" --partition 0 --from "$lost_off" 2> /dev/null > "$tmp/dump"
[[ $(head -1 "$tmp/dump" | jq -r '.hole.count') == 1 ]] || fail "the hole is gone: $(head -1 "$tmp/dump")"
tail -n +2 "$tmp/dump" | jq -e --argjson o "$lost_off" 'select(.offset <= $o)' > /dev/null &&
    fail "an offset was given twice: $(cat "$tmp/dump")"
[[ $(tail -n +2 "$tmp/dump" | wc -l) -ge 1 ]] || fail "no new record came after the hole in partition 0"
# Sinks that start from nothing read over the hole (each saying so) and
# go on: every record but the lost one, and an archive that imports.
rm -rf "$d/archive" "$d/history" "$d/warehouse.db"*
timeout 60 "$shopflow" sink all --data "$d" --once 2> "$tmp/err" || fail "sinks over a hole: $(cat "$tmp/err")"
[[ $(grep -c "event=log_hole_skipped partition=0 from=$lost_off" "$tmp/err") -ge 3 ]] ||
    fail "not every sink said it skipped the hole: $(cat "$tmp/err")"
[[ $(archived "$d") == $((rows + 11)) && $(facts "$d") == $((rows + 11)) ]] ||
    fail "sinks over a hole: archive $(archived "$d"), warehouse $(facts "$d"), not $((rows + 11))"
"$shopflow" import --from-archive "$d/archive" --data "$tmp/rebuilt" > "$tmp/out" 2>&1 ||
    fail "the archive written over a hole does not import: $(cat "$tmp/out")"

# 3. A byte flipped in the middle of a segment.
d="$tmp/d3"
cp -a "$base" "$d"
printf '\x55' | dd of="$d/$seg0" bs=1 seek=5000 conv=notrunc 2> /dev/null
if "$shopflow" log verify --data "$d" > "$tmp/out"; then fail "verify passes a flipped byte"; fi
says "$tmp/out" "partition 0: $d/$seg0 byte"
says "$tmp/out" "fails its checksum"
if "$shopflow" log verify --data "$d" --json > "$tmp/out"; then fail "verify --json exits 0"; fi
jq -e '.clean == false and .findings[0].partition == 0 and .findings[0].byte <= 5000 and
    (.findings[0].offset | type) == "number"' "$tmp/out" > /dev/null || fail "verify --json: $(cat "$tmp/out")"
refuses "$d"
says "$tmp/err" "partition 0, $d/$seg0"
says "$tmp/err" "fails its checksum"
says "$tmp/err" "shopflow log verify --data $d"
says "$tmp/err" "shopflow log repair --data $d"
"$shopflow" log repair --data "$d" > "$tmp/out" || fail "repair: $(cat "$tmp/out")"
says "$tmp/out" "restored from the archive"
"$shopflow" log verify --data "$d" > "$tmp/out" || fail "verify after repair: $(cat "$tmp/out")"
cmp "$base/$seg0" "$d/$seg0" || fail "the repaired segment differs from the sound one"

# 4. A sink past the log's end: the history store of case 1's longer log.
d="$tmp/d4"
cp -a "$base" "$d"
rm -rf "$d/history"
cp -a "$tmp/d1/history" "$d/history"
refuses "$d"
says "$tmp/err" "the history sink's stored position is"
says "$tmp/err" "past the log's end"
says "$tmp/err" "shopflow log repair"
if "$shopflow" sink history --data "$d" --once 2> "$tmp/err"; then fail "sink went on past the end"; fi
says "$tmp/err" "the history sink's stored position is"
"$shopflow" status --data "$d" > "$tmp/out"
says "$tmp/out" "past the log's end"
echo "log_damage: ok"
