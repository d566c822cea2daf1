#!/usr/bin/env bash
# `shopflow import`: the bundled file into the log, every row as sqlite3 reads
# it from the CSV; importing it again (gzipped or not) loads nothing; an
# import killed half-way and rerun loads each row once; a file with one bad
# row imports nothing and names the row; a running server's log is refused.
#   usage: import.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
records() { "$shopflow" log stat --data "$1" --json | jq .records; }

out=$("$shopflow" import --data "$tmp/a" "$data") || fail "import exited $?"
[[ $out == *"541,909 rows, 541,909 imported, 0 already imported"* ]] || fail "first import: $out"
gzip -dc "$data" > "$tmp/data.csv"
out=$("$shopflow" import --data "$tmp/a" "$tmp/data.csv") || fail "second import exited $?"
[[ $out == *"already imported: 541,909 rows, 0 loaded"* ]] || fail "second import (plain): $out"
[[ $(records "$tmp/a") -eq 541909 ]] || fail "log holds $(records "$tmp/a") records"

# What the log holds is what sqlite3 reads from the CSV, field for field.
"$shopflow" log dump --data "$tmp/a" > "$tmp/dump.ndjson"
actual=$("$shopflow" check --json "$tmp/dump.ndjson")
same_figures "$(sqlite_figures "$tmp/data.csv")" "$actual" || fail "the log differs from the CSV"
[[ $(jq -r .event_id "$tmp/dump.ndjson" | sort -u | wc -l) -eq 541909 ]] || fail "event ids not unique"

# Killed half-way, then run again: each row once.
"$shopflow" import --data "$tmp/b" "$data" > /dev/null &
pid=$!
sleep 0.6
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
partial=$(records "$tmp/b" 2>/dev/null || echo 0)
"$shopflow" import --data "$tmp/b" "$data" > "$tmp/out" || fail "rerun exited $?"
[[ $(records "$tmp/b") -eq 541909 ]] || fail "after a kill at $partial and a rerun: $(records "$tmp/b")"
echo "  (killed after $partial records; rerun: $(cat "$tmp/out"))"

# One bad row: nothing imported, the row named; later files left alone.
printf 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,A,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n536366,22633,B,six,2010-12-01 08:28:00,1.85,17850,United Kingdom\n' > "$tmp/bad.csv"
set +e
"$shopflow" import --data "$tmp/c" "$tmp/bad.csv" "$tmp/data.csv" > "$tmp/out" 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "bad file: exit $rc"
grep -q 'bad.csv:3: Quantity: "six" is not an integer' "$tmp/err" || fail "$(cat "$tmp/err")"
grep -q '1 of 2 rows are invalid; nothing imported' "$tmp/err" || fail "$(cat "$tmp/err")"
[[ $(records "$tmp/c") -eq 0 ]] || fail "a bad file imported something"

# A log a server is writing is refused, with the reason.
start_server "$tmp/c"
set +e
"$shopflow" import --data "$tmp/c" "$tmp/data.csv" > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q 'cannot import while a server writes the log' "$tmp/err" ||
    fail "import beside a server: $rc $(cat "$tmp/err")"
stop_server
echo "ok: import"
