#!/usr/bin/env bash
# `shopflow replay --send csv` (text/csv bodies, what `shopflow demo` sends)
# against `--send json` (NDJSON, the default), each into a server of its own:
#  - a fixture of awkward rows (quoted commas and quotes, a description with
#    a trailing space, an empty description, no customer, '£', a
#    cancellation, a bad-debt adjustment) and the whole bundled file: both
#    logs hold the same records, byte for byte as `log dump` prints them
#    (their offsets aside);
#  - the rows sent as CSV carry the same event ids: sent again the other way
#    they are all duplicates;
#  - the fixture's revenue in the log equals sqlite3's over the CSV.
#   usage: replay_csv.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$tmp" || true' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# replay_into DIR FILE ARGS...: a server on DIR, the replay, the server stopped.
replay_into() {
    local dir=$1 file=$2
    shift 2
    local key
    key=$("$shopflow" keys create --data "$dir" --role ingest | tail -1)
    start_server "$dir" --sinks none
    "$shopflow" replay "$file" --url "http://127.0.0.1:$PORT" --key "$key" "$@" \
        > "$tmp/out" 2> "$tmp/err" || fail "replay $*: $(cat "$tmp/out" "$tmp/err")"
    stop_server
}
figure() { awk -v k="$1" '$1 == k { gsub(",", "", $2); print $2 }' "$tmp/out"; }
# The records of a log, without where they landed (requests in flight at once
# are committed in any order), sorted: each has its own event id.
dump() { "$shopflow" log dump --data "$1" | sed 's/^{"partition":[0-9]*,"offset":[0-9]*,/{/' | sort; }

{
    echo 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'
    echo '536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom'
    echo '536366,22633,"HAND WARMER, UNION JACK",6,2010-12-01 08:28:00,1.85,17850,United Kingdom'
    echo '536367,84879,"ASSORTED ""BIRD"" ORNAMENT",32,2010-12-01 08:34:00,1.69,13047,United Kingdom'
    echo '536368,22960,JAM MAKING SET WITH JARS ,6,2010-12-01 08:34:00,4.25,13047,United Kingdom'
    echo '536414,22139,,56,2010-12-01 11:52:00,0,,United Kingdom'
    echo '536370,POST,POSTAGE £,3,2010-12-01 08:45:00,18,12583,France'
    echo 'C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom'
    echo 'A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom'
} > "$tmp/awkward.csv"

for f in awkward full; do
    file=$tmp/awkward.csv
    [[ $f == full ]] && file=$data
    replay_into "$tmp/$f-json" "$file" --batch 5000 --send json
    replay_into "$tmp/$f-csv" "$file" --batch 5000 --send csv
    [[ $(figure accepted) -eq $(dump "$tmp/$f-json" | wc -l) ]] || fail "$f: $(cat "$tmp/out")"
    dump "$tmp/$f-json" > "$tmp/$f-json.ndjson"
    dump "$tmp/$f-csv" > "$tmp/$f-csv.ndjson"
    cmp -s "$tmp/$f-json.ndjson" "$tmp/$f-csv.ndjson" ||
        fail "$f: the logs differ: $(diff "$tmp/$f-json.ndjson" "$tmp/$f-csv.ndjson" | head -5)"
done
[[ $(wc -l < "$tmp/full-csv.ndjson") -eq 541909 ]] || fail "full: $(wc -l < "$tmp/full-csv.ndjson")"
grep -q '"description":"ASSORTED \\"BIRD\\" ORNAMENT"' "$tmp/awkward-csv.ndjson" ||
    fail "quotes: $(cat "$tmp/awkward-csv.ndjson")"
grep -q '"description":"JAM MAKING SET WITH JARS ","' "$tmp/awkward-csv.ndjson" ||
    fail "trailing space: $(cat "$tmp/awkward-csv.ndjson")"

# The same event ids: the CSV-sent rows, sent again as NDJSON, are duplicates.
replay_into "$tmp/awkward-csv" "$tmp/awkward.csv" --send json
[[ $(figure accepted) -eq 0 && $(figure duplicates) -eq 8 ]] || fail "ids: $(cat "$tmp/out")"

# What the log holds is what sqlite3 reads from the CSV.
expected=$(sqlite_figures "$tmp/awkward.csv" | jq -c '.revenue |= tonumber')
"$shopflow" log dump --data "$tmp/awkward-csv" > "$tmp/dump.ndjson"
actual=$("$shopflow" check --json "$tmp/dump.ndjson" | jq -c '.revenue |= tonumber')
same_figures "$expected" "$actual" || fail "the log differs from the CSV"
echo "ok: replay_csv"
