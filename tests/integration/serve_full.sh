#!/usr/bin/env bash
# Fault test: the log on a full file system (a 1 MiB tmpfs). Appends that
# cannot be written get 503 with Retry-After, the server keeps running,
# nothing acknowledged is lost, and once space is freed ingest works again.
# Needs root (mount); skipped (exit 77) otherwise.
#   usage: serve_full.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
if [[ $(id -u) -ne 0 ]]; then
    echo "skipped: mounting a tmpfs needs root"
    exit 77
fi
tmp=$(mktemp -d)
mnt="$tmp/mnt"
mkdir -p "$mnt"
mount -t tmpfs -o size=1m tmpfs "$mnt" || { echo "skipped: cannot mount tmpfs"; exit 77; }
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true; umount "$mnt" || true; rm -rf "$tmp"' EXIT
data="$mnt/data"
head -c 300000 /dev/zero > "$mnt/filler" # freed later, to show ingest recovers
key=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
# No sinks in this server: they share the 1 MiB and, catching up once the
# filler is freed, could take the space back before the batch is retried
# (the sinks on a full disk are hostile.full_disk's).
start_server "$data" --sinks none

body() { # batch number -> NDJSON of 100 records with event ids
    for i in $(seq 100); do
        printf '{"event_id":"b%d-%d","InvoiceNo":"%d","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850,"Country":"United Kingdom"}\n' "$1" "$i" $((536000 + i))
    done
}
acked=0 refused=0
for b in $(seq 200); do
    body "$b" > "$tmp/body"
    code=$(post "$key" application/x-ndjson "$tmp/body")
    case $code in
    200) acked=$((acked + 1)) ;;
    503) refused=$((refused + 1))
         jq -e '.error.code == "unavailable"' "$tmp/resp" >/dev/null || fail "503 body: $(cat "$tmp/resp")"
         break ;;
    *) fail "batch $b: $code $(cat "$tmp/resp")" ;;
    esac
done
[[ $refused -eq 1 ]] || fail "the disk never filled ($acked batches acknowledged)"
grep -qi '^retry-after: 5' <(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/transactions" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/x-ndjson' --data-binary "@$tmp/body") ||
    fail "503 without Retry-After"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz") == 200 ]] ||
    fail "the server died"
records=$("$shopflow" log stat --data "$data" --json | jq .records)
[[ $records -eq $((acked * 100)) ]] || fail "log holds $records records, $((acked * 100)) acknowledged"
grep -q 'event=log_append_failed' "$data.server.log" || fail "no log line for the failure"

# Free the space: the same batch now goes in, once.
rm -f "$mnt/filler"
code=$(post "$key" application/x-ndjson "$tmp/body")
[[ $code == 200 ]] || fail "after freeing space: $code $(cat "$tmp/resp")"
stop_server
records=$("$shopflow" log stat --data "$data" --json | jq .records)
[[ $records -eq $(((acked + 1) * 100)) ]] || fail "after recovery: $records records"
echo "ok: full disk gave 503 after $acked batches; nothing acknowledged lost"
