#!/usr/bin/env bash
# BI answers on a small fixture, through sf_bi_answer (what the /v1/bi
# routes call) and `shopflow report`: sales at hour and day granularity
# (distinct invoices and customers per bucket, against sqlite3 over the
# CSV; an invoice spanning two hours counts once per hour and once in its
# day), the averages over buckets with sales and over calendar buckets,
# from/to bounds, limits and ties (ranked by key), non-product codes, and
# bad parameters (400 / 404 for the gateway, exit 2 for report).
#   usage: bi_small.sh SHOPFLOW SF_TEST_BI
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 bi=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" || true' EXIT
cp "$(dirname "$0")/bi_fixture.csv" "$tmp/f.csv" # ties, non-products, an invoice across hours
"$shopflow" import --data "$tmp/d" "$tmp/f.csv" > /dev/null
"$shopflow" sink warehouse --data "$tmp/d" --once > /dev/null
wh="$tmp/d/warehouse.db"
ask() { "$bi" "$wh" "$@"; }
milli='(tonumber * 1000 | round)'

# Sales per hour and per day, against sqlite3 over the same CSV.
for g in hour day; do
    len=$([[ $g == hour ]] && echo 13 || echo 10)
    sqlite3 -batch :memory: > "$tmp/$g.sql" <<SQL
.mode csv
.import '$tmp/f.csv' t
.mode list
SELECT substr(InvoiceDate, 1, $len),
       sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER)),
       sum(CAST(Quantity AS INTEGER)), count(*), count(DISTINCT InvoiceNo),
       count(DISTINCT nullif(CustomerID, ''))
