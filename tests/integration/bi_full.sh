#!/usr/bin/env bash
# BI answers on the full bundled file against an independent computation:
# the file is imported and loaded by `shopflow sink warehouse`, then the
# answers of `shopflow report --format json` (the same functions as the
# /v1/bi routes) are compared with SQL run by the sqlite3 tool over the raw
# CSV, written here (never shopflow's warehouse tables): monthly and yearly
# revenue, invoices and customers; the top product by units and by revenue of
# each month (non-product codes left out, listed below from data/README.md);
# the top customer and the top invoice of each month; the hour-of-day profile.
# Ties rank by key (stock code and invoice number as bytes, customer id as a
# number) on both sides.
#   usage: bi_full.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" || true' EXIT
"$shopflow" import --data "$tmp/d" "$data" > /dev/null
"$shopflow" sink warehouse --data "$tmp/d" --once > /dev/null
gzip -dc "$data" > "$tmp/data.csv"

"$shopflow" report --data "$tmp/d" --period month --limit 1 --format json > "$tmp/month.json"
"$shopflow" report --data "$tmp/d" --period year --limit 1 --format json > "$tmp/year.json"

# Money strings to milli-units (exact: every value is below 2^53 / 1000).
milli='(tonumber * 1000 | round)'

# The CSV as a table of text, once; each query below reads it through v.
sqlite3 -batch "$tmp/raw.db" <<SQL
.mode csv
.import '$tmp/data.csv' t
SQL
sql() {
    sqlite3 -batch "$tmp/raw.db" <<SQL
.mode list
.separator |
CREATE TEMP VIEW v AS
  SELECT InvoiceNo AS inv, StockCode AS sc, CAST(Quantity AS INTEGER) AS q, InvoiceDate AS dt,
         CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER) AS amt,
         CASE WHEN CustomerID = '' THEN NULL
              ELSE CAST(CAST(CustomerID AS REAL) AS INTEGER) END AS cust,
         StockCode IN ('POST', 'DOT', 'M', 'm', 'D', 'C2', 'S', 'B', 'CRUK', 'PADS', 'AMAZONFEE',
                       'BANK CHARGES') OR StockCode GLOB 'gift_0001_*'
           OR StockCode GLOB 'DCGS*' AS np
  FROM t;
$1
SQL
}

compare() { # NAME EXPECTED_FILE ACTUAL_FILE
    [[ $(wc -l < "$2") -gt 0 ]] || fail "$1: the independent side is empty"
    diff "$2" "$3" > "$tmp/diff" || { head -20 "$tmp/diff" >&2; fail "$1 differs from sqlite3's"; }
}

# Sales per month and per year: revenue, units, lines, distinct invoices and customers.
for g in month year; do
    len=$([[ $g == month ]] && echo 7 || echo 4)
    sql "SELECT substr(dt, 1, $len), sum(amt), sum(q), count(*), count(DISTINCT inv),
                count(DISTINCT cust) FROM v GROUP BY 1 ORDER BY 1;" > "$tmp/sales.$g.sql"
    jq -r ".sales.buckets[] | [.period, (.revenue | $milli), .units, .lines, .invoices,
           .customers] | join(\"|\")" "$tmp/$g.json" > "$tmp/sales.$g.sf"
    compare "sales per $g" "$tmp/sales.$g.sql" "$tmp/sales.$g.sf"
done
[[ $(wc -l < "$tmp/sales.month.sf") -eq 13 && $(wc -l < "$tmp/sales.year.sf") -eq 2 ]] ||
    fail "expected 13 months and 2 years"
[[ $(jq -r '.sales.totals.revenue' "$tmp/year.json") == 9747747.934 ]] || fail "total revenue"

# The top product of each month, by units and by revenue.
for by in units revenue; do
    col=$([[ $by == units ]] && echo u || echo r)
    sql "WITH p AS (SELECT substr(dt, 1, 7) AS m, sc, sum(q) AS u, sum(amt) AS r FROM v
                    WHERE NOT np GROUP BY 1, 2),
              k AS (SELECT *, row_number() OVER (PARTITION BY m ORDER BY $col DESC, sc) AS n FROM p)
         SELECT m, sc, u, r FROM k WHERE n = 1 ORDER BY m;" > "$tmp/top.$by.sql"
    jq -r ".top_products_by_$by.periods[] | .period as \$m | .items[] |
           [\$m, .stock_code, .units, (.revenue | $milli)] | join(\"|\")" \
        "$tmp/month.json" > "$tmp/top.$by.sf"
    compare "top product by $by per month" "$tmp/top.$by.sql" "$tmp/top.$by.sf"
done

# The top customer of each month (rows with a customer), with its invoices.
sql "WITH c AS (SELECT substr(dt, 1, 7) AS m, cust, sum(amt) AS r, count(DISTINCT inv) AS i
                FROM v WHERE cust IS NOT NULL GROUP BY 1, 2),
          k AS (SELECT *, row_number() OVER (PARTITION BY m ORDER BY r DESC, cust) AS n FROM c)
     SELECT m, cust, r, i FROM k WHERE n = 1 ORDER BY m;" > "$tmp/cust.sql"
jq -r ".top_customers.periods[] | .period as \$m | .items[] |
       [\$m, .customer_id, (.revenue | $milli), .invoices] | join(\"|\")" \
    "$tmp/month.json" > "$tmp/cust.sf"
compare "top customer per month" "$tmp/cust.sql" "$tmp/cust.sf"

# The top invoice of each month: an invoice's value is the sum of its lines,
# its date that of its first line.
sql "WITH i AS (SELECT inv, min(dt) AS d, sum(amt) AS r, max(cust) AS c FROM v GROUP BY inv),
          k AS (SELECT *, row_number() OVER (PARTITION BY substr(d, 1, 7) ORDER BY r DESC, inv)
                AS n FROM i)
     SELECT substr(d, 1, 7), inv, coalesce(c, 'null'), d, r FROM k WHERE n = 1 ORDER BY 1;" \
    > "$tmp/inv.sql"
jq -r ".top_invoices.periods[] | .period as \$m | .items[] |
       [\$m, .invoice_no, (.customer_id // \"null\"), .date, (.revenue | $milli)] | join(\"|\")" \
    "$tmp/month.json" > "$tmp/inv.sf"
compare "top invoice per month" "$tmp/inv.sql" "$tmp/inv.sf"

# The hour-of-day profile: revenue, days on which the hour had sales, the
# average over those days (rounded half away from zero), calendar days.
sql "WITH h AS (SELECT CAST(substr(dt, 12, 2) AS INTEGER) AS hour, sum(amt) AS r,
                       count(DISTINCT substr(dt, 1, 10)) AS days FROM v GROUP BY 1)
     SELECT hour, r, days, CAST(round(r * 1.0 / days) AS INTEGER),
            CAST(julianday((SELECT max(substr(dt, 1, 10)) FROM v)) -
                 julianday((SELECT min(substr(dt, 1, 10)) FROM v)) + 1 AS INTEGER)
     FROM h ORDER BY 1;" > "$tmp/hours.sql"
jq -r ".profile_hour_of_day.items[] | select(.days_with_sales > 0) |
       [.hour, (.revenue | $milli), .days_with_sales, (.average_per_day_with_sales | $milli),
        .calendar_days] | join(\"|\")" "$tmp/month.json" > "$tmp/hours.sf"
compare "hour-of-day profile" "$tmp/hours.sql" "$tmp/hours.sf"

echo "ok: BI answers on the full file equal sqlite3's over the CSV" \
     "(13 months, 2 years, top products/customers/invoices, hour profile)"
