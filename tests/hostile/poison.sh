#!/usr/bin/env bash
# A poison entry: an entry of the log that is not a record (well framed, its
# checksum holds, but its bytes do not unpack), between good records.
#  - default (--on-bad-entry stop): every sink stops at it with a message
#    naming the partition, the offset and the way out; nothing after it in
#    its partition is applied, what came before is; the gateway goes on;
#  - --on-bad-entry quarantine: every sink sets it aside and goes on, each
#    good record lands once in every store, `quarantine list` shows the
#    entry, /metrics counts it, one log line per sink;
#  - `quarantine retry --record` with the fixed record applies it once in
#    every store (the API answers for it), and never again.
# Then on Kafka (the mock cluster), messages another producer wrote to the
# topic: JSON text of a transaction, and bytes that are nothing (one of them
# larger than any record, which the Kafka reader refused). Set aside;
# `retry` alone applies the JSON one (its bytes are the text of one valid
# record) and keeps the other, saying why.
# On the code before issue 15 every sink fails at the entry forever.
#   usage: poison.sh SHOPFLOW DATA_GZ SF_TEST_POISON SF_TEST_HISTORY SF_TEST_KAFKA_MOCK
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
shopflow=$1
poison=$3
history=$4
mockbin=$5
tmp=$(mktemp -d)
SERVER_PID=
MOCK_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2> /dev/null && wait "$SERVER_PID"
    [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2> /dev/null && wait "$MOCK_PID"
    rm -rf "$tmp" || true
}
trap cleanup EXIT
data="$tmp/data"
(gzip -dc "$2" || true) | head -3001 > "$tmp/rows.csv"
head -2001 "$tmp/rows.csv" > "$tmp/first.csv"
(head -1 "$tmp/rows.csv"; tail -n +2002 "$tmp/rows.csv") > "$tmp/second.csv"

facts() { sqlite3 "$data/warehouse.db" "SELECT count(*) FROM fact_sales"; }
archived() { find "$data/archive" -name '*.ndjson.gz' -exec gzip -dc {} + 2>/dev/null | wc -l; }
history_lines() { "$history" "$data/history" 536365 17850 | sed 's/.* lines=\([0-9]*\).*/\1/'; }

# 2,000 rows, the poison entry (in invoice 536365's partition), 1,000 rows.
"$shopflow" import --data "$data" "$tmp/first.csv" > /dev/null
read -r _ part offset < <("$poison" "$data/log" 536365)
[[ -n "$offset" ]] || fail "no poison entry appended"
"$shopflow" import --data "$data" "$tmp/second.csv" > /dev/null
analyst=$("$shopflow" keys create --data "$data" --role analyst | tail -1)

# 1. The default: each sink stops at the entry, says where and what to do,
# and is not run again; the gateway goes on serving.
start_server "$data"
for _ in $(seq 300); do
    [[ $(grep -c 'event=sink_stopped_at_bad_entry' "$data.server.log") == 3 ]] && break
    sleep 0.1
done
for sink in archive history warehouse; do
    line=$(grep "event=sink_stopped_at_bad_entry sink=$sink " "$data.server.log") ||
        fail "the $sink sink did not stop at the entry: $(tail -5 "$data.server.log")"
    [[ $line == *"stops at partition $part offset $offset"* && $line == *"--on-bad-entry quarantine"* ]] ||
        fail "the $sink sink's stop does not say where and what to do: $line"
    wait_for "shopflow_sink_stopped{sink=\"$sink\"}" 1
done
grep -q 'event=sink_failed' "$data.server.log" && fail "a sink retried the entry"
curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null || fail "the gateway stopped too"
stop_server
# Nothing of its partition from the entry on is applied; the rest is.
"$shopflow" status --data "$data" > "$tmp/status"
awk -v p="$part" -v o="$offset" '$1 == "lag" {lags = 1} # the table of positions only
    !lags && $1 == p && ($3 != o || $4 != o || $5 != o) {bad = 1} END {exit bad}' \
    "$tmp/status" || fail "the sinks are not at the entry: $(cat "$tmp/status")"
