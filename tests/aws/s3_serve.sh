#!/usr/bin/env bash
# `serve --objects s3://...` (s3rver): the archive of a running server on S3.
# 20,000 rows posted as CSV; the server's archive sink puts them into the
# bucket (status: lag 0); SIGTERM stops the server cleanly; the bucket, read
# with curl, holds the posted rows, with the figures sqlite3 computes.
#   usage: s3_serve.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
aws_test "$@"
loc="s3://$SF_TEST_NAME/shop"
gzip -dc "$data" > "$tmp/data.csv"
head -20001 "$tmp/data.csv" > "$tmp/part.csv"
key=$("$shopflow" keys create --data "$tmp/d" --role ingest | tail -1)
start_server "$tmp/d" --objects "$loc"
code=$(post "$key" text/csv "$tmp/part.csv")
[[ $code == 200 ]] || fail "post: $code $(cat "$tmp/resp")"
lag() { "$shopflow" status --data "$tmp/d" --objects "$loc" --json | jq .sinks.archive.lag; }
for _ in $(seq 300); do
    [[ $(lag) -eq 0 ]] && break
    sleep 0.1
done
[[ $(lag) -eq 0 ]] || fail "the server's archive sink is $(lag) records behind after 30 s"
stop_server
s3=$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME
curl -sf "$s3?list-type=2&prefix=shop/raw/" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' > "$tmp/keys"
sed "s|^|$s3/|" "$tmp/keys" | xargs curl -sf | gzip -dc > "$tmp/archive.ndjson"
[[ $(wc -l < "$tmp/archive.ndjson") -eq 20000 ]] || fail "the bucket holds $(wc -l < "$tmp/archive.ndjson") records"
num() { jq -c '.revenue |= tonumber'; } # "339603.980" and "339603.98" are one sum
same_figures "$(sqlite_figures "$tmp/part.csv" | num)" "$("$shopflow" check --json "$tmp/archive.ndjson" | num)" ||
    fail "the archive on S3 differs from the rows posted"
grep -q "event=s3_bucket_created" "$tmp/d.server.log" || fail "the server did not say it made the bucket"
echo "ok: serve --objects s3:// ($(wc -l < "$tmp/keys") objects)"
