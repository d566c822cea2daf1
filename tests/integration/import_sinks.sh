#!/usr/bin/env bash
# `shopflow import FILE --sinks all`: the sinks run in the importing process,
# following the log while it is appended; when the command returns, every
# sink holds every record, exactly what `import` then `sink all --once`
# gives (content compared), and the figures match sqlite3 and perl over the
# CSV. A second import with --sinks changes nothing; a file with a bad row
# imports nothing and the sinks stay as they were.
#   usage: import_sinks.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2 query=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(gzip -dc "$data" || true) | head -30001 > "$tmp/part.csv"

content() { stores_content "$1" "$query"; }

# The reference: import, then the sinks as their own process.
"$shopflow" import --data "$tmp/ref" "$tmp/part.csv" > /dev/null
"$shopflow" sink all --data "$tmp/ref" --once > /dev/null
content "$tmp/ref" > "$tmp/ref.content"

out=$("$shopflow" import --data "$tmp/d" "$tmp/part.csv" --sinks all)
grep -q "30,000 imported" <<<"$out" || fail "import: $out"
grep -q "^sinks (3) caught up" <<<"$out" || fail "no catch-up line: $out"
"$shopflow" status --data "$tmp/d" --json |
    jq -e '.sinks.archive.lag == 0 and .sinks.history.lag == 0 and .sinks.warehouse.lag == 0' \
        >/dev/null || fail "status: $("$shopflow" status --data "$tmp/d" --json)"
content "$tmp/d" > "$tmp/d.content"
diff "$tmp/ref.content" "$tmp/d.content" || fail "stores differ from import + sink all --once"

# Independent figures: rows and revenue in milli-units, by sqlite3 over the CSV.
want=$(sqlite_figures "$tmp/part.csv" | jq -r '"\(.rows) \(.revenue | sub("\\."; "") | tonumber)"')
got=$(sqlite3 -separator ' ' "$tmp/d/warehouse.db" 'SELECT count(*), sum(amount_milli) FROM fact_sales')
[[ "$got" == "$want" ]] || fail "warehouse: $got, CSV: $want"
records=$(find "$tmp/d/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | wc -l)
[[ $records -eq 30000 ]] || fail "archive holds $records records"

# Again: nothing new, nothing changed.
out=$("$shopflow" import --data "$tmp/d" "$tmp/part.csv" --sinks all)
grep -q "already imported: 30,000 rows, 0 loaded" <<<"$out" || fail "second import: $out"
content "$tmp/d" > "$tmp/d2.content"
diff "$tmp/d.content" "$tmp/d2.content" || fail "a second import changed the stores"

# One bad row: nothing imported, exit 1, the stores as they were.
sed '2,2000d' "$tmp/part.csv" |
    perl -pe 'if ($. == 5) { s/^([^,"]*,[^,"]*,[^,"]*),[^,]*,/$1,abc,/ or die "line 5" }' \
    > "$tmp/bad.csv"
grep -q ',abc,' "$tmp/bad.csv" || fail "the bad row was not made"
if "$shopflow" import --data "$tmp/d" "$tmp/bad.csv" --sinks all > "$tmp/bad.out" 2>&1; then
    fail "a file with a bad row was imported: $(cat "$tmp/bad.out")"
fi
grep -q "nothing imported" "$tmp/bad.out" || fail "bad file: $(cat "$tmp/bad.out")"
content "$tmp/d" > "$tmp/d3.content"
diff "$tmp/d.content" "$tmp/d3.content" || fail "a refused import changed the stores"
echo "ok: import --sinks all"