FROM t GROUP BY 1 ORDER BY 1;
SQL
    ask sales granularity=$g > "$tmp/$g.json"
    jq -r ".buckets[] | [.period, (.revenue | $milli), .units, .lines, .invoices, .customers] |
           join(\"|\")" "$tmp/$g.json" > "$tmp/$g.sf"
    [[ $(wc -l < "$tmp/$g.sql") -ge 3 ]] || fail "sqlite3 found no $g buckets"
    diff "$tmp/$g.sql" "$tmp/$g.sf" || fail "sales per $g differ from sqlite3's"
done
# 1001 has lines at 09 and 10: one invoice in each hour, one in the day.
[[ $(jq -c '[.buckets[] | select(.period | startswith("2011-01-03")) | .invoices]' \
     "$tmp/hour.json") == "[2,2,2]" ]] || fail "invoices per hour"
[[ $(jq '.buckets[0].invoices' "$tmp/day.json") == 5 ]] || fail "invoices of the day"

# Averages: days 2011-01-03 and 2011-01-05 have sales, 01-04 has none.
ask sales granularity=day from=2011-01-03 to=2011-01-05 > "$tmp/avg.json"
jq -e '.from == "2011-01-03" and .to == "2011-01-05" and .buckets_with_sales == 2 and
       .calendar_buckets == 3 and .totals.revenue == "60.665" and
       .average_per_bucket_with_sales.revenue == "30.333" and
       .average_per_calendar_bucket.revenue == "20.222" and
       .average_per_bucket_with_sales.divisor == "buckets with sales" and
       .buckets[0].average_invoice_value == "10.133"' "$tmp/avg.json" > /dev/null ||
    fail "averages: $(cat "$tmp/avg.json")"
# Bounds: from/to are periods of any grain, both included, aligned to buckets.
ask sales granularity=day from=2011-01-04 to=2011-01 > "$tmp/b.json"
jq -e '[.buckets[].period] == ["2011-01-05"] and .from == "2011-01-04" and .to == "2011-01-31"
       and .calendar_buckets == 28' "$tmp/b.json" > /dev/null || fail "bounds: $(cat "$tmp/b.json")"
ask sales granularity=month to=2011-01 > "$tmp/m.json"
jq -e '[.buckets[].period] == ["2011-01"]' "$tmp/m.json" > /dev/null || fail "to=2011-01"
ask sales granularity=hour from="2011-01-03 10" to="2011-01-03 10" > "$tmp/h.json"
jq -e '[.buckets[].period] == ["2011-01-03 10"] and .buckets[0].revenue == "41.50"' \
    "$tmp/h.json" > /dev/null || fail "one hour: $(cat "$tmp/h.json")"

# Rankings: ties by key; limits; non-products left out unless asked.
ask top-products period=day at=2011-01-05 > "$tmp/p.json"
[[ $(jq -c '[.periods[0].items[] | [.stock_code, .units, .revenue, .description]]' "$tmp/p.json") == \
   '[["A1",4,"5.00","apple"],["B2",4,"5.00","bread"]]' ]] || fail "tie: $(cat "$tmp/p.json")"
ask top-products at=2011-01-05 limit=1 by=revenue > "$tmp/p1.json"
[[ $(jq -c '[.period, [.periods[0].items[].stock_code]]' "$tmp/p1.json") == '["day",["A1"]]' ]] ||
    fail "limit=1"
ask top-products at=2011-01-03 by=revenue > "$tmp/np.json"
[[ $(jq -c '[.periods[0].items[].stock_code]' "$tmp/np.json") == '["A1","C3","B2"]' ]] ||
    fail "non-products: $(cat "$tmp/np.json")"
ask top-products at=2011-01-03 by=revenue include_non_products=true > "$tmp/np2.json"
[[ $(jq -c '[.periods[0].items[].stock_code]' "$tmp/np2.json") == '["POST","A1","C3","B2"]' ]] ||
    fail "include_non_products"
ask top-customers period=month > "$tmp/c.json"
[[ $(jq -c '[.periods[] | [.period, (.items[] | [.customer_id, .country, .revenue, .invoices])]]' \
     "$tmp/c.json") == \
   '[["2011-01",[200,"France","44.50",2],[300,"United Kingdom","10.00",1],[100,"Germany","4.50",2]],["2011-02",[100,"Germany","2.00",1]]]' ]] ||
    fail "top customers: $(cat "$tmp/c.json")"
ask top-invoices at=2011-01-03 limit=3 > "$tmp/i.json"
[[ $(jq -c '[.periods[0].items[] | [.invoice_no, .customer_id, .date, .revenue]]' "$tmp/i.json") == \
   '[["1003",200,"2011-01-03 10:20:00","40.00"],["1001",100,"2011-01-03 09:10:00","14.50"],["1002",200,"2011-01-03 09:30:00","4.50"]]' ]] ||
    fail "top invoices: $(cat "$tmp/i.json")"
ask profile by=weekday > "$tmp/w.json"
jq -e '.calendar_days == 30 and .items[0].name == "Monday" and .items[0].calendar_days == 5 and
       .items[0].days_with_sales == 1 and .items[0].revenue == "50.665" and
       .items[0].average_per_calendar_day == "10.133" and .warehouse.records == 10' \
    "$tmp/w.json" > /dev/null || fail "weekday profile: $(cat "$tmp/w.json")"

# Bad parameters: 400 (exit 2) naming the parameter; no such question: 404 (exit 4).
for bad in "sales granularity=week" "sales from=2011-13" "sales from=2011-02 to=2011-01" \
           "top-products by=price" "top-products limit=0" "top-products limit=1001" \
           "top-products period=month at=2011-01-05" "top-customers by=units" \
           "top-invoices at=2011-01-03T10" "profile by=minute" "top-products include_non_products=1"; do
    rc=0
    # shellcheck disable=SC2086
    ask $bad > /dev/null 2> "$tmp/err" || rc=$?
    [[ $rc -eq 2 ]] || fail "$bad: exit $rc, expected 2 (a bad parameter)"
    grep -q "parameter" "$tmp/err" || fail "$bad: $(cat "$tmp/err")"
done
rc=0
ask top-sellers > /dev/null 2>&1 || rc=$?
[[ $rc -eq 4 ]] || fail "an unknown question: exit $rc, expected 4"

# shopflow report: the same figures; bad options are usage errors.
"$shopflow" report --data "$tmp/d" --period day --at 2011-01-05 > "$tmp/report.txt"
grep -q "£5.00" "$tmp/report.txt" || fail "report: $(cat "$tmp/report.txt")"
"$shopflow" report --data "$tmp/d" --format csv > "$tmp/report.csv"
grep -q '^sales,2011-01,60.665,' "$tmp/report.csv" || fail "report csv: $(head "$tmp/report.csv")"
for bad in "--period week" "--at 2011-13" "--from 2011-02 --to 2011-01" "--format xml"; do
    rc=0
    # shellcheck disable=SC2086
    "$shopflow" report --data "$tmp/d" --format json $bad > "$tmp/out" 2> "$tmp/err" || rc=$?
    [[ $rc -eq 2 ]] || fail "report $bad: exit $rc, expected 2"
    [[ ! -s $tmp/out ]] || fail "report $bad printed a part: $(head -c 200 "$tmp/out")"
done
# The error names the option given: --at, not the range made of it.
"$shopflow" report --data "$tmp/d" --at 2011-13-01 2> "$tmp/err" && fail "report --at 2011-13-01"
grep -q 'parameter at: "2011-13-01"' "$tmp/err" || fail "report --at: $(cat "$tmp/err")"
echo "ok: BI on a fixture (hour/day sales, averages, bounds, ties, limits, bad parameters)"
