#!/usr/bin/env bash
# The warehouse sink: the bundled file imported, then loaded into SQLite;
# fact_sales has 541,909 rows summing to 9,747,747,934 milli-units, and every
# month's sum equals sqlite3's own computation from the CSV; a second run
# loads nothing; killed with SIGKILL at random moments and restarted, it ends
# with exactly the same tables as the uninterrupted run.
#   usage: sink_warehouse.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$shopflow" import --data "$tmp/d" "$data" > /dev/null
gzip -dc "$data" > "$tmp/data.csv"
wh="$tmp/d/warehouse.db"

out=$("$shopflow" sink warehouse --data "$tmp/d" --once)
[[ $out == *"541,909 records applied"* ]] || fail "first run: $out"
[[ $(sqlite3 "$wh" 'SELECT count(*), sum(amount_milli) FROM fact_sales') == "541909|9747747934" ]] ||
    fail "fact_sales: $(sqlite3 "$wh" 'SELECT count(*), sum(amount_milli) FROM fact_sales')"
[[ $(sqlite3 "$wh" 'SELECT (SELECT count(*) FROM dim_product), (SELECT count(*) FROM dim_customer),
                           (SELECT count(*) FROM dim_date)') == "4070|4372|305" ]] || fail "dimensions"
sqlite3 "$wh" "SELECT substr(invoice_date, 1, 7), sum(amount_milli) FROM fact_sales
               GROUP BY 1 ORDER BY 1" > "$tmp/months.wh"
sqlite3 -batch :memory: > "$tmp/months.csv" <<SQL
.mode csv
.import '$tmp/data.csv' t
.mode list
SELECT substr(InvoiceDate, 1, 7),
       sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER))
FROM t GROUP BY 1 ORDER BY 1;
SQL
[[ $(wc -l < "$tmp/months.csv") -eq 13 ]] || fail "sqlite3 found $(wc -l < "$tmp/months.csv") months"
diff "$tmp/months.csv" "$tmp/months.wh" || fail "monthly revenue differs from the CSV's"
out=$("$shopflow" sink warehouse --data "$tmp/d" --once)
[[ $out == *" 0 records applied"* ]] || fail "second run loaded again: $out"
[[ $("$shopflow" status --data "$tmp/d" --json | jq .sinks.warehouse.lag) -eq 0 ]] || fail "status"

digest() {
    sqlite3 "$1" "SELECT * FROM fact_sales ORDER BY log_partition, log_offset;
                  SELECT * FROM dim_product ORDER BY 1; SELECT * FROM dim_customer ORDER BY 1;
                  SELECT * FROM dim_date ORDER BY 1;
        SELECT * FROM bi_sales ORDER BY 1, 2; SELECT * FROM bi_product ORDER BY 1, 2;
        SELECT * FROM bi_customer ORDER BY 1, 2; SELECT * FROM bi_invoice ORDER BY 1;
        SELECT * FROM bi_presence ORDER BY 1, 2" | md5sum
}
for k in $(seq 5); do
    "$shopflow" sink warehouse --data "$tmp/d" --warehouse "$tmp/crash.db" > /dev/null &
    sleep "0.$(printf '%03d' $((RANDOM % 800 + 100)))"
    kill -KILL $! 2>/dev/null || true
    wait $! 2>/dev/null || true
done
"$shopflow" sink warehouse --data "$tmp/d" --warehouse "$tmp/crash.db" --once > /dev/null
[[ $(digest "$tmp/crash.db") == $(digest "$wh") ]] || fail "after kills the tables differ"
echo "ok: warehouse sink (13 months equal; 5 kills)"
