#!/usr/bin/env bash
# The dashboard in a real browser against a real server: `shopflow serve`
# loaded with a fixture (a slice of the bundled data covering every month,
# with all of customers 17850's and 13047's invoices), its sinks caught up;
# then Debian's Chromium, headless, driven by playwright-core
# (dashboard.mjs): the analyst view's charts and tables, its figures for a
# chosen month against the BI API's answers (and the month's revenue against
# sqlite3 over the CSV), the live panel while a replay runs, the customer
# view with a token (its own invoices only; another customer's invoice is a
# 403 shown as an error), a bad token's sign-in error. Screenshots of each
# view go to OUT_DIR on every run.
#
# Before the browser: the embedded files over HTTP with curl (bytes equal to
# the build's dist/, content types, caching, CSP, gzip, 304, 404, 405).
#
#   usage: dashboard.sh SHOPFLOW DATA_GZ NODE_MODULES DIST_DIR OUT_DIR [slice|full]
#   full: the whole bundled file (scripts/screenshots.sh, for docs/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
shopflow=$1 data_gz=$2 node_modules=$3 dist=$4 out=$5 fixture=${6:-slice}
chromium=${SHOPFLOW_CHROMIUM:-/usr/bin/chromium}
[[ -x "$chromium" ]] || fail "no Chromium at $chromium: run scripts/deps.sh --test (Debian's chromium)"
command -v node > /dev/null || fail "no node: run scripts/deps.sh (Debian's nodejs)"
[[ -d "$node_modules/playwright-core" ]] || fail "no playwright-core in $node_modules (the web build's npm ci)"
tmp=$(mktemp -d)
SERVER_PID=
trap '[[ -n "$SERVER_PID" ]] && kill $SERVER_PID 2>/dev/null && wait $SERVER_PID; rm -rf "$tmp" || true' EXIT
mkdir -p "$out"

# The fixture, chosen and split by sqlite3: rows of every 97th invoice, all
# of 17850's and 13047's, and the last day (2011-12-09), in file order. The
# last day's rows are kept back and replayed while the live panel watches.
gzip -dc "$data_gz" > "$tmp/all.csv"
where="CAST(ltrim(InvoiceNo, 'CA') AS INTEGER) % 97 = 0 OR CustomerID IN ('17850.0', '13047.0')
       OR InvoiceDate >= '2011-12-09'"
[[ $fixture == full ]] && where="1"
sqlite3 -batch "$tmp/csv.db" <<SQL
.mode csv
.import '$tmp/all.csv' t
CREATE TABLE f AS SELECT rowid AS r, * FROM t WHERE $where;
.headers on
.once '$tmp/base.csv'
SELECT InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
  FROM f WHERE InvoiceDate < '2011-12-09' ORDER BY r;
.once '$tmp/live.csv'
SELECT InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
  FROM f WHERE InvoiceDate >= '2011-12-09' ORDER BY r;
SQL
q() { sqlite3 -batch "$tmp/csv.db" "$1"; }
base_rows=$(q "SELECT count(*) FROM f WHERE InvoiceDate < '2011-12-09'")
live_rows=$(q "SELECT count(*) FROM f WHERE InvoiceDate >= '2011-12-09'")
month=2011-11
# The month's revenue in milli-pounds, straight from the CSV text.
month_milli=$(q "SELECT sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000)
                 AS INTEGER)) FROM f WHERE substr(InvoiceDate, 1, 7) = '$month'")
(( base_rows > 1000 && live_rows > 10 && month_milli > 0 )) ||
    fail "fixture: $base_rows rows, $live_rows live rows, $month revenue $month_milli"

data="$tmp/data"
"$shopflow" import --data "$data" "$tmp/base.csv" > /dev/null
analyst=$("$shopflow" keys create --data "$data" --role analyst | tail -1)
ingest=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
token=$("$shopflow" token --data "$data" --customer 17850 | tail -1)
start_server "$data"
base="http://127.0.0.1:$PORT"
for _ in $(seq 3000); do
    curl -s "$base/metrics" > "$tmp/metrics"
    [[ $(grep -c "^shopflow_sink_applied_records_total{sink=\"[a-z]*\"} $base_rows\$" "$tmp/metrics") == 3 &&
        $(grep -c '^shopflow_sink_lag_records{sink="[a-z]*"} 0$' "$tmp/metrics") == 3 ]] && break
    sleep 0.1
done
[[ $(grep -c '^shopflow_sink_lag_records{sink="[a-z]*"} 0$' "$tmp/metrics") == 3 ]] ||
    fail "the sinks did not catch up: $(grep sink_ "$tmp/metrics")"

