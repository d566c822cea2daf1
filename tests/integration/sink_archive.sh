#!/usr/bin/env bash
# The archive sink: the bundled file imported, then archived; the objects
# hold every record once, with the figures sqlite3 computes from the CSV; a
# second run writes nothing; killed with SIGKILL at random moments and
# restarted, it still ends with every record in exactly one object.
#   usage: sink_archive.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$shopflow" import --data "$tmp/d" "$data" > /dev/null

lag() { "$shopflow" status --data "$tmp/d" --json | jq .sinks.archive.lag; }
[[ $(lag) -eq 541909 ]] || fail "status before: lag $(lag)"
out=$("$shopflow" sink archive --data "$tmp/d" --once)
[[ $out == *"541,909 records applied"* ]] || fail "first run: $out"
[[ $(lag) -eq 0 ]] || fail "status after: lag $(lag)"
"$shopflow" status --data "$tmp/d" --json |
    jq -e '[.partitions[].end_offset] == .sinks.archive.offsets' >/dev/null || fail "status offsets"
out=$("$shopflow" sink archive --data "$tmp/d" --once)
[[ $out == *" 0 records applied"* ]] || fail "second run archived again: $out"
objects() { find "$1" -name '*.ndjson.gz' | sort; }
objects "$tmp/d/archive" > "$tmp/names"
grep -q 'raw/transactions/dt=2010-12-01/part-000[0-7]-0\{20\}-[0-9]\{20\}\.ndjson\.gz$' "$tmp/names" ||
    fail "object names: $(head -1 "$tmp/names")"
objects "$tmp/d/archive" | xargs cat | gzip -dc > "$tmp/archive.ndjson"
gzip -dc "$data" > "$tmp/data.csv"
same_figures "$(sqlite_figures "$tmp/data.csv")" "$("$shopflow" check --json "$tmp/archive.ndjson")" ||
    fail "the archive differs from the CSV"
[[ $(jq -r .event_id "$tmp/archive.ndjson" | sort -u | wc -l) -eq 541909 ]] ||
    fail "a record is archived twice"

# Killed at random moments (small objects, so there is always one being written).
for k in $(seq 5); do
    "$shopflow" sink archive --data "$tmp/d" --objects "$tmp/crash" \
        --archive-object-size 64K > /dev/null &
    sleep "0.$(printf '%03d' $((RANDOM % 500 + 100)))"
    kill -KILL $! 2>/dev/null || true
    wait $! 2>/dev/null || true
done
"$shopflow" sink archive --data "$tmp/d" --objects "$tmp/crash" --archive-object-size 64K --once > /dev/null
objects "$tmp/crash" | xargs cat | gzip -dc > "$tmp/crash.ndjson"
[[ $(wc -l < "$tmp/crash.ndjson") -eq 541909 ]] || fail "after kills: $(wc -l < "$tmp/crash.ndjson") records"
[[ $(jq -r .event_id "$tmp/crash.ndjson" | sort -u | wc -l) -eq 541909 ]] ||
    fail "after kills a record is archived twice"
cmp <(sort "$tmp/archive.ndjson") <(sort "$tmp/crash.ndjson") || fail "content differs after kills"
echo "ok: archive sink ($(objects "$tmp/d/archive" | wc -l) objects; 5 kills)"