n=$(facts)
[[ $n -lt 3000 && $n -gt 0 ]] || fail "the warehouse holds $n rows while stopped"
grep -q "event=sink_stopped sink=warehouse applied=$n " "$data.server.log" ||
    fail "warehouse: applied is not what it committed ($n): $(grep sink_stopped "$data.server.log")"

# 2. quarantine: each sink sets the entry aside and goes on; every good row
# once in every store; a log line and a count per sink.
start_server "$data" --on-bad-entry quarantine
for sink in archive history warehouse; do
    wait_for "shopflow_sink_lag_records{sink=\"$sink\"}" 0
    wait_for "shopflow_sink_quarantined_total{sink=\"$sink\"}" 1
    wait_for "shopflow_sink_stopped{sink=\"$sink\"}" 0
done
[[ $(grep -c "event=sink_quarantined .*partition=$part offset=$offset " "$data.server.log") == 3 ]] ||
    fail "not one log line per sink: $(grep sink_quarantined "$data.server.log")"
"$shopflow" quarantine list --data "$data" > "$tmp/list"
for sink in archive history warehouse; do
    grep -Eq "^$sink +$part +$offset +[0-9]+ " "$tmp/list" || fail "list: no $sink entry: $(cat "$tmp/list")"
done
[[ $(wc -l < "$tmp/list") == 4 ]] || fail "list: $(cat "$tmp/list")"
"$shopflow" quarantine show --data "$data" --sink history --partition "$part" --offset "$offset" \
    > "$tmp/show"
grep -q "holds no record" "$tmp/show" && grep -q "4a 55 4e 4b" "$tmp/show" ||
    fail "show: $(cat "$tmp/show")"
stop_server
[[ $(facts) == 3000 ]] || fail "the warehouse holds $(facts) rows, expected 3000"
[[ $(archived) == 3000 ]] || fail "the archive holds $(archived) rows, expected 3000"
[[ $(history_lines) == 3000 ]] || fail "the history holds $(history_lines) lines, expected 3000"

# 3. A retry without a fix keeps the entry (exit 1); with the fixed record,
# it is applied once in every store, and the entry leaves the quarantine.
rc=0
"$shopflow" quarantine retry --data "$data" > "$tmp/retry" || rc=$?
[[ $rc == 1 ]] && grep -q "3 kept" "$tmp/retry" || fail "retry without a fix: $rc $(cat "$tmp/retry")"
cat > "$tmp/fixed.json" << 'EOF'
{"InvoiceNo":"599999","StockCode":"FIXED","Description":"THE FIXED LINE","Quantity":3,
 "InvoiceDate":"2010-12-01 09:00:00","UnitPrice":1.25,"CustomerID":17850,"Country":"United Kingdom"}
EOF
# A retry beside a running server (whose warehouse sink is stopped for it).
start_server "$data" --on-bad-entry quarantine --sinks archive,history
"$shopflow" quarantine retry --data "$data" --partition "$part" --offset "$offset" \
    --record "$tmp/fixed.json" > "$tmp/retry" || fail "retry: $(cat "$tmp/retry")"
grep -q "3 applied, 0 kept" "$tmp/retry" || fail "retry: $(cat "$tmp/retry")"
rc=0
"$shopflow" quarantine retry --data "$data" --partition "$part" --offset "$offset" \
    --record "$tmp/fixed.json" > "$tmp/again" || rc=$?
[[ $rc == 1 ]] && grep -q "no such entry" "$tmp/again" || fail "a second retry: $(cat "$tmp/again")"
code=$(curl -s -o "$tmp/inv" -w '%{http_code}' -H "Authorization: Bearer $analyst" \
    "http://127.0.0.1:$PORT/v1/invoices/599999")
[[ $code == 200 ]] && jq -e '.lines | length == 1' "$tmp/inv" > /dev/null ||
    fail "the retried record is not served: $code $(cat "$tmp/inv")"
