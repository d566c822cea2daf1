#!/usr/bin/env bash
# `shopflow replay` against real servers on loopback:
#  - the bundled file at --batch 500, then again: the log holds each row once,
#    with the very event ids `shopflow import` gives; the sinks load 541,909
#    fact rows summing to what sqlite3 computes from the CSV; a replay into
#    a log made by `import` adds nothing;
#  - small fixtures: --batch 1 over 8 connections (content checked against
#    sqlite3), a bad row (named, exit 1, the other rows delivered), a slow
#    server that answers 429, a server stopped and started again mid-run,
#    --from-row/--limit, NDJSON input keeping its event ids, wrong keys and
#    an unreachable server.
#   usage: replay.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

records() { "$shopflow" log stat --data "$1" --json | jq .records; }
# figure NAME: a figure of the last summary ($tmp/out), without separators.
figure() { awk -v k="$1" '$1 == k { gsub(",", "", $2); print $2 }' "$tmp/out"; }
# replay FILE ARGS...: run it against the current server; exit status in $rc.
replay() {
    local file=$1
    shift
    rc=0
    "$shopflow" replay "$file" --url "http://127.0.0.1:$PORT" "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
}
expect_summary() { # rc accepted duplicates rejected
    [[ $rc -eq $1 && $(figure accepted) -eq $2 && $(figure duplicates) -eq $3 &&
       $(figure rejected) -eq $4 ]] ||
        fail "expected exit $1, $2 accepted, $3 duplicates, $4 rejected; got exit $rc:
$(cat "$tmp/out" "$tmp/err")"
}

gzip -dc "$data" > "$tmp/all.csv"
d="$tmp/full"
key=$("$shopflow" keys create --data "$d" --role ingest | tail -1)
start_server "$d"

# The whole file, then the same again: every row once.
replay "$data" --key "$key" --batch 500
expect_summary 0 541909 0 0
replay "$tmp/all.csv" --key "$key" --batch 500 --connections 2
expect_summary 0 0 541909 0
[[ $(records "$d") -eq 541909 ]] || fail "log holds $(records "$d") records"
echo "  full file: $(figure seconds) s, $(figure rows/s) rows/s (second run: duplicates)"

# The ids are those of `shopflow import`, row for row.
"$shopflow" log dump --data "$d" | jq -r .event_id | sort > "$tmp/replay.ids"
"$shopflow" import --data "$tmp/imp" "$tmp/all.csv" > /dev/null
"$shopflow" log dump --data "$tmp/imp" | jq -r .event_id | sort > "$tmp/import.ids"
[[ $(sort -u "$tmp/replay.ids" | wc -l) -eq 541909 ]] || fail "event ids are not unique"
cmp -s "$tmp/replay.ids" "$tmp/import.ids" || fail "replay and import give different event ids"

# The sinks, beside the server: each row once in the warehouse, the sum as sqlite3 has it.
"$shopflow" sink all --once --data "$d" > /dev/null
[[ $(sqlite3 "$d/warehouse.db" 'SELECT count(*) FROM fact_sales') -eq 541909 ]] ||
    fail "warehouse rows: $(sqlite3 "$d/warehouse.db" 'SELECT count(*) FROM fact_sales')"
expected=$(sqlite3 -batch :memory: -cmd '.mode csv' -cmd ".import '$tmp/all.csv' t" \
    'SELECT sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER)) FROM t')
[[ $expected -eq 9747747934 ]] || fail "sqlite3 computes $expected"
actual=$(sqlite3 "$d/warehouse.db" 'SELECT sum(amount_milli) FROM fact_sales')
[[ $actual -eq $expected ]] || fail "warehouse sum $actual, sqlite3 over the CSV $expected"
stop_server

# After an import of the same file, a replay adds nothing.
ikey=$("$shopflow" keys create --data "$tmp/imp" --role ingest | tail -1)
start_server "$tmp/imp"
replay "$data" --key "$ikey"
expect_summary 0 0 541909 0
[[ $(records "$tmp/imp") -eq 541909 ]] || fail "replay after import: $(records "$tmp/imp")"
stop_server

# --- small fixtures ---
head -301 "$tmp/all.csv" > "$tmp/300.csv"
s="$tmp/small"
key=$("$shopflow" keys create --data "$s" --role ingest | tail -1)
analyst=$("$shopflow" keys create --data "$s" --role analyst | tail -1)
start_server "$s"

# One row per request over 8 connections; what the log holds is what sqlite3 reads.
replay "$tmp/300.csv" --key "$key" --batch 1 --connections 8
expect_summary 0 300 0 0
[[ $(figure requests) -eq 300 ]] || fail "--batch 1 made $(figure requests) requests"
"$shopflow" log dump --data "$s" > "$tmp/dump.ndjson"
# (revenue compared as a number: check prints 13360.88 where sqlite3's printf has 13360.880)
expected=$(sqlite_figures "$tmp/300.csv" | jq -c '.revenue |= tonumber')
actual=$("$shopflow" check --json "$tmp/dump.ndjson" | jq -c '.revenue |= tonumber')
same_figures "$expected" "$actual" || fail "the log differs from the CSV"

# NDJSON in: rows that carry an event id keep it (so these are all duplicates).
replay "$tmp/dump.ndjson" --key "$key" --batch 7
expect_summary 0 0 300 0

