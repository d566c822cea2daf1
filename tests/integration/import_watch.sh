#!/usr/bin/env bash
# `shopflow import --watch DIR`: good files are imported once and moved to
# done/ (a duplicate too, loading nothing); a file with a bad row, an
# unreadable one and an empty one go to failed/ with a report naming the row
# and field (or the reason); dotfiles, temporary names and files younger
# than --settle stay; a crash between import and move is harmless; a name
# seen before gets a suffix; a missing DIR is a usage error; a second
# watcher is refused; a log held by a server leaves the files in place; the
# loop mode picks up a file renamed in and exits 0 on SIGTERM.
#   usage: import_watch.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
SERVER_PID= WATCH_PID=
trap 'kill $SERVER_PID $WATCH_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
records() { "$shopflow" log stat --data "$tmp/d" --json | jq .records; }
w=$tmp/in
header='InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'

# A missing folder: a usage error that says so.
set +e
"$shopflow" import --watch "$tmp/nope" --data "$tmp/d" --once > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "nope is not a folder to watch" "$tmp/err" || fail "missing DIR: $rc $(cat "$tmp/err")"

mkdir -p "$w"
printf '%s\n536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n' "$header" > "$w/good.csv"
printf '{"InvoiceNo":"536367","StockCode":"84879","Description":"BIRD","Quantity":32,"InvoiceDate":"2010-12-01 08:34:00","UnitPrice":"1.69","CustomerID":13047,"Country":"United Kingdom"}\n{"InvoiceNo":"C536379","StockCode":"D","Description":"Discount","Quantity":-1,"InvoiceDate":"2010-12-01 09:41:00","UnitPrice":"27.50","CustomerID":14527,"Country":"United Kingdom"}\n' | gzip > "$w/good.ndjson.gz"
cp "$w/good.csv" "$w/good2.csv" # the same rows again, taken after good.csv
printf '%s\n536365,85123A,A,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n536366,22633,B,six,2010-12-01 08:28:00,1.85,17850,United Kingdom\n' "$header" > "$w/bad.csv"
gzip -c "$w/good.csv" > "$tmp/full.gz"
head -c 40 "$tmp/full.gz" > "$w/trunc.csv.gz"
: > "$w/empty.csv"
for f in .hidden.csv x.csv.tmp y.csv.part; do cp "$w/good.csv" "$w/$f"; done
touch -d '-2 hours' "$w"/* "$w"/.hidden.csv
cp "$w/good.csv" "$w/fresh.csv" # modified just now: may still be being written

set +e
"$shopflow" import --watch "$w" --data "$tmp/d" --once --settle 1h > "$tmp/out" 2> "$tmp/log"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a scan with failed files exits $rc: $(cat "$tmp/log")"
listing() { (cd "$w" && find . -type f ! -name .shopflow-watch.lock | sort | tr '\n' ' '); }
want='./.hidden.csv ./done/good.csv ./done/good.ndjson.gz ./done/good2.csv ./failed/bad.csv ./failed/bad.csv.errors.txt ./failed/empty.csv ./failed/empty.csv.errors.txt ./failed/trunc.csv.gz ./failed/trunc.csv.gz.errors.txt ./fresh.csv ./x.csv.tmp ./y.csv.part '
[[ $(listing) == "$want" ]] || fail "after the scan: $(listing)"
[[ $(records) -eq 5 ]] || fail "the log holds $(records) records, not 3 + 2"
grep -qx 'bad.csv:3: Quantity: "six" is not an integer' "$w/failed/bad.csv.errors.txt" ||
    fail "report: $(cat "$w/failed/bad.csv.errors.txt")"
grep -q '1 of 2 rows are invalid; nothing imported' "$w/failed/bad.csv.errors.txt" || fail "report summary"
grep -qi 'end of file\|truncated' "$w/failed/trunc.csv.gz.errors.txt" ||
    fail "truncated gzip report: $(cat "$w/failed/trunc.csv.gz.errors.txt")"
[[ -s $w/failed/empty.csv.errors.txt ]] || fail "empty file: no report"
grep -q 'event=import_file file="good.csv" status=done rows=3 imported=3 duplicates=0 seconds=' "$tmp/log" ||
    fail "log line for good.csv: $(cat "$tmp/log")"
grep -q 'event=import_file file="good2.csv" status=done rows=3 imported=0 duplicates=3' "$tmp/log" ||
    fail "log line for good2.csv"
grep -q 'event=import_file file="bad.csv" status=failed invalid_rows=1 .*report=failed/bad.csv.errors.txt' "$tmp/log" ||
    fail "log line for bad.csv"
[[ $(grep -c 'event=import_file' "$tmp/log") -eq 6 ]] || fail "one line per file: $(cat "$tmp/log")"

# An unreadable file (not testable as root, who reads anything).
if [[ $(id -u) -ne 0 ]]; then
    cp "$w/failed/bad.csv" "$w/secret.csv" && chmod 000 "$w/secret.csv" && touch -d '-2 hours' "$w/secret.csv"
    "$shopflow" import --watch "$w" --data "$tmp/d" --once --settle 1h > /dev/null 2>&1 || true
    grep -qi 'permission denied' "$w/failed/secret.csv.errors.txt" || fail "unreadable file"
else
    echo "  (running as root: the unreadable-file case is covered by the truncated gzip)"
fi

# Imported but not moved (a crash in between): the next scan loads nothing
# and moves it. The same name again later gets a suffix.
printf '%s\n536370,22728,ALARM CLOCK,24,2010-12-01 08:45:00,3.75,12583,France\n' "$header" > "$w/late.csv"
"$shopflow" import --data "$tmp/d" "$w/late.csv" > /dev/null
printf '%s\n536371,22086,PAPER CHAIN,80,2010-12-01 09:00:00,2.55,13748,United Kingdom\n' "$header" > "$w/good.csv"
"$shopflow" import --watch "$w" --data "$tmp/d" --once --settle 0 > /dev/null 2> "$tmp/log" ||
    fail "second scan: $(cat "$tmp/log")"
grep -q 'file="late.csv" status=done rows=1 imported=0 duplicates=1' "$tmp/log" || fail "$(cat "$tmp/log")"
[[ -f $w/done/late.csv && -f $w/done/good.csv.1 && ! -f $w/fresh.csv ]] || fail "moves: $(listing)"
[[ $(records) -eq 7 ]] || fail "the log holds $(records) records, not 5 + late.csv + the new good.csv (fresh.csv is a duplicate)"

# A server holds the log: the file stays for a later scan, and the reason is logged.
start_server "$tmp/d"
printf '%s\n536372,22632,HAND WARMER,6,2010-12-01 09:01:00,1.85,17850,United Kingdom\n' "$header" > "$w/busy.csv"
set +e
"$shopflow" import --watch "$w" --data "$tmp/d" --once --settle 0 > /dev/null 2> "$tmp/log"
rc=$?
set -e
[[ $rc -eq 1 && -f $w/busy.csv ]] || fail "log busy: $rc $(listing)"
grep -q 'event=watch_scan_failed .*cannot import while a server writes the log' "$tmp/log" || fail "$(cat "$tmp/log")"
stop_server

# The loop: a file renamed in is taken; a second watcher is refused; SIGTERM exits 0.
"$shopflow" import --watch "$w" --data "$tmp/d" --every 200ms --settle 0 2> "$tmp/loop.log" &
WATCH_PID=$!
printf '%s\n536373,21730,LANTERN,6,2010-12-01 09:02:00,4.25,17850,United Kingdom\n' "$header" > "$w/.incoming"
mv "$w/.incoming" "$w/renamed.csv"
for _ in $(seq 100); do [[ -f $w/done/renamed.csv && -f $w/done/busy.csv ]] && break; sleep 0.1; done
[[ -f $w/done/renamed.csv && -f $w/done/busy.csv ]] || fail "the loop did not take the files: $(cat "$tmp/loop.log")"
set +e
"$shopflow" import --watch "$w" --data "$tmp/d" --once > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q 'watched by another' "$tmp/err" || fail "second watcher: $rc $(cat "$tmp/err")"
kill -TERM "$WATCH_PID"
rc=0
wait "$WATCH_PID" || rc=$?
WATCH_PID=
[[ $rc -eq 0 ]] || fail "SIGTERM: exit $rc"
grep -q 'event=watch_stopped' "$tmp/loop.log" || fail "no watch_stopped line"
[[ $(records) -eq 9 ]] || fail "the log holds $(records) records at the end, not 9"
echo "ok: watched folder (done/, failed/ with reports, waiting files, duplicates, busy log, loop, SIGTERM)"
