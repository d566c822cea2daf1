#!/usr/bin/env bash
# The history sink: the bundled file imported, then applied; the store holds
# 25,900 invoices and 541,909 lines (invoice 536365: 7 lines, 139.12;
# customer 17850: 35 invoices), each figure also computed by sqlite3 from the
# CSV; a second run applies nothing; killed with SIGKILL at random moments and
# restarted, it ends with exactly the same content as the uninterrupted run.
#   usage: sink_history.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2 query=$3
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$shopflow" import --data "$tmp/d" "$data" > /dev/null
gzip -dc "$data" > "$tmp/data.csv"

hlag() { "$shopflow" status --data "$tmp/d" --json | jq .sinks.history.lag; }
[[ $(hlag) -eq 541909 ]] || fail "status before: $(hlag)"
out=$("$shopflow" sink history --data "$tmp/d" --once)
[[ $out == *"541,909 records applied"* ]] || fail "first run: $out"
[[ $(hlag) -eq 0 ]] || fail "status after: $(hlag)"
got=$("$query" "$tmp/d/history" 536365 17850)
want=$(sqlite3 -batch :memory: <<SQL
.mode csv
.import '$tmp/data.csv' t
.mode list
SELECT printf('invoices=%d lines=%d invoice_lines=%d invoice_total=%d customer_invoices=%d',
  (SELECT count(DISTINCT InvoiceNo) FROM t), (SELECT count(*) FROM t),
  (SELECT count(*) FROM t WHERE InvoiceNo = '536365'),
  (SELECT sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER))
     FROM t WHERE InvoiceNo = '536365'),
  (SELECT count(DISTINCT InvoiceNo) FROM t WHERE CustomerID = '17850.0'));
SQL
)
[[ "${got% digest=*}" == "$want" ]] || fail "history holds: $got; sqlite3 says: $want"
[[ "$want" == "invoices=25900 lines=541909 invoice_lines=7 invoice_total=139120 customer_invoices=35" ]] ||
    fail "sqlite3 figures: $want"
out=$("$shopflow" sink history --data "$tmp/d" --once)
[[ $out == *" 0 records applied"* ]] || fail "second run applied again: $out"

# Killed at random moments, then finished: the same content, digest for digest.
for k in $(seq 5); do
    "$shopflow" sink history --data "$tmp/d" --store "$tmp/crash" > /dev/null &
    sleep "0.$(printf '%03d' $((RANDOM % 400 + 50)))"
    kill -KILL $! 2>/dev/null || true
    wait $! 2>/dev/null || true
done
"$shopflow" sink history --data "$tmp/d" --store "$tmp/crash" --once > /dev/null
crashed=$("$query" "$tmp/crash" 536365 17850)
[[ "$crashed" == "$got" ]] || fail "after kills: $crashed; without: $got"
echo "ok: history sink ($got; 5 kills)"