# The embedded files, as served.
expect() { [[ "$1" == "$2" ]] || fail "$3: got '$1', expected '$2'"; }
fetch() { # fetch PATH [CURL ARGS] -> status; headers in $tmp/h, body in $tmp/b
    local path=$1
    shift
    curl -s -D "$tmp/h" -o "$tmp/b" -w '%{http_code}' "$@" "$base$path"
}
hdr() { sed -n "s/^$1: \(.*\)\r$/\1/Ip" "$tmp/h"; }
expect "$(fetch /)" 200 "GET /"
cmp -s "$tmp/b" "$dist/index.html" || fail "/ is not dist/index.html"
expect "$(hdr Content-Type)" "text/html; charset=utf-8" "/ content type"
expect "$(hdr Cache-Control)" "no-cache" "/ caching"
hdr Content-Security-Policy | grep -q "script-src 'self';" || fail "/ has no CSP: $(cat "$tmp/h")"
hdr Content-Security-Policy | grep -q "connect-src 'self';" || fail "CSP without connect-src 'self'"
[[ $(hdr Content-Security-Policy) != *unsafe-inline* ]] || fail "CSP allows inline"
grep -q '<script>' "$dist/index.html" && fail "index.html has an inline script"
etag=$(hdr ETag)
expect "$(fetch / -H "If-None-Match: $etag")" 304 "revalidated /"
expect "$(fetch /index.html)" 200 "GET /index.html"
for f in $(cd "$dist" && find assets -type f); do
    expect "$(fetch "/$f")" 200 "GET /$f"
    cmp -s "$tmp/b" "$dist/$f" || fail "/$f differs from dist/$f"
    expect "$(hdr Cache-Control)" "public, max-age=31536000, immutable" "/$f caching"
    case $f in
    *.js) expect "$(hdr Content-Type)" "text/javascript; charset=utf-8" "/$f type" ;;
    *.css) expect "$(hdr Content-Type)" "text/css; charset=utf-8" "/$f type" ;;
    *.svg) expect "$(hdr Content-Type)" "image/svg+xml" "/$f type" ;;
    esac
    if [[ $f == *.js ]]; then
        expect "$(fetch "/$f" -H 'Accept-Encoding: gzip')" 200 "gzip /$f"
        expect "$(hdr Content-Encoding)" gzip "/$f with Accept-Encoding: gzip"
        gzip -dc "$tmp/b" | cmp -s - "$dist/$f" || fail "gzip of /$f does not inflate to it"
        expect "$(fetch "/$f" -H 'Accept-Encoding: gzip;q=0')" 200 "gzip;q=0 /$f"
        expect "$(hdr Content-Encoding)" "" "gzip refused with q=0"
    fi
done
expect "$(fetch /assets/nothing.js)" 404 "an unknown asset"
expect "$(fetch / -X POST)" 405 "POST /"
expect "$(fetch /nothing)" 404 "an unknown path"
curl -s "$base/metrics" > "$tmp/metrics"
grep -q 'route="/ (dashboard)",code="304"' "$tmp/metrics" || fail "304 not counted"

# The figures the page must show, from the API (with the key) and sqlite3.
get() { curl -sf -H "Authorization: Bearer $1" "$base$2"; }
api_month=$(get "$analyst" "/v1/bi/sales?granularity=month&from=$month-01&to=$month-30")
api_milli=$(jq -r '.totals.revenue' <<< "$api_month" |
    perl -ne 'chomp; my ($i, $f) = split /\./; $f .= "0" x (3 - length $f);
              print(($i =~ /^-/ ? -1 : 1) * (abs($i) * 1000 + $f))')
expect "$api_milli" "$month_milli" "the API's $month revenue against sqlite3's"
other_invoice=$(q "SELECT InvoiceNo FROM f WHERE CustomerID = '13047.0' LIMIT 1")
forged="${token%?}$([[ ${token: -1} == A ]] && echo B || echo A)"

SF_BASE=$base SF_ANALYST=$analyst SF_TOKEN=$token SF_FORGED=$forged SF_CUSTOMER=17850 \
SF_OTHER_INVOICE=$other_invoice SF_MONTH=$month SF_SHOPFLOW=$shopflow SF_INGEST=$ingest \
SF_LIVE_CSV=$tmp/live.csv SF_LIVE_ROWS=$live_rows SF_BASE_ROWS=$base_rows SF_OUT=$out \
SF_CHROMIUM=$chromium SF_NODE_MODULES=$node_modules \
    node "$here/dashboard.mjs"
stop_server
SERVER_PID=
echo "dashboard: ok (screenshots in $out)"
