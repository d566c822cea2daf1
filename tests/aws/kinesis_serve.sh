#!/usr/bin/env bash
# The pipeline on Kinesis (kinesalite): `serve --stream kinesis://...` behind
# a proxy that refuses every third record of PutRecords the first time it is
# sent (tests/aws/kinesis_faults.mjs), 100,000 rows replayed with event ids
# while the server is SIGKILLed and started again; then `sink all` SIGKILLed
# three times and finished with --once. Checks: the refused records were
# sent again and no record reached Kinesis twice (the proxy's count); every
# row once in every sink (fact_sales count and sum as sqlite3 computes them
# from the CSV; the archive's records; the history's lines); status says the
# sinks are 0 behind.
#   usage: kinesis_serve.sh SHOPFLOW DATA_GZ   (SF_TEST_KINESIS_ROWS: rows, 100000: about 2 minutes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
aws_test "$@"
rows=${SF_TEST_KINESIS_ROWS:-100000}
stream="kinesis://$SF_TEST_NAME"
direct=$AWS_ENDPOINT_URL_KINESIS

"${SF_NODE:-node}" "$(dirname "$0")/kinesis_faults.mjs" --upstream "$direct" \
    --stats "$tmp/faults.json" > "$tmp/proxy.out" 2> "$tmp/proxy.err" &
for _ in $(seq 100); do [[ -s "$tmp/proxy.out" ]] && break; sleep 0.05; done
proxy="http://127.0.0.1:$(jq -r .port < "$tmp/proxy.out")"

gzip -dc "$data" > "$tmp/all.csv"
head -$((rows + 1)) "$tmp/all.csv" > "$tmp/part.csv"
key=$("$shopflow" keys create --data "$tmp/gw" --role ingest | tail -1)
export AWS_ENDPOINT_URL_KINESIS=$proxy
start_server "$tmp/gw" --stream "$stream" --sinks none --partitions 4
port=$PORT
grep -q "event=kinesis_stream_created" "$tmp/gw.server.log" || fail "no log line for the new stream"

# Paced so that the kill lands mid-run; the replay retries what was not answered.
"$shopflow" replay "$tmp/part.csv" --url "http://127.0.0.1:$port" --key "$key" --batch 250 \
    --rate $((rows / 4)) > "$tmp/replay.out" 2> "$tmp/replay.err" &
replay_pid=$!
sleep 1.5
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2> /dev/null || true
sleep 0.5
"$shopflow" serve --data "$tmp/gw" --listen "127.0.0.1:$port" --stream "$stream" --sinks none \
    2>> "$tmp/gw.server.log" &
SERVER_PID=$!
rc=0
wait "$replay_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "replay: $(cat "$tmp/replay.out" "$tmp/replay.err")"
stop_server
export AWS_ENDPOINT_URL_KINESIS=$direct
faults=$(cat "$tmp/faults.json")
[[ $(jq .refused <<< "$faults") -gt 0 ]] || fail "no record was refused: $faults"
[[ $(jq .resent_forwarded_twice <<< "$faults") -eq 0 ]] || fail "records stored twice: $faults"

# The sinks, killed three times, then to the end.
facts() { sqlite3 "$tmp/run/warehouse.db" "SELECT count(*) FROM fact_sales" 2> /dev/null || echo 0; }
for _ in 1 2 3; do
    "$shopflow" sink all --stream "$stream" --data "$tmp/run" >> "$tmp/sinks.log" 2>&1 &
    pid=$!
    sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
done
"$shopflow" sink all --stream "$stream" --data "$tmp/run" --once >> "$tmp/sinks.log" 2>&1 ||
    fail "sink all: $(tail -5 "$tmp/sinks.log")"
want=$(sqlite_figures "$tmp/part.csv")
got=$(sqlite3 "$tmp/run/warehouse.db" "SELECT count(*) || ' ' || sum(amount_milli) FROM fact_sales")
[[ $got == "$(jq -r '.rows' <<< "$want") $(jq -r '.revenue | sub("\\."; "") | tonumber' <<< "$want")" ]] ||
    fail "warehouse: $got, sqlite3: $(jq -c '{rows, revenue}' <<< "$want")"
archived=$(find "$tmp/run/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l)
[[ $archived -eq $rows ]] || fail "the archive holds $archived records"
[[ $(find "$tmp/run/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | jq -r .event_id |
    sort -u | wc -l) -eq $rows ]] || fail "the archive's event ids are not the $rows rows'"
status=$("$shopflow" status --stream "$stream" --data "$tmp/run" --json)
[[ $(jq '[.sinks[].lag] | add' <<< "$status") -eq 0 ]] || fail "status: $status"
# Lag per shard: every sink, each of the 4 shards, records counted and time behind told.
jq -e '[.sinks[].lag_per_partition] | length == 3 and all(length == 4) and
       all(.[][]; .records == 0 and .exact and (.ms | type) == "number")' <<< "$status" \
    > /dev/null || fail "status per shard: $status"
"$shopflow" status --stream "$stream" --data "$tmp/run" |
    grep -q '^3  *0, [0-9]* ms  *0, [0-9]* ms  *0, [0-9]* ms$' || fail "status text per shard"
# /metrics of a server running the sinks: each sink's lag per shard, in ms, once it has read.
# (It listens once its event-id window is rebuilt from the stream's 100,000 records.)
SERVER_START_SECONDS=120 start_server "$tmp/run" --stream "$stream"
for k in archive history warehouse; do
    for p in 0 1 2 3; do
        wait_for "shopflow_sink_partition_lag_ms{sink=\"$k\",partition=\"$p\"}" 0
    done
done
stop_server
dups=$(awk '$1 == "duplicates" { gsub(",", "", $2); print $2 }' "$tmp/replay.out")
echo "ok: serve and sink all on kinesis:// ($rows rows; $(jq .refused <<< "$faults") records refused" \
    "and re-sent; $(grep -c 'event=server_started' "$tmp/gw.server.log") server starts; $dups" \
    "duplicates answered after the kill)"
