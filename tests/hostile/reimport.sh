#!/usr/bin/env bash
# Importing a file again never duplicates a row, however much came in
# between (issue 15, item 1: the event-id window alone forgot a file after
# ~1 M other rows, 125,000 per partition):
#  1. the bundled file; then 1.2 M other rows, an import of them killed
#     with SIGKILL part-way and rerun (it loads exactly the rest); then the
#     bundled file again: 0 loaded, and it says so. The log holds
#     541,909 + 1,200,000 records, every event id once.
#  2. `import --watch` with a window of 40,000 ids (5,000 per partition): a
#     file dropped in again after 80,000 other rows lands in done/ with 0
#     loaded; so it does when its import ledger was damaged meanwhile
#     (rebuilt from the log, with a log line).
#  3. records with event ids of their own (a client's) keep the window's
#     check: an NDJSON file of them imported twice loads them once.
#  4. the same over a Kafka topic (the test cluster beside the binary):
#     a file imported again loads 0, also with its ledger deleted (rebuilt
#     by reading the topic).
#   usage: reimport.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
PID=
MOCK_PID=
trap 'kill -9 $PID $MOCK_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
records() { "$shopflow" log stat --data "$1" --json | jq .records; }
d=$tmp/d
bundled=541909 others=1200000

# 1.2 M other rows: the bundled file's rows under other invoice numbers.
gzip -dc "$data" | awk -v n="$others" 'NR == 1 { print; next } { l[NR] = $0 }
    END { for (k = 1; ; k++) for (i = 2; i <= NR; i++) { if (n-- <= 0) exit; print k "0" l[i] } }' |
    gzip -1 > "$tmp/other.csv.gz"

out=$("$shopflow" import --data "$d" "$data") || fail "first import exited $?"
[[ $out == *"541,909 rows, 541,909 imported, 0 already imported"* ]] || fail "first import: $out"

# The other rows, killed as soon as their first batches are in the log.
"$shopflow" import --data "$d" "$tmp/other.csv.gz" > /dev/null 2>&1 &
PID=$!
partial=$bundled
for _ in $(seq 1 600); do
    partial=$(records "$d" 2>/dev/null || echo "$bundled")
    ((partial > bundled)) && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
done
kill -KILL "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true
PID=
partial=$(records "$d")
((partial > bundled && partial < bundled + others)) ||
    fail "the import was not killed part-way: the log holds $partial records"
out=$("$shopflow" import --data "$d" "$tmp/other.csv.gz" 2> "$tmp/err") || fail "rerun exited $?"
read -r imported already < <(sed -n 's/.* rows, \([0-9,]*\) imported, \([0-9,]*\) already imported$/\1 \2/p' \
    <<<"$out" | tr -d ,)
[[ -n ${imported:-} ]] && ((imported + already == others && already > 0 && imported > 0)) ||
    fail "rerun after a kill at $partial records: $out"
grep -q 'event=ledger_caught_up' "$tmp/err" || fail "the rerun did not read the killed import's records: $(cat "$tmp/err")"
echo "  (killed with $partial records in the log; rerun: $out)"

out=$("$shopflow" import --data "$d" "$data") || fail "third import exited $?"
[[ $out == *"already imported: 541,909 rows, 0 loaded"* ]] ||
    fail "the bundled file again after $others other rows: $out"
[[ $(records "$d") -eq $((bundled + others)) ]] || fail "the log holds $(records "$d") records"
"$shopflow" log dump --data "$d" | cut -d, -f3 > "$tmp/ids"
[[ $(grep -c '^"event_id":"imp-' "$tmp/ids") -eq $((bundled + others)) ]] ||
    fail "$(grep -vc '^"event_id":"imp-' "$tmp/ids") records without import's event id"
dups=$(LC_ALL=C sort "$tmp/ids" | uniq -d | wc -l)
[[ $dups -eq 0 ]] || fail "$dups event ids are in the log twice"

# 2. The watched folder, with a window far smaller than what comes between.
w=$tmp/in
mkdir -p "$w"
gzip -dc "$data" | awk -v a="$tmp/a.csv" -v b="$tmp/b.csv" '
    NR == 1 { print > a; print > b; next } NR <= 3001 { print > a; next } NR <= 83001 { print > b }'
