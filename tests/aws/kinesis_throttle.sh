#!/usr/bin/env bash
# A Kinesis stream that cannot keep up at all: a proxy (kinesis_faults.mjs
# --block) refuses every record of every PutRecords with
# ProvisionedThroughputExceededException. The gateway backs off and re-sends,
# then answers 429 with Retry-After (nothing of the request was stored);
# once the stream takes records again, the same request is a 200 and its
# record is in the stream once.
#   usage: kinesis_throttle.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
aws_test "$@"
stream="kinesis://$SF_TEST_NAME"
direct=$AWS_ENDPOINT_URL_KINESIS

"${SF_NODE:-node}" "$(dirname "$0")/kinesis_faults.mjs" --upstream "$direct" --every 1000000000 \
    --block "$tmp/block" --stats "$tmp/faults.json" > "$tmp/proxy.out" 2> "$tmp/proxy.err" &
for _ in $(seq 100); do [[ -s "$tmp/proxy.out" ]] && break; sleep 0.05; done
export AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:$(jq -r .port < "$tmp/proxy.out")"

cat > "$tmp/one.json" <<'JSON'
{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850.0,"Country":"United Kingdom","event_id":"throttle-1"}
JSON
key=$("$shopflow" keys create --data "$tmp/d" --role ingest | tail -1)
start_server "$tmp/d" --stream "$stream" --sinks none --partitions 2
post() { # -> the answer's status line and headers in $tmp/head
    curl -s -m 120 -D "$tmp/head" -o "$tmp/body" -X POST "http://127.0.0.1:$PORT/v1/transactions" \
        -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        --data-binary "@$tmp/one.json"
}
touch "$tmp/block"
post
grep -q '^HTTP/1.1 429' "$tmp/head" || fail "blocked stream: $(cat "$tmp/head" "$tmp/body")"
grep -qi '^retry-after: [0-9]' "$tmp/head" || fail "429 without Retry-After: $(cat "$tmp/head")"
[[ $(jq .forwarded "$tmp/faults.json") -eq 0 && $(jq .refused "$tmp/faults.json") -gt 1 ]] ||
    fail "while blocked: $(cat "$tmp/faults.json")"
rm "$tmp/block"
post
grep -q '^HTTP/1.1 200' "$tmp/head" || fail "after the block: $(cat "$tmp/head" "$tmp/body")"
stop_server
export AWS_ENDPOINT_URL_KINESIS=$direct
[[ $(jq .forwarded "$tmp/faults.json") -eq 1 ]] || fail "stored: $(cat "$tmp/faults.json")"
"$shopflow" log dump --stream "$stream" --data "$tmp/d" > "$tmp/dump"
[[ $(wc -l < "$tmp/dump") -eq 1 ]] || fail "the stream holds: $(cat "$tmp/dump")"
echo "ok: 429 with Retry-After after $(jq .refused "$tmp/faults.json") refusals; then 200, the record once"
