#!/usr/bin/env bash
# Issue 15, item 3: a data folder written before 128-bit totals (warehouse
# schema 3, history headers of version 1: money-v3/, made by shopflow at
# 89f519a) opens and answers the same, byte for byte, then goes on exact.
#  - readers refuse the version 3 warehouse until a sink upgrades it;
#    `serve` (its warehouse sink) upgrades it at start and says so, no sink
#    applies anything twice, and `report` then prints what the old shopflow
#    printed (json for each period, text, csv);
#  - the history store's old headers answer as before (invoices, a
#    customer's page), without any upgrade;
#  - an old invoice then gets 9,300 lines at the line limit: its header is
#    rewritten in the new form and its total, its day's sales and the day's
#    top invoice are exact past INT64_MAX (checked with Python's integers).
#   usage: money_upgrade.sh SHOPFLOW DATA_GZ
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
shopflow=$1
fx=$here/money-v3
tmp=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2> /dev/null && wait "${SERVER_PID:-}"; rm -rf "$tmp" || true' EXIT
d=$tmp/d
tar -C "$tmp" -xzf "$fx/answers.tar.gz"
gzip -dc "$fx/data.csv.gz" > "$tmp/data.csv"
"$shopflow" import --data "$d" "$tmp/data.csv" > /dev/null
gzip -dc "$fx/warehouse.db.gz" > "$d/warehouse.db"
mkdir -p "$d/history"
gzip -dc "$fx/history.mdb.gz" > "$d/history/data.mdb"
[[ $(sqlite3 "$d/warehouse.db" "PRAGMA user_version") == 3 ]] || fail "the fixture is not schema 3"

rc=0
"$shopflow" report --data "$d" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -ne 0 ]] && grep -q "schema version 3; this shopflow uses version 6: run the sink" "$tmp/err" ||
    fail "a reader of a schema 3 file: exit $rc, $(cat "$tmp/err")"

# serve, as an upgraded user starts it: its warehouse sink upgrades the file
# at start and says so, and no sink applies anything (the log's records are
# in both stores already); the old answers come back byte for byte.
analyst=$("$shopflow" keys create --data "$d" --role analyst | tail -1)
ingest=$("$shopflow" keys create --data "$d" --role ingest | tail -1)
get() { curl -sf -H "Authorization: Bearer $analyst" "http://127.0.0.1:$PORT/v1/$1"; }
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
start_server "$d"
grep -q "event=warehouse_upgraded .*from=3 to=6" "$d.server.log" ||
    fail "no word of the upgrade: $(cat "$d.server.log")"
for sink in history warehouse; do
    for _ in $(seq 100); do
        [[ $(metric "shopflow_sink_lag_records{sink=\"$sink\"}") == 0 ]] && break
        sleep 0.1
    done
    [[ $(metric "shopflow_sink_lag_records{sink=\"$sink\"}") == 0 &&
        $(metric "shopflow_sink_applied_records_total{sink=\"$sink\"}") == 0 ]] ||
        fail "$sink on the old folder: $(curl -s "http://127.0.0.1:$PORT/metrics" | grep "sink=\"$sink")"
done
for inv in 536365 C536391 A563186 581587 536398; do
    get "invoices/$inv" | cmp -s - "$tmp/answers/invoice-$inv.json" ||
        fail "GET /v1/invoices/$inv differs from the old answer: $(get "invoices/$inv")"
done
get "customers/17850/invoices?limit=5" | cmp -s - "$tmp/answers/customer-17850.json" ||
    fail "GET /v1/customers/17850/invoices differs from the old answer"
stop_server
[[ $(sqlite3 "$d/warehouse.db" "PRAGMA user_version") == 6 ]] || fail "user_version after serve"
for p in day month year; do
    "$shopflow" report --data "$d" --period "$p" --limit 1000 --format json |
        cmp -s - "$tmp/answers/report-$p.json" || fail "report --period $p --format json differs"
done
"$shopflow" report --data "$d" --format text | cmp -s - "$tmp/answers/report.txt" ||
    fail "report --format text differs: $(diff <("$shopflow" report --data "$d") "$tmp/answers/report.txt")"
"$shopflow" report --data "$d" --format csv | cmp -s - "$tmp/answers/report.csv" ||
    fail "report --format csv differs"
"$shopflow" sink warehouse --data "$d" --once 2>&1 > /dev/null | grep -q warehouse_upgraded &&
    fail "the warehouse was upgraded twice"

# The old folder goes on: 9,300 lines of 1,000 at a billion pounds (10^12
# pounds each, the line limit) on the old invoice 536365.
python3 - "$tmp/more.ndjson" << 'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for _ in range(9300):
        f.write(json.dumps({"InvoiceNo": "536365", "StockCode": "85123A", "Quantity": 1000,
                            "InvoiceDate": "2010-12-01 08:26:00", "UnitPrice": "1000000000",
                            "CustomerID": 17850, "Country": "United Kingdom"}) + "\n")
PY
start_server "$d"
[[ $(post "$ingest" application/x-ndjson "$tmp/more.ndjson") == 200 ]] ||
    fail "POST: $(head -c 300 "$tmp/resp")"
for _ in $(seq 600); do
    [[ $(get invoices/536365 | jq .line_count) == 9307 ]] &&
        [[ $(get "bi/sales?granularity=day" | jq .warehouse.records) == 9603 ]] && break
    sleep 0.1
done
get invoices/536365 > "$tmp/inv.json"
get "bi/sales?granularity=day&from=2010-12-01&to=2010-12-01" > "$tmp/day.json"
get "bi/top-invoices?period=day&at=2010-12-01&limit=1" > "$tmp/top.json"
stop_server
python3 - "$tmp" << 'PY' || fail "the old folder's totals past 64 bits are not exact"
import json, sys
t = sys.argv[1]
def milli(s):
    w, _, f = s.lstrip("-").partition(".")
    m = int(w) * 1000 + int((f + "000")[:3])
    return -m if s.startswith("-") else m
def money(m):
    w, f = divmod(abs(m), 1000)
    return ("-" if m < 0 else "") + (f"{w}.{f:03d}" if f % 10 else f"{w}.{f // 10:02d}")
old_inv = json.load(open(f"{t}/answers/invoice-536365.json"))
old_day = [b for b in json.load(open(f"{t}/answers/report-day.json"))["sales"]["buckets"]
           if b["period"] == "2010-12-01"][0]
add = 9300 * 1000 * 1000000000 * 1000  # milli-units
inv, day = json.load(open(f"{t}/inv.json")), json.load(open(f"{t}/day.json"))["buckets"][0]
top = json.load(open(f"{t}/top.json"))["periods"][0]["items"][0]
want = [money(milli(old_inv["total"]) + add), old_inv["units"] + 9300 * 1000, 9307,
        money(milli(old_day["revenue"]) + add), old_day["units"] + 9300 * 1000, ["536365",
        money(milli(old_inv["total"]) + add)]]
got = [inv["total"], inv["units"], inv["line_count"], day["revenue"], day["units"],
       [top["invoice_no"], top["revenue"]]]
if got != want:
    sys.exit(f"FAIL: shopflow says {got}, expected {want}")
assert inv["lines"][:7] == old_inv["lines"], "the old lines changed"
PY
echo "ok: the folder of the old shopflow answers the same, and goes on exact past 64 bits"
