#!/usr/bin/env bash
# The archive sink on S3 (s3rver), with the whole bundled file:
#  - killed with SIGKILL at random moments and restarted, then the emulator
#    stopped for about 3 s mid-run and restarted on the same port and data:
#    the sink retries, catches up, and the bucket holds every record once,
#    with the figures sqlite3 computes from the CSV (objects read back with
#    curl, not through shopflow);
#  - `status` reads its position from the bucket: lag 0;
#  - `import --from-archive s3://...` rebuilds a log identical to the
#    original (`log dump`), and a second rebuild loads nothing.
#   usage: s3_archive.sh SHOPFLOW DATA_GZ
set -euo pipefail
here=$(dirname "$0")
source "$here/../integration/lib.sh"
source "$here/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
aws_start "$tmp"
trap 'kill $(jobs -p) 2>/dev/null || true; aws_stop; rm -rf "$tmp"' EXIT
loc="s3://$SF_TEST_NAME/shop"
args=(sink archive --data "$tmp/d" --objects "$loc" --archive-object-size 256K)

"$shopflow" import --data "$tmp/d" "$data" > /dev/null

for k in $(seq 4); do
    "$shopflow" "${args[@]}" > /dev/null 2>>"$tmp/sink.log" &
    sleep "$((RANDOM % 2)).$(printf '%03d' $((RANDOM % 1000)))"
    kill -KILL $! 2>/dev/null || true
    wait $! 2>/dev/null || true
done

# The emulator goes away under a running sink, and comes back.
lag() { "$shopflow" status --data "$tmp/d" --objects "$loc" --json | jq .sinks.archive.lag; }
before=$(lag)
"$shopflow" "${args[@]}" --once > "$tmp/once.out" 2>>"$tmp/sink.log" &
pid=$!
for _ in $(seq 100); do # until it has put something more
    [[ $(lag) -lt $before ]] && break
    sleep 0.1
done
aws_stop
sleep 3
aws_restart
wait $pid || fail "the sink failed while the emulator was away: $(tail -3 "$tmp/sink.log")"
grep -q " records applied" "$tmp/once.out" || fail "sink: $(cat "$tmp/once.out")"
grep -q 'event=s3_retries .*network=[1-9]' "$tmp/sink.log" ||
    fail "no retry was logged: the emulator did not go away under the sink"
[[ $(lag) -eq 0 ]] || fail "status after the run: lag $(lag)"
out=$("$shopflow" "${args[@]}" --once)
[[ $out == *" 0 records applied"* ]] || fail "a run after it archived again: $out"

# Every object, read with curl (ListObjectsV2 pages, then GETs on one connection).
s3=$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME
token=""
: > "$tmp/keys"
while :; do
    page=$(curl -sf "$s3?list-type=2&prefix=shop/raw/transactions/${token:+&continuation-token=$(jq -rn --arg t "$token" '$t|@uri')}")
    grep -o '<Key>[^<]*</Key>' <<<"$page" | sed 's/<[^>]*>//g' >> "$tmp/keys"
    token=$(grep -o '<NextContinuationToken>[^<]*' <<<"$page" | sed 's/.*>//' || true)
    [[ -n $token ]] || break
done
sed "s|^|$s3/|" "$tmp/keys" | xargs curl -sf | gzip -dc > "$tmp/archive.ndjson"
[[ $(wc -l < "$tmp/archive.ndjson") -eq 541909 ]] ||
    fail "the bucket holds $(wc -l < "$tmp/archive.ndjson") records in $(wc -l < "$tmp/keys") objects"
[[ $(jq -r .event_id "$tmp/archive.ndjson" | sort -u | wc -l) -eq 541909 ]] ||
    fail "a record is archived twice"
gzip -dc "$data" > "$tmp/data.csv"
same_figures "$(sqlite_figures "$tmp/data.csv")" "$("$shopflow" check --json "$tmp/archive.ndjson")" ||
    fail "the archive on S3 differs from the CSV"

# The log rebuilt from the bucket alone.
out=$("$shopflow" import --from-archive "$loc" --data "$tmp/d2") || fail "rebuild exited $?"
[[ $out == *"541,909 rows, 541,909 imported, 0 already imported"* ]] || fail "rebuild: $out"
out=$("$shopflow" import --from-archive "$loc" --data "$tmp/d2") || fail "second rebuild exited $?"
[[ $out == *"0 loaded"* ]] || fail "second rebuild: $out"
cmp <("$shopflow" log dump --data "$tmp/d") <("$shopflow" log dump --data "$tmp/d2") ||
    fail "the log rebuilt from S3 differs from the original"
echo "ok: S3 archive ($(wc -l < "$tmp/keys") objects; 4 kills, the emulator away 3 s; rebuilt log identical)"