stop_server
[[ $(facts) == 3001 ]] || fail "the warehouse holds $(facts) rows after the retry, expected 3001"
[[ $(sqlite3 "$data/warehouse.db" "SELECT count(*) FROM fact_sales WHERE stock_code = 'FIXED'
    AND log_partition = $part AND log_offset = $offset") == 1 ]] || fail "the fixed fact is not in its place"
[[ $(archived) == 3001 ]] || fail "the archive holds $(archived) rows after the retry"
[[ $(history_lines) == 3001 ]] || fail "the history holds $(history_lines) lines after the retry"
"$shopflow" quarantine list --data "$data" | grep -q "^no entries set aside" ||
    fail "the quarantine is not empty after the retry"
# And the sinks, run again, change nothing.
"$shopflow" sink all --data "$data" --once > /dev/null
[[ $(facts) == 3001 && $(archived) == 3001 && $(history_lines) == 3001 ]] || fail "a rerun changed the stores"

# 4. Kafka: another producer's messages on the topic.
mkfifo "$tmp/ctl"
"$mockbin" shop 2 < "$tmp/ctl" > "$tmp/mock.out" 2> "$tmp/mock.err" &
MOCK_PID=$!
exec 7> "$tmp/ctl"
for _ in $(seq 100); do [[ -s "$tmp/mock.out" ]] && break; sleep 0.1; done
stream="kafka://$(head -1 "$tmp/mock.out")/shop"
mock() { # COMMAND...: its answer must be ok
    local n
    n=$(wc -l < "$tmp/mock.out")
    echo "$*" >&7
    for _ in $(seq 200); do
        [[ $(wc -l < "$tmp/mock.out") -gt $n ]] && break
        sleep 0.05
    done
    [[ $(tail -1 "$tmp/mock.out") == ok ]] || fail "mock $*: $(tail -1 "$tmp/mock.out")"
}
data="$tmp/k"
"$shopflow" import --data "$data" --stream "$stream" "$tmp/first.csv" > /dev/null
mock produce 0 '{"InvoiceNo":"599998","StockCode":"TEXT","Description":"SENT AS TEXT","Quantity":2,"InvoiceDate":"2010-12-01 09:30:00","UnitPrice":2.5,"CustomerID":17850,"Country":"United Kingdom"}'
mock produce 1 'this is no record at all'
mock produce 1 '*300' 'xyzzy ' # 1,800 bytes: larger than any record
"$shopflow" import --data "$data" --stream "$stream" "$tmp/second.csv" > /dev/null
"$shopflow" sink all --data "$data" --stream "$stream" --once --on-bad-entry quarantine \
    > /dev/null 2> "$tmp/k.log" || fail "sinks on Kafka: $(tail -3 "$tmp/k.log")"
[[ $(facts) == 3000 && $(archived) == 3000 ]] || fail "Kafka: $(facts) facts, $(archived) archived"
"$shopflow" quarantine list --data "$data" --sink warehouse > "$tmp/list"
grep -Eq "^warehouse +0 +[0-9]+ +[0-9]+ .*format byte 0x7b \('\{'\)" "$tmp/list" &&
    grep -Eq "^warehouse +1 +[0-9]+ +24 .*24 bytes, shorter than a packed record's header" \
        "$tmp/list" && grep -Eq "^warehouse +1 +[0-9]+ +1800 .*format byte 0x78 \('x'\)" "$tmp/list" ||
    fail "Kafka: list: $(cat "$tmp/list")"
rc=0
"$shopflow" quarantine retry --data "$data" > "$tmp/retry" || rc=$?
[[ $rc == 1 ]] && grep -q "3 applied, 6 kept" "$tmp/retry" ||
    fail "Kafka: retry: $rc $(cat "$tmp/retry")"
grep -q "partition 1 offset [0-9]*: kept in the quarantine: .*and as text: line 1: " "$tmp/retry" ||
    fail "Kafka: retry does not say why it kept the other: $(cat "$tmp/retry")"
[[ $(facts) == 3001 && $(archived) == 3001 && $(history_lines) == 3001 ]] ||
    fail "Kafka: after the retry: $(facts) facts, $(archived) archived, $(history_lines) lines"
[[ $(sqlite3 "$data/warehouse.db" "SELECT count(*) FROM fact_sales WHERE stock_code = 'TEXT'") == 1 ]] ||
    fail "Kafka: the text record is not in the warehouse"
echo "poison: ok"