scan() { "$shopflow" import --watch "$w" --data "$tmp/w" --once --settle 0 --dedup-window 40000 2>> "$tmp/log"; }
cp "$tmp/a.csv" "$w/a.csv" && scan
cp "$tmp/b.csv" "$w/b.csv" && scan
cp "$tmp/a.csv" "$w/a.csv" && scan
[[ -f $w/done/a.csv.1 && ! -e $w/a.csv ]] || fail "the second a.csv is not in done/: $(ls -R "$w")"
grep -q 'file="a.csv" status=done rows=3000 imported=0 duplicates=3000' "$tmp/log" ||
    fail "a.csv dropped in again: $(cat "$tmp/log")"
[[ $(records "$tmp/w") -eq 83000 ]] || fail "the watched log holds $(records "$tmp/w") records"
# Its ledger damaged: rebuilt from the log, said so, and still 0 loaded.
ledger=$tmp/w/imports/log.ledger
head -c 100 "$ledger" > "$ledger.cut" && mv "$ledger.cut" "$ledger"
cp "$tmp/a.csv" "$w/a.csv" && scan
grep -q 'event=ledger_rebuilt .*reason="damaged' "$tmp/log" || fail "no rebuild said: $(cat "$tmp/log")"
[[ -f $w/done/a.csv.2 ]] && [[ $(grep -c 'file="a.csv" status=done rows=3000 imported=0' "$tmp/log") -eq 2 ]] ||
    fail "a.csv after the ledger was damaged: $(cat "$tmp/log")"
[[ $(records "$tmp/w") -eq 83000 ]] || fail "the watched log holds $(records "$tmp/w") records"

# 3. A client's own event ids, beside import's ids in the log.
for i in $(seq 1 300); do
    printf '{"event_id":"client-%d","InvoiceNo":"9%d","StockCode":"S","Description":"D","Quantity":1,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":"1.00","CustomerID":1,"Country":"X"}\n' "$i" $((i % 40))
done > "$tmp/own.ndjson"
out=$("$shopflow" import --data "$tmp/w" "$tmp/own.ndjson") || fail "own ids exited $?"
[[ $out == *"300 rows, 300 imported, 0 already imported"* ]] || fail "own ids: $out"
out=$("$shopflow" import --data "$tmp/w" "$tmp/own.ndjson") || fail "own ids again exited $?"
[[ $out == *"already imported: 300 rows, 0 loaded"* ]] || fail "own ids again: $out"

# 4. Kafka: the ledger made and checked through the stream port.
mockbin=$(dirname "$shopflow")/../tests/support/sf_test_kafka_mock
if [[ -x $mockbin ]]; then
    mkfifo "$tmp/ctl"
    "$mockbin" shop 4 < "$tmp/ctl" > "$tmp/mock.out" 2> "$tmp/mock.err" &
    MOCK_PID=$!
    exec 7> "$tmp/ctl"
    for _ in $(seq 100); do [[ -s "$tmp/mock.out" ]] && break; sleep 0.1; done
    k=(--data "$tmp/k" --stream "kafka://$(head -1 "$tmp/mock.out")/shop"
       --stream-opt max.in.flight.requests.per.connection=1)
    "$shopflow" import "${k[@]}" "$tmp/a.csv" "$tmp/own.ndjson" > /dev/null 2>> "$tmp/klog" ||
        fail "kafka import: $(cat "$tmp/klog")"
    out=$("$shopflow" import "${k[@]}" "$tmp/a.csv" 2>> "$tmp/klog") || fail "kafka again: $(cat "$tmp/klog")"
    [[ $out == *"already imported: 3,000 rows, 0 loaded"* ]] || fail "kafka, again: $out"
    rm "$tmp"/k/imports/*.ledger
    out=$("$shopflow" import "${k[@]}" "$tmp/a.csv" 2>> "$tmp/klog") || fail "kafka rebuilt: $(cat "$tmp/klog")"
    [[ $out == *"already imported: 3,000 rows, 0 loaded"* ]] || fail "kafka, ledger rebuilt: $out"
    grep -q 'event=ledger_rebuilt .*records=3300' "$tmp/klog" || fail "kafka rebuild: $(cat "$tmp/klog")"
    [[ $("$shopflow" log stat "${k[@]}" --json | jq .records) -eq 3300 ]] || fail "the topic holds other than 3,300"
    exec 7>&-
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=
else
    echo "  (no Kafka test cluster at $mockbin: the Kafka case skipped)"
fi
echo "ok: reimport"
