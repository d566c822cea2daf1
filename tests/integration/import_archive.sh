#!/usr/bin/env bash
# Rebuilding a data folder from its archive alone (`import --from-archive`):
# DATA1 gets 1,000 rows streamed over HTTP without event ids and then the
# first 150,000 rows of the bundled file imported (a quarter: the whole file
# takes minutes under the sanitizers, and adds nothing the quarter does not
# exercise), and runs all sinks; DATA2 is rebuilt from
# DATA1/archive only and runs all sinks. The rebuilt log holds every record
# at its original partition and offset; history and warehouse (fact rows
# with their log positions included, since those are reproduced) are
# identical; running the rebuild again adds nothing. A damaged archive is
# refused whole.
#   usage: import_archive.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2 query=$3
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
records() { "$shopflow" log stat --data "$1" --json | jq .records; }

# DATA1: a streamed part (no event ids: the archive names them by position),
# then the bundled file.
mkdir -p "$tmp/d1"
key=$("$shopflow" keys create --data "$tmp/d1" --role ingest --name test | tail -1)
gzip -dc "$data" > "$tmp/data.csv"
{ head -1 "$tmp/data.csv"; tail -1000 "$tmp/data.csv"; } > "$tmp/tail.csv"
sed -n '1,150001p' "$tmp/data.csv" > "$tmp/part.csv"
start_server "$tmp/d1"
code=$(post "$key" text/csv "$tmp/tail.csv")
[[ $code == 200 ]] || fail "post: $code $(cat "$tmp/resp")"
stop_server
"$shopflow" import --data "$tmp/d1" "$tmp/part.csv" > /dev/null
[[ $(records "$tmp/d1") -eq 151000 ]] || fail "DATA1 holds $(records "$tmp/d1")"
"$shopflow" sink all --data "$tmp/d1" --once > /dev/null
"$shopflow" log dump --data "$tmp/d1" > "$tmp/log1"
n=$(grep -vc '"event_id"' "$tmp/log1" || true)
[[ $n -eq 1000 ]] || fail "records without event id in DATA1: $n"

# DATA2 from the archive alone.
out=$("$shopflow" import --from-archive "$tmp/d1/archive" --data "$tmp/d2") || fail "rebuild exited $?"
[[ $out == *"151,000 rows, 151,000 imported, 0 already imported"* ]] || fail "rebuild: $out"
out=$("$shopflow" import --from-archive "$tmp/d1" --data "$tmp/d2") || fail "second rebuild exited $?"
[[ $out == *"already imported: 151,000 rows, 0 loaded"* ]] || fail "second rebuild: $out"
[[ $(records "$tmp/d2") -eq 151000 ]] || fail "DATA2 holds $(records "$tmp/d2") after two rebuilds"

# The same records at the same partitions and offsets; only the records
# that had no event id now carry their archive position as one.
"$shopflow" log dump --data "$tmp/d2" > "$tmp/log2"
noid() { sed -E 's/"event_id":"[^"]*",//' "$@"; } # jq is slow on half a million lines
cmp <(noid "$tmp/log1") <(noid "$tmp/log2") ||
    fail "the rebuilt log differs from the original"
grep '"event_id":"arc-' "$tmp/log2" | jq -r '"\(.partition) \(.offset) \(.event_id)"' |
    awk '$3 != "arc-" $1 "-" $2 { bad++ } END { exit bad > 0 || NR != 1000 }' ||
    fail "archive event ids are not arc-PARTITION-OFFSET for the 1,000 streamed records"

# The sinks over the rebuilt log hold what the original's hold.
"$shopflow" sink all --data "$tmp/d2" --once > /dev/null
warehouse() {
    sqlite3 "$1/warehouse.db" "SELECT * FROM fact_sales ORDER BY log_partition, log_offset;
        SELECT * FROM dim_product ORDER BY 1; SELECT * FROM dim_customer ORDER BY 1;
        SELECT * FROM dim_date ORDER BY 1; SELECT * FROM sink_offsets ORDER BY 1" | md5sum
}
[[ $(warehouse "$tmp/d1") == "$(warehouse "$tmp/d2")" ]] || fail "warehouses differ"
[[ $(sqlite3 "$tmp/d2/warehouse.db" 'SELECT count(*) FROM fact_sales') -eq 151000 ]] ||
    fail "rebuilt warehouse rows"
h1=$("$query" "$tmp/d1/history" 536365 17850)
h2=$("$query" "$tmp/d2/history" 536365 17850)
[[ $h1 == "$h2" ]] || fail "history differs: $h1 / $h2"
archive() { find "$1/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | noid | sort | md5sum; }
[[ $(archive "$tmp/d1") == "$(archive "$tmp/d2")" ]] || fail "the rebuilt archive's records differ"

# A damaged archive is refused whole: an object short of a record, two
# objects that overlap, a file that is not an object.
cp -r "$tmp/d1/archive" "$tmp/bad"
victims=("$tmp"/bad/raw/transactions/dt=*/part-0000-00000000000000000000-*) # validated first
victim=${victims[0]}
gzip -dc "$victim" | sed '$d' | gzip > "$victim.new" && mv "$victim.new" "$victim"
set +e
"$shopflow" import --from-archive "$tmp/bad" --data "$tmp/d3" > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "its name says" "$tmp/err" || fail "short object: $rc $(cat "$tmp/err")"
[[ ! -d $tmp/d3/log ]] || [[ $(records "$tmp/d3") -eq 0 ]] || fail "a damaged archive imported something"
mapfile -t firsts < <(find "$tmp/d1/archive" -name 'part-0000-00000000000000000000-*')
first=${firsts[0]}
cp "$first" "$(dirname "$first")/part-0000-00000000000000000001-00000000000000000001.ndjson.gz"
set +e
"$shopflow" import --from-archive "$tmp/d1/archive" --data "$tmp/d3" > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "overlap" "$tmp/err" || fail "overlap: $rc $(cat "$tmp/err")"
set +e
"$shopflow" import --from-archive "$tmp/data.csv" --data "$tmp/d3" > /dev/null 2> "$tmp/err"
rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q "not an archive object" "$tmp/err" || fail "not an object: $rc $(cat "$tmp/err")"
echo "ok: rebuilt from the archive; log positions, history and warehouse identical; rerun adds nothing"
