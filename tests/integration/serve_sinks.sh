#!/usr/bin/env bash
# The sinks inside `serve`: a sink that fails (its archive folder replaced
# by a file) is counted in /metrics and retried while the gateway keeps
# acknowledging; once the folder is back it catches up, and every record is
# archived exactly once. Then `--sinks none` runs no sink, and a bad --sinks
# is a usage error.
#   usage: serve_sinks.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID; rm -rf "$tmp" || true' EXIT
data="$tmp/data"
(gzip -dc "$2" || true) | head -2001 > "$tmp/rows.csv"
head -1001 "$tmp/rows.csv" > "$tmp/first.csv"
(head -1 "$tmp/rows.csv"; tail -n +1002 "$tmp/rows.csv") > "$tmp/second.csv"
key=$("$shopflow" keys create --data "$data" --role ingest | tail -1)


start_server "$data" --archive-max-wait 100ms
[[ $(post "$key" text/csv "$tmp/first.csv") == 200 ]] || fail "first post: $(cat "$tmp/resp")"
wait_for 'shopflow_sink_lag_records{sink="archive"}' 0
wait_for 'shopflow_sink_applied_records_total{sink="archive"}' 1000
archived() { find "$data/archive" -name '*.ndjson.gz' -exec gzip -dc {} + 2>/dev/null | wc -l; }
for _ in $(seq 300); do [[ $(archived) == 1000 ]] && break; sleep 0.1; done
[[ $(archived) == 1000 ]] || fail "the first 1000 rows never reached the archive"

# Break the archive: its folder becomes a file. Ingest goes on.
mv "$data/archive/raw" "$tmp/raw.saved"
echo "not a folder" > "$data/archive/raw"
[[ $(post "$key" text/csv "$tmp/second.csv") == 200 ]] || fail "post while the archive fails"
for _ in $(seq 100); do
    [[ "$(metric 'shopflow_sink_errors_total{sink="archive"}')" -gt 0 ]] && break
    sleep 0.1
done
[[ "$(metric 'shopflow_sink_errors_total{sink="archive"}')" -gt 0 ]] || fail "no archive error counted"
grep -q 'event=sink_failed sink=archive' "$data.server.log" || fail "no sink_failed log line"
wait_for 'shopflow_sink_lag_records{sink="history"}' 0 # the other sinks go on

# Mend it: the sink's retry catches up, nothing lost, nothing twice.
rm "$data/archive/raw"
mv "$tmp/raw.saved" "$data/archive/raw"
wait_for 'shopflow_sink_lag_records{sink="archive"}' 0
stop_server
n=$(archived)
[[ $n == 2000 ]] || fail "the archive holds $n records, expected 2000"
# The same rows as were posted, each as often as in the file.
find "$data/archive" -name '*.ndjson.gz' -exec gzip -dc {} + |
    jq -r '"\(.invoice_no),\(.stock_code),\(.quantity)"' | sort > "$tmp/archived"
tail -n +2 "$tmp/rows.csv" | cut -d, -f1,2 > "$tmp/a"
tail -n +2 "$tmp/rows.csv" | awk -F, '{print $(NF-4)}' > "$tmp/b"
paste -d, "$tmp/a" "$tmp/b" | sort > "$tmp/posted"
diff "$tmp/posted" "$tmp/archived" > /dev/null || fail "the archive is not the rows posted"

# --sinks none runs none; a bad list is refused.
start_server "$data" --sinks none
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q shopflow_sink_lag_records &&
    fail "--sinks none still runs sinks"
stop_server
if "$shopflow" serve --data "$data" --listen 127.0.0.1:0 --sinks archive,nope 2> "$tmp/err"; then
    fail "a bad --sinks was accepted"
fi
grep -q "'nope' is not a sink" "$tmp/err" || fail "bad --sinks not said: $(cat "$tmp/err")"
echo "serve_sinks: ok"
