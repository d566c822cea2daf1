#!/usr/bin/env bash
# The history sink on DynamoDB when answers are lost: a proxy in front of
# dynalite (drop_answers.mjs) lets a BatchWriteItem of lines, the
# conditional put of invoice 536365's new header and the conditional put of
# partition 0's checkpoint be done, then cuts the connection instead of
# answering. The client retries each; the retried conditional puts fail
# their condition against the client's own first write. The sink must see
# that they were its own (no event=sink_fenced: the runner would read again
# and apply the unit a second time, harmlessly but saying that another
# member took the partition), with the history equal to the LMDB adapter's
# on the same log, digest for digest. And a later BatchWriteItem of lines is
# answered with half its items as UnprocessedItems (the proxy wrote only the
# other half): the sink sends those again.
#   usage: dynamodb_lost_answers.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
here=$(dirname "$0")
source "$here/../integration/lib.sh"
source "$here/lib.sh"
shopflow=$1 data=$2 query=$3
tmp=$(mktemp -d)
aws_start "$tmp"
trap 'kill $(jobs -p) 2>/dev/null || true; aws_stop; rm -rf "$tmp"' EXIT
loc="dynamodb://$SF_TEST_NAME"

{ gzip -dc "$data" || true; } | head -3001 > "$tmp/part.csv"
"$shopflow" import --data "$tmp/d" "$tmp/part.csv" > /dev/null
"$shopflow" sink history --data "$tmp/d" --once > /dev/null # the LMDB reference
want=$("$query" "$tmp/d/history" 536365 17850)

"${SF_NODE:-node}" "$here/drop_answers.mjs" "$AWS_ENDPOINT_URL_DYNAMODB" \
    '"RequestItems".*"PutRequest"' \
    'INV#536365"\},"sk":\{"S":"#"\}.*"ConditionExpression"' \
    'POS#0"\},"sk":\{"S":"#"\}.*"ConditionExpression"' \
    'unprocessed:"RequestItems".*"PutRequest".*"L#' > "$tmp/proxy.out" 2> "$tmp/proxy.log" &
for _ in $(seq 100); do
    [[ -s $tmp/proxy.out ]] && break
    sleep 0.05
done
[[ -s $tmp/proxy.out ]] || fail "the proxy did not start: $(cat "$tmp/proxy.log")"
AWS_ENDPOINT_URL_DYNAMODB=$(head -1 "$tmp/proxy.out") \
    "$shopflow" sink history --data "$tmp/d" --store "$loc" --once > "$tmp/sink.out" 2> "$tmp/sink.log" ||
    fail "the sink stopped on its own lost answers: $(tail -3 "$tmp/sink.log")"
[[ $(grep -c '^dropped' "$tmp/proxy.log") -eq 3 ]] ||
    fail "the proxy dropped $(grep -c '^dropped' "$tmp/proxy.log") answers, not 3: $(cat "$tmp/proxy.log")"
grep -q '^held back [1-9]' "$tmp/proxy.log" || fail "the proxy held nothing back: $(cat "$tmp/proxy.log")"
grep -q 'event=dynamodb_retries .*network=[1-9]' "$tmp/sink.log" || fail "no retry was logged"
! grep -q 'event=sink_fenced' "$tmp/sink.log" ||
    fail "its own writes were taken for another member's: $(grep sink_fenced "$tmp/sink.log")"
got=$("$query" "$loc" 536365 17850)
[[ "$got" == "$want" ]] || fail "DynamoDB holds: $got; LMDB: $want"
echo "ok: 3 answers lost (lines, a new header, a checkpoint), the sink's own writes recognised; items left unprocessed sent again; $got"