# --from-row/--limit: rows 1000-1049 with the ids of a full run, then rows 0-1099
# (the ids of all.csv, not of 300.csv: another file's content, other ids).
replay "$tmp/all.csv" --key "$key" --from-row 1000 --limit 50 --batch 16
expect_summary 0 50 0 0
hash=$(head -1 "$tmp/replay.ids" | sed 's/^imp-\([0-9a-f]*\)-.*/\1/')
"$shopflow" log dump --data "$s" | jq -r .event_id | grep -c "^imp-$hash-10[0-4][0-9]$" > "$tmp/n" || true
[[ $(cat "$tmp/n") -eq 50 ]] || fail "--from-row 1000 --limit 50: $(cat "$tmp/n") ids imp-HASH-1000..1049"
replay "$tmp/all.csv" --key "$key" --limit 1100
expect_summary 0 1050 50 0
[[ $(records "$s") -eq 1400 ]] || fail "after the limits: $(records "$s") records"

# Paced runs break batches by time (--linger, default 0.1 s), not only by size: the
# first 3,000 rows span 8 h 40 min of trading, 0.87 s at --speedup 36000; at
# --rate 2000, 1,000 rows take 0.5 s. Either way more requests than 500-row batches.
replay "$tmp/all.csv" --key "$key" --limit 3000 --speedup 36000
expect_summary 0 1900 1100 0
[[ $(figure requests) -gt 6 ]] || fail "--speedup sent $(figure requests) requests"
replay "$tmp/all.csv" --key "$key" --limit 1000 --rate 2000
expect_summary 0 0 1000 0
[[ $(figure requests) -gt 2 ]] || fail "--rate sent $(figure requests) requests"
[[ $(records "$s") -eq 3300 ]] || fail "after the paced runs: $(records "$s") records"

# A bad row: named by its line, not sent, the others delivered; exit 1.
{ head -3 "$tmp/300.csv"; echo '581587,22138,BAKING SET,three,2011-12-09 12:50:00,4.95,12680,France'
  sed -n 4,6p "$tmp/300.csv"; } > "$tmp/bad.csv"
replay "$tmp/bad.csv" --key "$key" --batch 2
expect_summary 1 5 0 1
grep -q 'bad.csv:4: Quantity: "three" is not an integer' "$tmp/err" || fail "$(cat "$tmp/err")"
grep -q '1 of 6 rows were rejected' "$tmp/err" || fail "$(cat "$tmp/err")"

# Wrong keys: clear errors, nothing sent.
replay "$tmp/300.csv" --key sfk_0000000000000000000000000000000000000000000000000000000000000000
[[ $rc -eq 1 ]] && grep -q 'the server refused the key (401' "$tmp/err" || fail "bad key: $rc $(cat "$tmp/err")"
replay "$tmp/300.csv" --key "$analyst"
[[ $rc -eq 1 ]] && grep -q 'may not post transactions (403' "$tmp/err" || fail "analyst: $rc $(cat "$tmp/err")"
rc=0
SHOPFLOW_KEY= "$shopflow" replay "$tmp/300.csv" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -eq 2 ]] && grep -q 'no --key' "$tmp/err" || fail "no key: $rc $(cat "$tmp/err")"
stop_server

# Nobody listening: a few retries, then exit 1 saying why.
replay "$tmp/300.csv" --key "$key" --retries 2
[[ $rc -eq 1 && $(figure retries) -ge 2 ]] && grep -q 'gave up on .*300.csv:2-.* after 3 attempts' "$tmp/err" ||
    fail "no server: $rc $(cat "$tmp/out" "$tmp/err")"

# A slow disk and a queue of one byte: the server answers 429 (Retry-After);
# the replay retries and ends with every row once.
head -1001 "$tmp/all.csv" > "$tmp/1000.csv"
q="$tmp/queue"
qkey=$("$shopflow" keys create --data "$q" --role ingest | tail -1)
start_server "$q" --commit-delay 100ms --max-queue 1
replay "$tmp/1000.csv" --key "$qkey" --batch 50 --connections 4
expect_summary 0 1000 0 0
[[ $(figure retries) -ge 1 ]] || fail "no retries against a full queue: $(cat "$tmp/out")"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^shopflow_http_requests_total{route="/v1/transactions",code="429"} [1-9]' > /dev/null ||
    fail "the server answered no 429"
[[ $(records "$q") -eq 1000 ]] || fail "after 429s: $(records "$q") records"
stop_server

# The server stopped and started again in the middle of a paced run.
head -4001 "$tmp/all.csv" > "$tmp/4000.csv"
r="$tmp/restart"
rkey=$("$shopflow" keys create --data "$r" --role ingest | tail -1)
start_server "$r"
port=$PORT
"$shopflow" replay "$tmp/4000.csv" --url "http://127.0.0.1:$port" --key "$rkey" --rate 1000 \
    --batch 50 > "$tmp/out" 2> "$tmp/err" &
replay_pid=$!
for _ in $(seq 400); do
    [[ $(records "$r") -gt 0 ]] && break
    sleep 0.05
done
stop_server
sleep 1
"$shopflow" serve --data "$r" --listen "127.0.0.1:$port" 2>> "$r.server.log" &
SERVER_PID=$!
rc=0
wait "$replay_pid" || rc=$?
expect_summary 0 "$(( $(figure accepted) ))" "$(( $(figure duplicates) ))" 0
[[ $(( $(figure accepted) + $(figure duplicates) )) -eq 4000 && $(figure retries) -ge 1 ]] ||
    fail "restart: $(cat "$tmp/out" "$tmp/err")"
[[ $(records "$r") -eq 4000 ]] || fail "after a restart: $(records "$r") records"
echo "  restart mid-run: $(figure retries) retries, $(figure duplicates) duplicates"
stop_server
echo "ok: replay"
