#!/usr/bin/env bash
# One process per sink on a Kinesis stream (stream/kinesis/lease.c), with
# kinesalite and dynalite:
#  - a second `sink history` is refused at start, exit 1, naming the
#    holder's pid and host, since when, and how to take over;
#  - the holder SIGKILLed, a new process takes the lease at once (the
#    holder's pid no longer runs on this host) and applies every record once;
#  - a lease held on another host is refused until it expires, and taken
#    then by a process that waits for it (lease-wait);
#  - a holder whose lease is taken from it stops, exit 1, saying so.
#   usage: kinesis_lease.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
history_query=${3:?usage: kinesis_lease.sh SHOPFLOW DATA_GZ HISTORY_QUERY}
aws_test "$@"
stream="kinesis://$SF_TEST_NAME"
lease="shopflow.$SF_TEST_NAME.history"

dynamodb_api() { # OP JSON
    curl -sf --aws-sigv4 "aws:amz:$AWS_REGION:dynamodb" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "X-Amz-Target: DynamoDB_20120810.$1" -H "Content-Type: application/x-amz-json-1.0" \
        --data-binary "$2" "$AWS_ENDPOINT_URL_DYNAMODB/"
}
put_lease() { # HOST PID EXPIRES_IN_S: the lease as another process would hold it
    local exp=$(($(date +%s%3N) + $3 * 1000))
    dynamodb_api PutItem "{\"TableName\":\"shopflow-leases\",\"Item\":{\"pk\":{\"S\":\"$lease\"},
        \"h\":{\"S\":\"other\"},\"host\":{\"S\":\"$1\"},\"pid\":{\"N\":\"$2\"},
        \"since\":{\"N\":\"1700000000\"},\"exp\":{\"N\":\"$exp\"},\"v\":{\"N\":\"1\"}}}" > /dev/null
}
hist_sink() { exec "$shopflow" sink history --stream "$stream" --data "$tmp/run" "$@"; }
lines() { "$history_query" "$tmp/run/history" 536365 17850 | sed 's/.* lines=\([0-9]*\) .*/\1/'; }

{ gzip -dc "$data" || true; } | head -2001 > "$tmp/part.csv"
key=$("$shopflow" keys create --data "$tmp/gw" --role ingest | tail -1)
start_server "$tmp/gw" --stream "$stream" --sinks none --partitions 2
"$shopflow" replay "$tmp/part.csv" --url "http://127.0.0.1:$PORT" --key "$key" > /dev/null
stop_server

hist_sink > "$tmp/a.out" 2> "$tmp/a.err" &
a=$!
for _ in $(seq 100); do grep -q kinesis_lease_taken "$tmp/a.err" && break; sleep 0.1; done
grep -q kinesis_lease_taken "$tmp/a.err" || fail "the first sink took no lease: $(cat "$tmp/a.err")"
rc=0
(hist_sink --once) > /dev/null 2> "$tmp/b.err" || rc=$?
[[ $rc -eq 1 ]] || fail "a second sink history ran beside the first (exit $rc)"
for want in "already runs in pid $a on $(hostname)" "kill $a on $(hostname)" "since 20" \
    "lease $lease" "lease-wait=SECONDS"; do
    grep -qF "$want" "$tmp/b.err" || fail "the refusal does not say '$want': $(cat "$tmp/b.err")"
done

# The holder killed: the next one takes over at once and finishes the stream.
kill -KILL "$a"
wait "$a" 2> /dev/null || true
(hist_sink --once) > "$tmp/c.out" 2> "$tmp/c.err" || fail "after the kill: $(cat "$tmp/c.err")"
grep -q "event=kinesis_lease_taken .*from_pid=$a" "$tmp/c.err" ||
    fail "the lease was not taken over from pid $a: $(cat "$tmp/c.err")"
[[ $(lines) -eq 2000 ]] || fail "the history holds $(lines) lines, not 2000"

# Held elsewhere for 3 s more: refused, then waited for.
put_lease elsewhere 4242 3
rc=0
(hist_sink --once) > /dev/null 2> "$tmp/d.err" || rc=$?
[[ $rc -eq 1 ]] && grep -qF "already runs in pid 4242 on elsewhere" "$tmp/d.err" ||
    fail "a lease held elsewhere was not refused: $(cat "$tmp/d.err")"
(hist_sink --once --stream-opt lease-wait=20) > /dev/null 2> "$tmp/e.err" ||
    fail "the lease was not taken once expired: $(cat "$tmp/e.err")"
grep -q "event=kinesis_lease_taken .*from_host=elsewhere" "$tmp/e.err" || fail "$(cat "$tmp/e.err")"

# A holder whose lease is taken from it stops.
hist_sink --stream-opt lease-seconds=3 > /dev/null 2> "$tmp/f.err" &
f=$!
for _ in $(seq 100); do grep -q kinesis_lease_taken "$tmp/f.err" && break; sleep 0.1; done
put_lease elsewhere 4243 60
rc=0
timeout 20 tail --pid="$f" -f /dev/null || fail "the holder went on after its lease was taken"
wait "$f" || rc=$?
[[ $rc -eq 1 ]] && grep -qF "lost its lease $lease (taken over by pid 4243 on elsewhere)" \
    "$tmp/f.err" || fail "the holder stopped with $rc: $(tail -3 "$tmp/f.err")"
echo "ok: one process per sink on kinesis://$SF_TEST_NAME: refused, taken over after a kill," \
    "after expiry, and lost"
