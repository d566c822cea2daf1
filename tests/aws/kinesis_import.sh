#!/usr/bin/env bash
# import and the archive on Kinesis (kinesalite): the bundled file imported
# onto a new 4-shard stream, SIGKILLed mid-way and run again (it loads the
# rest, every row once: the import ledger keeps sequence numbers), then once
# more (it loads nothing); `sink archive` and `sink warehouse` read the
# stream at the same time: every row once in the warehouse (fact_sales count
# and sum as sqlite3 computes them from the CSV) and in the archive, whose
# objects are runs of sequence numbers (far fewer objects than records);
# `import --from-archive` of that archive into a local log of one partition
# gives the stream's record bodies in its order, partition after partition
# (`log dump`, positions aside), and into one of four partitions each
# invoice's lines in their order (Kinesis's shards are not the local log's
# partitions: a record goes to the shard of its invoice's hash key). Then, on a small file: `import --watch` onto Kinesis (a file
# dropped in again loads nothing), `status` on it, and `import
# --from-archive` onto another Kinesis stream, run twice.
#   usage: kinesis_import.sh SHOPFLOW DATA_GZ   (about 2 to 3 minutes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
aws_test "$@"
rows=541909
stream="kinesis://$SF_TEST_NAME"

# kinesalite's API straight (it checks no signature; curl signs anyway).
kin() {
    curl -sS -m 30 -X POST "$AWS_ENDPOINT_URL_KINESIS" -H "X-Amz-Target: Kinesis_20131202.$1" \
        -H "Content-Type: application/x-amz-json-1.1" --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" \
        -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -d "$2"
}
# How many records shard 0 of the stream holds, up to 10,000 (one call).
shard0() {
    local it
    it=$(kin GetShardIterator "{\"StreamName\":\"$SF_TEST_NAME\",\"ShardId\":\
\"shardId-000000000000\",\"ShardIteratorType\":\"TRIM_HORIZON\"}" 2> /dev/null |
        jq -r '.ShardIterator // empty' 2> /dev/null) || true
    [[ -n $it ]] || { echo 0; return; }
    kin GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":10000}" | jq '.Records | length'
}
# "N rows, I imported, D already imported" of an import's output: "I D".
counts() { sed -nE 's/.*: ([0-9,]+) rows, ([0-9,]+) imported, ([0-9,]+) already.*/\2 \3/p' "$1" | tr -d ,; }
# A log's records, partition by partition, without their partition and position.
bodies() { "$shopflow" log dump "$@" | sed -E 's/^\{"partition":[0-9]+,"offset":[0-9]+,/{/'; }
# The same, each invoice's lines together (a stable sort keeps their order).
by_invoice() {
    awk '{ match($0, /"invoice_no":"[^"]*"/); print substr($0, RSTART, RLENGTH) "\t" $0 }' |
        LC_ALL=C sort -s -t "$(printf '\t')" -k1,1
}

gzip -dc "$data" > "$tmp/all.csv"

# 1. The whole file, killed once appends are under way (shard 0 holds 10,000
# of its ~135,000), then run again.
"$shopflow" import --data "$tmp/d" --stream "$stream" --partitions 4 "$data" \
    > "$tmp/import1.out" 2> "$tmp/import1.err" &
pid=$!
until [[ $(shard0) -ge 10000 ]]; do
    kill -0 "$pid" 2> /dev/null || fail "the import ended before it was killed: $(cat "$tmp/import1.err")"
    sleep 0.5
done
sleep 2
kill -KILL "$pid"
wait "$pid" 2> /dev/null || true
grep -q "event=kinesis_stream_created" "$tmp/import1.err" || fail "no log line for the new stream"
"$shopflow" import --data "$tmp/d" --stream "$stream" "$data" > "$tmp/import2.out" 2> "$tmp/import2.err" ||
    fail "the import run again: $(cat "$tmp/import2.out" "$tmp/import2.err")"
