#!/usr/bin/env bash
# `import --watch s3://BUCKET/PREFIX/` (s3rver): a good object is imported
# and moved to done/, a bad one to failed/ with NAME.errors.txt beside it;
# objects in other "folders" and temporary names are left alone; a scan
# killed between the copy and the delete is completed by the next one (the
# same bytes already in done/: only the source is deleted, nothing loaded).
#   usage: s3_watch.sh SHOPFLOW DATA_GZ
set -euo pipefail
here=$(dirname "$0")
source "$here/../integration/lib.sh"
source "$here/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
aws_start "$tmp"
trap 'aws_stop; rm -rf "$tmp"' EXIT
b=$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME
curl -sf -X PUT "$b" > /dev/null
put() { curl -sf -X PUT --data-binary "@$2" "$b/$1" > /dev/null; }
keys() { curl -sf "$b?list-type=2&prefix=in/" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'; }
records() { "$shopflow" log stat --data "$tmp/d" --json | jq '[.partitions[] | .end_offset - .start_offset] | add'; }

gzip -dc "$data" > "$tmp/data.csv"
head -1001 "$tmp/data.csv" | gzip > "$tmp/good.csv.gz"
{ head -3 "$tmp/data.csv"; echo '536365,85123A,X,many,2010-12-01 08:26:00,2.55,17850,United Kingdom'; } \
    > "$tmp/bad.csv"
put in/good.csv.gz "$tmp/good.csv.gz"
put in/bad.csv "$tmp/bad.csv"
put in/upload.csv.part "$tmp/bad.csv"
put in/other/x.csv "$tmp/bad.csv"

set +e
"$shopflow" import --data "$tmp/d" --watch "s3://$SF_TEST_NAME/in/" --once 2> "$tmp/log"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "a scan with a failed object exited $rc: $(cat "$tmp/log")"
want=$(printf '%s\n' in/done/good.csv.gz in/failed/bad.csv in/failed/bad.csv.errors.txt \
    in/other/x.csv in/upload.csv.part | sort)
[[ $(keys | sort) == "$want" ]] || fail "after the scan the bucket holds: $(keys)"
curl -sf "$b/in/done/good.csv.gz" | cmp - "$tmp/good.csv.gz" || fail "done/ holds other bytes"
report=$(curl -sf "$b/in/failed/bad.csv.errors.txt")
[[ $report == *'bad.csv:4: Quantity: "many" is not an integer'* ]] || fail "report: $report"
[[ $report == *"s3://$SF_TEST_NAME/in/bad.csv: 1 of 3 rows are invalid; nothing imported"* ]] ||
    fail "report's reason: $report"
grep -q 'event=import_file file="good.csv.gz" status=done rows=1000 imported=1000' "$tmp/log" ||
    fail "log: $(cat "$tmp/log")"
[[ $(records) -eq 1000 ]] || fail "the log holds $(records) records"

# Killed between the copy and the delete: the source is still there and
# done/ holds its bytes. The next scan loads nothing and deletes the source.
put in/good.csv.gz "$tmp/good.csv.gz"
"$shopflow" import --data "$tmp/d" --watch "s3://$SF_TEST_NAME/in/" --once 2> "$tmp/log" ||
    fail "rerun: $(cat "$tmp/log")"
grep -q 'status=done rows=1000 imported=0 duplicates=1000 .* moved_to=done/good.csv.gz$' "$tmp/log" ||
    fail "rerun log: $(cat "$tmp/log")"
[[ $(keys | sort) == "$want" ]] || fail "after the rerun the bucket holds: $(keys)"
[[ $(records) -eq 1000 ]] || fail "the rerun appended: $(records) records"
# Another file under a name done/ already has: done/NAME.1.
sed -n '1p;2000,2100p' "$tmp/data.csv" | gzip > "$tmp/good2.csv.gz"
put in/good.csv.gz "$tmp/good2.csv.gz"
"$shopflow" import --data "$tmp/d" --watch "s3://$SF_TEST_NAME/in/" --once 2> "$tmp/log" ||
    fail "third scan: $(cat "$tmp/log")"
keys | grep -qx in/done/good.csv.gz.1 || fail "no done/good.csv.gz.1: $(keys)"
[[ $(records) -eq 1101 ]] || fail "the log holds $(records) records after the third scan"
echo "ok: import --watch s3:// (done, failed with its report, a killed move completed)"
