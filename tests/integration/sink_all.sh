#!/usr/bin/env bash
# `shopflow sink all`: the three sinks at once over the first 20,000 rows of
# the bundled file; all caught up, and each holds what it should.
#   usage: sink_all.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(gzip -dc "$data" || true) | head -20001 > "$tmp/part.csv"
"$shopflow" import --data "$tmp/d" "$tmp/part.csv" > /dev/null
out=$("$shopflow" sink all --data "$tmp/d" --once)
for s in archive history warehouse; do
    grep -q "^$s: 20,000 records applied by this run, lag 0$" <<<"$out" || fail "$s: $out"
done
"$shopflow" status --data "$tmp/d" --json |
    jq -e '.sinks.archive.lag == 0 and .sinks.history.lag == 0 and .sinks.warehouse.lag == 0
           and ([.sinks[].lag_exact] | all)' \
        >/dev/null || fail "status: $("$shopflow" status --data "$tmp/d" --json)"
[[ $(sqlite3 "$tmp/d/warehouse.db" 'SELECT count(*) FROM fact_sales') -eq 20000 ]] || fail "warehouse rows"
[[ $(find "$tmp/d/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l) -eq 20000 ]] ||
    fail "archive records"
echo "ok: sink all"