read -r loaded before < <(counts "$tmp/import2.out")
[[ $loaded -gt 0 && $before -gt 0 && $((loaded + before)) -eq $rows ]] ||
    fail "run again after the kill: $(cat "$tmp/import2.out")"
# The killed import wrote no ledger: made from the stream, which held exactly
# the rows it says were there.
grep -q "event=ledger_rebuilt .*reason=\"no ledger file yet\" records=$before " "$tmp/import2.err" ||
    fail "the ledger did not read $before records: $(grep ledger "$tmp/import2.err")"
grep -q "event=ledger_read_back .* records=$loaded " "$tmp/import2.err" ||
    fail "the import's records not read back: $(grep ledger "$tmp/import2.err")"

# 2. Again: nothing.
"$shopflow" import --data "$tmp/d" --stream "$stream" "$data" > "$tmp/import3.out" 2> "$tmp/import3.err" ||
    fail "the import a third time: $(cat "$tmp/import3.err")"
grep -q "already imported: 541,909 rows, 0 loaded" "$tmp/import3.out" ||
    fail "the import a third time: $(cat "$tmp/import3.out")"

# 3. The archive and the warehouse read the stream at once (and the stream's
# records are dumped meanwhile, for step 4: kinesalite serves three readers
# faster than one after another).
bodies --data "$tmp/d" --stream "$stream" > "$tmp/kinesis.ndjson" 2> "$tmp/dump.err" &
dump=$!
"$shopflow" sink archive --stream "$stream" --data "$tmp/d" --once > "$tmp/archive.log" 2>&1 &
arc=$!
"$shopflow" sink warehouse --stream "$stream" --data "$tmp/d" --once > "$tmp/warehouse.log" 2>&1 ||
    fail "sink warehouse: $(tail -5 "$tmp/warehouse.log")"
wait "$arc" || fail "sink archive: $(tail -5 "$tmp/archive.log")"
want=$(sqlite_figures "$tmp/all.csv")
got=$(sqlite3 "$tmp/d/warehouse.db" "SELECT count(*) || ' ' || sum(amount_milli) FROM fact_sales")
[[ $got == "$(jq -r '.rows' <<< "$want") $(jq -r '.revenue | sub("\\."; "") | tonumber' <<< "$want")" ]] ||
    fail "warehouse: $got, sqlite3: $(jq -c '{rows, revenue}' <<< "$want")"
find "$tmp/d/archive" -name '*.ndjson.gz' | sort > "$tmp/objects"
objects=$(wc -l < "$tmp/objects")
[[ $objects -gt 0 && $objects -lt 20000 ]] || fail "the archive has $objects objects"
# Every name a run of two sequence numbers in full (56 digits here).
[[ $(grep -cE '/part-000[0-3]-[1-9][0-9]{55}-[1-9][0-9]{55}\.ndjson\.gz$' "$tmp/objects") -eq $objects ]] ||
    fail "names: $(grep -vE 'part-000[0-3]-[0-9]{56}-[0-9]{56}' "$tmp/objects" | head -3)"
xargs cat < "$tmp/objects" | gzip -dc | jq -r .event_id > "$tmp/archived"
[[ $(wc -l < "$tmp/archived") -eq $rows && $(sort -u "$tmp/archived" | wc -l) -eq $rows ]] ||
    fail "the archive holds $(wc -l < "$tmp/archived") records"

# 4. The archive into a local log of one partition: the stream's records in
# its order; a second time nothing. Into one of four: each invoice's lines
# in their order.
for parts in 1 4; do
    "$shopflow" import --from-archive "$tmp/d/archive" --data "$tmp/local$parts" --partitions "$parts" \
        > "$tmp/rebuild$parts.out" 2>&1 || fail "import --from-archive: $(cat "$tmp/rebuild$parts.out")"
    grep -q "archive ($objects objects): 541,909 rows, 541,909 imported, 0 already" \
        "$tmp/rebuild$parts.out" || fail "import --from-archive: $(cat "$tmp/rebuild$parts.out")"
    bodies --data "$tmp/local$parts" > "$tmp/local$parts.ndjson"
    [[ $(wc -l < "$tmp/local$parts.ndjson") -eq $rows ]] ||
        fail "the local log holds $(wc -l < "$tmp/local$parts.ndjson")"
