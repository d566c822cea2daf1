#!/usr/bin/env bash
# Issue 16: a history store written before the history store port (LMDB
# keys written by the sink itself: history-main/, made by shopflow at
# dfefe63) opens through the port and answers the same, byte for byte:
#  - invoices (with and without a customer, a cancellation, one absent),
#    a customer's pages, their cursors (the old next_cursor still leads to
#    the same next page), a date range, a customer without invoices, and
#    an invoice asked as another customer's;
#  - the history sink finds its stored positions at the log's end and
#    applies nothing twice.
#   usage: history_main.sh SHOPFLOW DATA_GZ
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
shopflow=$1
fx=$here/history-main
tmp=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2> /dev/null && wait "${SERVER_PID:-}"; rm -rf "$tmp" || true' EXIT
d=$tmp/d
tar -C "$tmp" -xzf "$fx/answers.tar.gz"
gzip -dc "$fx/data.csv.gz" > "$tmp/data.csv"
"$shopflow" import --data "$d" "$tmp/data.csv" > /dev/null
mkdir -p "$d/history"
gzip -dc "$fx/history.mdb.gz" > "$d/history/data.mdb"

[[ $("$shopflow" status --data "$d" --json | jq .sinks.history.lag) == 0 ]] ||
    fail "the old store's positions are not at the log's end: $("$shopflow" status --data "$d")"
analyst=$("$shopflow" keys create --data "$d" --role analyst | tail -1)
get() { curl -s -w '\n%{http_code}\n' -H "Authorization: Bearer $analyst" "http://127.0.0.1:$PORT/v1/$1"; }
same() { # ANSWER PATH
    get "$2" | cmp -s - "$tmp/answers/$1.txt" ||
        fail "GET /v1/$2 differs from the old answer: $(get "$2" | head -c 400)"
}
start_server "$d" --sinks history
for inv in 536365 536367 536592 C536379 999999; do
    same "invoice-$inv" "invoices/$inv"
done
same c17850-p1 "customers/17850/invoices?limit=5"
same c17850-p2 "customers/17850/invoices?limit=5&cursor=$(cat "$tmp/answers/c17850-cursor1")"
same c17850-p3 "customers/17850/invoices?limit=30&cursor=$(cat "$tmp/answers/c17850-cursor2")"
same c17850-range "customers/17850/invoices?from=2010-12-02&to=2010-12-05"
same c13047 "customers/13047/invoices"
same c12345 "customers/12345/invoices"
same c17850-536365 "customers/17850/invoices/536365"
same c13047-536365 "customers/13047/invoices/536365"
applied=$(curl -s "http://127.0.0.1:$PORT/metrics" |
    awk '$1 == "shopflow_sink_applied_records_total{sink=\"history\"}" {print $2}')
[[ $applied == 0 ]] || fail "the history sink applied $applied records on the old store"
stop_server
echo "ok: a history store written before the port answers the same ($(ls "$tmp/answers" | wc -l) answers)"
