#!/usr/bin/env bash
# Entries that are not records on a Kinesis stream (another producer's
# messages, put with PutRecord) are set aside by every sink with
# --on-bad-entry quarantine, once each, and the records around them load.
# One is the stream's first record; the other comes first in a later read,
# after the sinks stored a position: where sequence numbers skip, that
# position is before the entry, not at it, and the sinks' fences must still
# take the set-aside (quarantine.c, move_to_first).
#   usage: kinesis_quarantine.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
aws_test "$@"
name=$SF_TEST_NAME
stream="kinesis://$name"

put_foreign() { # TEXT: one message of another producer, on the only shard
    curl -sf --aws-sigv4 "aws:amz:us-east-1:kinesis" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "Content-Type: application/x-amz-json-1.1" -H "X-Amz-Target: Kinesis_20131202.PutRecord" \
        -d "{\"StreamName\":\"$name\",\"Data\":\"$(printf '%s' "$1" | base64 -w0)\",\"PartitionKey\":\"x\"}" \
        "$AWS_ENDPOINT_URL_KINESIS" > /dev/null || fail "PutRecord"
}
post_rows() { # FROM COUNT: rows of the bundled file through the gateway
    "$shopflow" replay "$data" --url "http://127.0.0.1:$PORT" --key "$key" --from-row "$1" \
        --limit "$2" > /dev/null || fail "replay"
}
sinks() {
    "$shopflow" sink all --stream "$stream" --data "$tmp/d" --on-bad-entry quarantine --once \
        > "$tmp/sink.out" 2>&1 || fail "sink all: $(cat "$tmp/sink.out")"
}

key=$("$shopflow" keys create --data "$tmp/d" --role ingest | tail -1)
start_server "$tmp/d" --stream "$stream" --sinks none --partitions 1
put_foreign '{"hello":"from another producer"}'
post_rows 1 3
sinks
put_foreign 'not a record either'
post_rows 4 2
sinks
stop_server

list=$("$shopflow" quarantine list --data "$tmp/d" --json)
[[ $(jq -s length <<< "$list") -eq 6 ]] || fail "quarantine: $list"
for k in archive history warehouse; do
    [[ $(jq -s --arg k "$k" '[.[] | select(.sink == $k)] | length' <<< "$list") -eq 2 ]] ||
        fail "the $k sink set aside other than 2: $list"
done
[[ $(sqlite3 "$tmp/d/warehouse.db" "SELECT count(*) FROM fact_sales") -eq 5 ]] ||
    fail "warehouse: $(sqlite3 "$tmp/d/warehouse.db" "SELECT count(*) FROM fact_sales") rows"
archived=$(find "$tmp/d/archive/raw" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l)
[[ $archived -eq 5 ]] || fail "archive: $archived records"
echo "ok: 2 foreign entries on kinesis:// set aside by each sink, 5 records loaded"
