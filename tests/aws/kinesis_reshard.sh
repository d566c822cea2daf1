#!/usr/bin/env bash
# A Kinesis stream resharded under the pipeline (kinesalite): `serve
# --stream kinesis://...` takes a paced replay while shard 1 of 4 is split
# (children 4 and 5) and then child 5 is merged with shard 2 (child 6);
# `sink all` runs before, during and after, and is SIGKILLed once in the
# middle and started again (it takes its leases back from the dead process).
# Checks: the server and the running sinks followed the reshard in their
# own processes (kinesis_resharded, sink_partitions_grew); every row once
# in every sink: fact_sales count and sum as sqlite3 computes them from the
# CSV, the archive's records and event ids, the history's lines and
# invoices (sf_test_history); a run after applies nothing; `status` and
# `log stat` show the closed shards as closed and the sinks 0 behind.
#   usage: kinesis_reshard.sh SHOPFLOW DATA_GZ HISTORY_QUERY
#   (SF_TEST_KINESIS_ROWS: rows, 30000: about a minute)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
history_query=${3:?usage: kinesis_reshard.sh SHOPFLOW DATA_GZ HISTORY_QUERY}
aws_test "$@"
rows=${SF_TEST_KINESIS_ROWS:-30000}
stream="kinesis://$SF_TEST_NAME"
HALF_1=127605887595351923798765477786913079296 # 1.5 * 2^128 / 4: the middle of shard 1 of 4

kinesis_api() { # OP JSON: one call, signed as any client would
    curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:kinesis" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "X-Amz-Target: Kinesis_20131202.$1" -H "Content-Type: application/x-amz-json-1.1" \
        --data-binary "$2" "$AWS_ENDPOINT_URL_KINESIS/"
}
wait_shards() { # N: until the stream is ACTIVE with N shards listed
    for _ in $(seq 200); do
        local d
        d=$(kinesis_api DescribeStream "{\"StreamName\":\"$SF_TEST_NAME\"}")
        [[ $(jq -r .StreamDescription.StreamStatus <<< "$d") == ACTIVE &&
            $(jq '.StreamDescription.Shards | length' <<< "$d") -eq $1 ]] && return 0
        sleep 0.1
    done
    fail "the stream did not become ACTIVE with $1 shards"
}

{ gzip -dc "$data" || true; } | head -$((rows + 1)) > "$tmp/part.csv"
key=$("$shopflow" keys create --data "$tmp/gw" --role ingest | tail -1)
start_server "$tmp/gw" --stream "$stream" --sinks none --partitions 4
sinks() { exec "$shopflow" sink all --stream "$stream" --data "$tmp/run" "$@" >> "$tmp/sinks.log" 2>&1; }
sinks &
sinks_pid=$!

"$shopflow" replay "$tmp/part.csv" --url "http://127.0.0.1:$PORT" --key "$key" --batch 250 \
    --rate $((rows / 20)) > "$tmp/replay.out" 2> "$tmp/replay.err" &
replay_pid=$!
sleep 5
kinesis_api SplitShard "{\"StreamName\":\"$SF_TEST_NAME\",\"ShardToSplit\":\"shardId-000000000001\",
    \"NewStartingHashKey\":\"$HALF_1\"}" > /dev/null || fail "SplitShard"
wait_shards 6
sleep 3
kill -KILL "$sinks_pid"
wait "$sinks_pid" 2> /dev/null || true
sinks &
sinks_pid=$!
sleep 2
kinesis_api MergeShards "{\"StreamName\":\"$SF_TEST_NAME\",\"ShardToMerge\":\"shardId-000000000005\",
    \"AdjacentShardToMerge\":\"shardId-000000000002\"}" > /dev/null || fail "MergeShards"
wait_shards 7
rc=0
wait "$replay_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "replay: $(cat "$tmp/replay.out" "$tmp/replay.err")"
stop_server
grep -q "event=kinesis_resharded" "$tmp/gw.server.log" || fail "the server did not see the reshard"

# The running sinks catch up (their stored positions 0 behind), then stop;
# a run after them finds nothing.
behind() { "$shopflow" status --stream "$stream" --data "$tmp/run" --json | jq '[.sinks[].lag] | add'; }
for _ in $(seq 180); do
    [[ $(behind) -eq 0 ]] && break
    kill -0 "$sinks_pid" 2> /dev/null || fail "sink all stopped: $(tail -5 "$tmp/sinks.log")"
    sleep 1
done
kill -TERM "$sinks_pid"
wait "$sinks_pid" || fail "sink all on SIGTERM: $(tail -5 "$tmp/sinks.log")"
grep -q "event=sink_partitions_grew" "$tmp/sinks.log" || fail "no sink followed the reshard running"
"$shopflow" sink all --stream "$stream" --data "$tmp/run" --once > "$tmp/once.out" \
    2>> "$tmp/sinks.log" || fail "sink all --once: $(tail -5 "$tmp/sinks.log")"
[[ $(grep -c ": 0 records applied by this run, lag 0" "$tmp/once.out") -eq 3 ]] ||
    fail "a run after the catch-up: $(cat "$tmp/once.out")"

want=$(sqlite_figures "$tmp/part.csv")
got=$(sqlite3 "$tmp/run/warehouse.db" "SELECT count(*) || ' ' || sum(amount_milli) FROM fact_sales")
[[ $got == "$(jq -r '.rows' <<< "$want") $(jq -r '.revenue | sub("\\."; "") | tonumber' <<< "$want")" ]] ||
    fail "warehouse: $got, sqlite3: $(jq -c '{rows, revenue}' <<< "$want")"
archived=$(find "$tmp/run/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | jq -r .event_id)
[[ $(wc -l <<< "$archived") -eq $rows && $(sort -u <<< "$archived" | wc -l) -eq $rows ]] ||
    fail "the archive holds $(wc -l <<< "$archived") records, $(sort -u <<< "$archived" | wc -l) ids"
hist=$("$history_query" "$tmp/run/history" 536365 17850)
[[ $hist == *"invoices=$(jq .invoices <<< "$want") lines=$rows "* ]] ||
    fail "history: $hist; sqlite3: $(jq -c '{rows, invoices}' <<< "$want")"

status=$("$shopflow" status --stream "$stream" --data "$tmp/run" --json)
[[ $(jq -c '[.partitions[].closed]' <<< "$status") == '[false,true,true,false,false,true,false]' ]] ||
    fail "status: the shards' states: $(jq -c .partitions <<< "$status")"
[[ $(jq '[.sinks[].lag] | add' <<< "$status") -eq 0 ]] || fail "status: $status"
"$shopflow" log stat --stream "$stream" | grep -q "^5 closed" || fail "log stat: shard 5 not closed"
echo "ok: $rows rows through a split and a merge of kinesis://$SF_TEST_NAME (7 shards, 3 closed)," \
    "sinks killed once: every row once in every sink"
