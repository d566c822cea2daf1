#!/usr/bin/env bash
# Appends through Kafka under a fault in nearly every request: the first
# 120,000 rows of the bundled file posted through `shopflow serve` in 30
# chunks of 4,000 (event ids row-N), to the 3-broker mock cluster, each
# chunk under one of: produce errors that leave the append in doubt
# (INVALID_RECORD: some records stored, the rest not; the server is
# restarted, rebuilds its event-id window from the topic and the retry is
# answered partly as duplicates), retried produce errors (REQUEST_TIMED_OUT,
# NOT_LEADER_OR_FOLLOWER, the latter with slow brokers so that several
# requests are in flight when one fails), leaders moved, a broker down
# while the request waits. A 200 must mean durable: every row acknowledged is in the topic,
# once, and nothing else is (read back with `shopflow log dump`; the ids
# compared with perl). A smaller, harsher kafka.sh: ~1 minute.
#   usage: kafka_faults.sh SHOPFLOW DATA_GZ KAFKA_MOCK
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2 mockbin=$3
source "$(dirname "$0")/kafka_lib.sh"
rows=120000
tmp=$(mktemp -d)
trap 'kafka_cleanup $? 8 $rows; rm -rf "$tmp"' EXIT

kafka_mock_start 8
kafka_chunks "$data" $rows 4000
chunks=("$tmp"/chunk*.csv)
key=$("$shopflow" keys create --data "$tmp/gw" --role ingest | tail -1)
# Batches of at most 100 records: each chunk sends several requests per
# partition, so a failed request has others of its partition in flight.
serve_opts=(--stream-opt batch.num.messages=100)
kafka_serve

for i in "${!chunks[@]}"; do
    case $((i % 6)) in
    1) mock errors produce $((1 + i % 3)) INVALID_RECORD ;; # in doubt: restart
    2) mock errors produce 8 REQUEST_TIMED_OUT ;;
    3) mock leader $((i % 8)) $((1 + i % 3)); mock leader $(((i + 3) % 8)) $((1 + (i + 1) % 3)) ;;
    4) # Slow brokers: several requests of a partition in flight when the
       # first fails (what the mock cluster got wrong, kafka_lib.sh).
       for b in 1 2 3; do mock rtt $b 150; done
       mock errors produce 6 NOT_LEADER_FOR_PARTITION ;;
    5) mock errors produce 2 INVALID_RECORD; mock errors produce 3 REQUEST_TIMED_OUT ;;
    esac
    if [[ $((i % 6)) -eq 0 && $i -gt 0 ]]; then
        # A broker down while the request waits: acknowledged once it is back.
        mock down $((1 + i % 3))
        (sleep 1; echo "up $((1 + i % 3))" >&7) &
        post_chunk "${chunks[$i]}"
        wait $!
    else
        post_chunk "${chunks[$i]}"
    fi
    [[ $((i % 6)) -ne 4 ]] || for b in 1 2 3; do mock rtt $b 0; done
done
[[ $restarts -ge 3 ]] || fail "only $restarts appends in doubt (restarts)"
stop_server
cat "$tmp/gw.server.log" >> "$tmp/gw.earlier.log"
grep -q 'event=kafka_append_failed' "$tmp/gw.earlier.log" || fail "no log line for the failures"

kafka_topic_check $rows
echo "ok: $rows rows through Kafka with a fault in nearly every request ($restarts restarts" \
    "after appends in doubt); every acknowledged row once in the topic"