done
"$shopflow" import --from-archive "$tmp/d/archive" --data "$tmp/local1" > "$tmp/rebuild1b.out" 2>&1
grep -q "already imported: 541,909 rows, 0 loaded" "$tmp/rebuild1b.out" ||
    fail "import --from-archive again: $(cat "$tmp/rebuild1b.out")"
wait "$dump" || fail "log dump of the stream: $(cat "$tmp/dump.err")"
cmp -s "$tmp/local1.ndjson" "$tmp/kinesis.ndjson" ||
    fail "the rebuilt log differs: $(diff "$tmp/local1.ndjson" "$tmp/kinesis.ndjson" | head -4)"
cmp -s <(by_invoice < "$tmp/local4.ndjson") <(by_invoice < "$tmp/kinesis.ndjson") ||
    fail "an invoice's lines differ in the log of four partitions"

# 5. A small file through `import --watch` onto another stream, dropped in
# twice; that stream archived, `status` on it; the archive imported onto a
# third stream, twice.
small="kinesis://$SF_TEST_NAME-w" copy="kinesis://$SF_TEST_NAME-c"
mkdir -p "$tmp/in"
head -3001 "$tmp/all.csv" > "$tmp/in/small.csv"
watch() {
    "$shopflow" import --watch "$tmp/in" --once --settle 0s --data "$tmp/w" --stream "$small" \
        --partitions 2 2>> "$tmp/watch.log" || fail "import --watch: $(cat "$tmp/watch.log")"
}
watch
grep -q 'event=import_file file="small.csv" status=done rows=3000 imported=3000 duplicates=0' \
    "$tmp/watch.log" || fail "import --watch: $(cat "$tmp/watch.log")"
cp "$tmp/in/done/small.csv" "$tmp/in/again.csv"
watch
grep -q 'event=import_file file="again.csv" status=done rows=3000 imported=0 duplicates=3000' \
    "$tmp/watch.log" || fail "import --watch again: $(cat "$tmp/watch.log")"
"$shopflow" sink archive --stream "$small" --data "$tmp/w" --once > "$tmp/w.log" 2>&1 ||
    fail "sink archive: $(tail -3 "$tmp/w.log")"
status=$("$shopflow" status --stream "$small" --data "$tmp/w" --json)
small_objects=$(find "$tmp/w/archive" -name '*.ndjson.gz' | wc -l)
[[ $(jq '.sinks.archive.lag' <<< "$status") -eq 0 && $(jq '.sinks.history.lag' <<< "$status") -eq 3000 &&
    $(jq '.sinks.archive.objects' <<< "$status") -eq $small_objects ]] || fail "status: $status"
for run in 1 2; do
    "$shopflow" import --from-archive "$tmp/w/archive" --data "$tmp/c" --stream "$copy" \
        > "$tmp/copy$run.out" 2>&1 || fail "import --from-archive onto Kinesis: $(cat "$tmp/copy$run.out")"
done
grep -q "3,000 rows, 3,000 imported, 0 already" "$tmp/copy1.out" || fail "onto Kinesis: $(cat "$tmp/copy1.out")"
grep -q "already imported: 3,000 rows, 0 loaded" "$tmp/copy2.out" || fail "again: $(cat "$tmp/copy2.out")"
cmp -s <(bodies --data "$tmp/w" --stream "$small") <(bodies --data "$tmp/c" --stream "$copy") ||
    fail "the copied stream differs from the watched one"

echo "ok: import onto kinesis:// ($rows rows: $before before the kill, $loaded after; a third run" \
    "loaded 0), archived in $objects objects of runs, warehouse exact, rebuilt from the archive" \
    "in the stream's order (1 partition) and each invoice's (4); --watch, status and" \
    "--from-archive onto Kinesis"
