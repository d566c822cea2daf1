#!/usr/bin/env bash
# The read API (purchase history, and BI's routes and rights) against a real
# server whose own sinks load the full bundled file: invoices and their lines, customers' pages newest
# first, date ranges, every role and token case, 404s, 405s, bad
# parameters, and the sinks' lag in /metrics. The expected answers are
# computed by the sqlite3 tool straight from the CSV.
# With "dynamodb" the history is kept in DynamoDB (dynalite, started here:
# tests/aws/lib.sh), so the same suite runs against both history adapters.
#   usage: serve_history.sh SHOPFLOW DATA_GZ [dynamodb]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
SERVER_PID=
store=()
if [[ ${3:-} == dynamodb ]]; then
    source "$(dirname "$0")/../aws/lib.sh"
    aws_start "$tmp"
    store=(--store "dynamodb://$SF_TEST_NAME")
fi
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID; ! declare -F aws_stop > /dev/null || aws_stop
      rm -rf "$tmp" || true' EXIT
data="$tmp/data"
gzip -dc "$2" > "$tmp/all.csv"

"$shopflow" import "$tmp/all.csv" --data "$data" > /dev/null
start_server "$data" --sinks archive,history,warehouse "${store[@]}"
base="http://127.0.0.1:$PORT"
for _ in $(seq 2400); do
    curl -s "$base/metrics" > "$tmp/metrics"
    [[ $(grep -c '^shopflow_sink_applied_records_total{sink="[a-z]*"} 541909$' "$tmp/metrics") == 3 &&
        $(grep -c '^shopflow_sink_lag_records{sink="[a-z]*"} 0$' "$tmp/metrics") == 3 ]] && break
    sleep 0.1
done
[[ $(grep -c '^shopflow_sink_lag_records{sink="[a-z]*"} 0$' "$tmp/metrics") == 3 ]] ||
    fail "the sinks did not catch up: $(grep sink_ "$tmp/metrics")"
grep -q 'shopflow_sink_apply_rate{sink="warehouse"}' "$tmp/metrics" || fail "no apply rate"

analyst=$("$shopflow" keys create --data "$data" --role analyst | tail -1)
admin=$("$shopflow" keys create --data "$data" --role admin | tail -1)
ingest=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
token=$("$shopflow" token --data "$data" --customer 17850 | tail -1)
short=$("$shopflow" token --data "$data" --customer 17850 --ttl 1s | tail -1)

get() { # get CREDENTIAL PATH -> status; body in $tmp/resp
    curl -s -o "$tmp/resp" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$base$2"
}
expect() { [[ "$1" == "$2" ]] || fail "$3: got $1, expected $2; body: $(cat "$tmp/resp")"; }

# The independent side: the CSV in sqlite3, an invoice's date its first line's.
sqlite3 -batch "$tmp/csv.db" <<SQL
.mode csv
.import '$tmp/all.csv' t
CREATE TABLE inv AS
  SELECT InvoiceNo AS no, min(InvoiceDate) AS date,
         CASE WHEN CustomerID = '' THEN '' ELSE CAST(CAST(CustomerID AS REAL) AS INTEGER) END
           AS customer, count(*) AS lines,
         sum(CAST(Quantity AS INTEGER)) AS units,
         sum(CAST(Quantity AS INTEGER) * CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER))
           AS total_milli
  FROM t GROUP BY InvoiceNo;
SQL
q() { sqlite3 -batch "$tmp/csv.db" "$1"; }
milli() { jq -r '.' | perl -ne 'chomp; my ($i, $f) = split /\./; $f .= "0" x (3 - length $f);
                                print(($i =~ /^-/ ? -1 : 1) * (abs($i) * 1000 + $f), "\n")'; }

# One invoice, every line, exact money.
expect "$(get "$analyst" /v1/invoices/536365)" 200 "invoice 536365"
jq -e '.line_count == 7 and (.lines | length) == 7 and .customer_id == 17850 and
       .total == "139.12" and .lines[0].stock_code == "85123A" and
       .lines[0].unit_price == "2.55" and .lines[0].amount == "15.30" and .kind == "sale"' \
    "$tmp/resp" > /dev/null || fail "invoice 536365: $(cat "$tmp/resp")"
for no in 536365 C536379 581587 A563185; do
    expect "$(get "$admin" "/v1/invoices/$no")" 200 "invoice $no"
    want=$(q "SELECT lines || ' ' || units || ' ' || total_milli FROM inv WHERE no = '$no'")
    got="$(jq -r '"\(.line_count) \(.units)"' "$tmp/resp") $(jq '.total' "$tmp/resp" | milli)"
    [[ "$got" == "$want" ]] || fail "invoice $no: shopflow $got, sqlite3 $want"
done
jq -e '.kind == "adjustment" and .customer_id == null' "$tmp/resp" > /dev/null ||
    fail "A563185: $(cat "$tmp/resp")"
expect "$(get "$analyst" /v1/invoices/C536379)" 200 "C invoice"
jq -e '.kind == "cancellation" and .units < 0' "$tmp/resp" > /dev/null || fail "C536379"

# Customer 17850: 35 invoices over pages of 4, newest first, each once.
pages() { # pages CREDENTIAL CUSTOMER LIMIT [QUERY] -> invoice numbers, one a line
    local cursor="" first=1
    while [[ $first == 1 || -n "$cursor" ]]; do
        first=0
        expect "$(get "$1" "/v1/customers/$2/invoices?limit=$3${4:+&$4}${cursor:+&cursor=$cursor}")" \
            200 "page of $2"
        jq -r '.invoices[] | "\(.date) \(.invoice_no)"' "$tmp/resp"
        cursor=$(jq -r '.next_cursor // empty' "$tmp/resp")
    done
}
newest_first() { q "SELECT date || ' ' || no FROM inv WHERE customer = $1 $2
                    ORDER BY date DESC, no DESC"; }
pages "$analyst" 17850 4 > "$tmp/got"
newest_first 17850 "" > "$tmp/want"
[[ $(wc -l < "$tmp/want") -eq 35 ]] || fail "the CSV says 17850 has $(wc -l < "$tmp/want") invoices"
diff "$tmp/want" "$tmp/got" > /dev/null || fail "17850's pages differ from sqlite3's"
# The customer with the most invoices, in pages of 50, and with a range.
top=$(q "SELECT customer FROM inv WHERE customer <> '' GROUP BY customer
         ORDER BY count(*) DESC LIMIT 1")
pages "$token" 17850 1000 > "$tmp/got"
diff "$tmp/want" "$tmp/got" > /dev/null || fail "17850 with its own token"
pages "$admin" "$top" 50 > "$tmp/got"
newest_first "$top" "" > "$tmp/want"
diff "$tmp/want" "$tmp/got" > /dev/null || fail "customer $top's pages differ"
pages "$admin" "$top" 7 "from=2011-03-01&to=2011-05-31" > "$tmp/got"
newest_first "$top" "AND date >= '2011-03-01' AND date < '2011-06-01'" > "$tmp/want"
[[ -s "$tmp/want" ]] || fail "no invoices of $top in the range"
diff "$tmp/want" "$tmp/got" > /dev/null || fail "customer $top's range differs"
expect "$(get "$analyst" "/v1/customers/17850/invoices?limit=1")" 200 "overview fields"
jq -e '.invoices[0] | has("invoice_no") and has("date") and has("kind") and
       has("line_count") and has("units") and (.total | type == "string")' "$tmp/resp" \
    > /dev/null || fail "overview fields: $(cat "$tmp/resp")"

# Details through the customer's route; another customer's invoice is 404.
expect "$(get "$token" /v1/customers/17850/invoices/536365)" 200 "own details"
jq -e '.line_count == 7' "$tmp/resp" > /dev/null || fail "own details"
expect "$(get "$analyst" /v1/customers/17850/invoices/536367)" 404 "13047's invoice under 17850"
expect "$(get "$analyst" /v1/invoices/NOPE)" 404 "no such invoice"
expect "$(get "$analyst" /v1/customers/99999999/invoices)" 404 "no such customer"
expect "$(get "$analyst" /v1/customers/abc/invoices)" 404 "not a customer id"
expect "$(get "$analyst" /v1/customers/17850/nothing)" 404 "unknown sub-route"

# Who may read what.
for path in /v1/invoices/536365 /v1/customers/17850/invoices /v1/customers/17850/invoices/536365; do
    expect "$(get "" "$path")" 401 "no credential $path"
    expect "$(get "$ingest" "$path")" 403 "ingest key $path"
    expect "$(get "$analyst" "$path")" 200 "analyst $path"
    expect "$(get "$admin" "$path")" 200 "admin $path"
    expect "$(get "$token" "$path")" 200 "own token $path"
    expect "$(get sfk_0000000000000000000000000000000000000000000000000000000000000000 "$path")" \
        401 "unknown key $path"
    expect "$(curl -s -o "$tmp/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $analyst" \
        "$base$path")" 405 "POST $path"
done
expect "$(get "$token" /v1/customers/13047/invoices)" 403 "another customer's list"
expect "$(get "$token" /v1/customers/13047/invoices/536367)" 403 "another customer's invoice"
expect "$(get "$token" /v1/invoices/536367)" 403 "an invoice not its own"
expect "$(get "$token" /v1/invoices/NOPE)" 403 "a token learns nothing of other invoices"
echo '[]' > "$tmp/empty.json"
expect "$(post "$token" application/json "$tmp/empty.json")" 403 "a token may not ingest"
forged="${token%?}$([[ ${token: -1} == A ]] && echo B || echo A)"
expect "$(get "$forged" /v1/customers/17850/invoices)" 401 "forged signature"
other_secret=$("$shopflow" token --data "$tmp/elsewhere" --customer 17850 | tail -1)
expect "$(get "$other_secret" /v1/customers/17850/invoices)" 401 "another folder's token"
none="$(printf '{"alg":"none","typ":"JWT"}' | base64 | tr -d '=\n' | tr '/+' '_-')"
none="$none.$(printf '{"sub":"17850","exp":9999999999}' | base64 | tr -d '=\n' | tr '/+' '_-')."
expect "$(get "$none" /v1/customers/17850/invoices)" 401 "alg none"
sleep 2
expect "$(get "$short" /v1/customers/17850/invoices)" 401 "expired token"
jq -e '.error.message | test("expired")' "$tmp/resp" > /dev/null || fail "expiry not said"

# Bad parameters: 400 with the reason.
expect "$(get "$analyst" "/v1/customers/17850/invoices?limit=0")" 400 "limit 0"
expect "$(get "$analyst" "/v1/customers/17850/invoices?limit=x")" 400 "limit x"
expect "$(get "$analyst" "/v1/customers/17850/invoices?cursor=zz")" 400 "bad cursor"
expect "$(get "$analyst" "/v1/customers/17850/invoices?from=yesterday")" 400 "bad from"
jq -e '.error.message | test("from")' "$tmp/resp" > /dev/null || fail "from not named"

# BI over HTTP: analyst and admin keys only; monthly revenue equal to
# sqlite3's over the CSV (the BI tests check every question in depth).
for path in "/v1/bi/sales?granularity=month" "/v1/bi/profile?by=weekday" \
    "/v1/bi/top-products?period=month&at=2011-11" "/v1/bi/top-customers?period=year" \
    "/v1/bi/top-invoices?period=day&at=2011-12-09"; do
    expect "$(get "" "$path")" 401 "no credential $path"
    expect "$(get "$ingest" "$path")" 403 "ingest key $path"
    expect "$(get "$token" "$path")" 403 "customer token $path"
    expect "$(get "$admin" "$path")" 200 "admin $path"
    expect "$(get "$analyst" "$path")" 200 "analyst $path"
    jq -e '.warehouse.lag == 0 and .warehouse.records == 541909' "$tmp/resp" > /dev/null ||
        fail "$path does not say how far the warehouse is: $(cat "$tmp/resp")"
done
expect "$(get "$analyst" "/v1/bi/sales?granularity=month")" 200 "monthly sales"
jq -r '.buckets[] | "\(.period) \(.revenue)"' "$tmp/resp" > "$tmp/got"
q "SELECT substr(InvoiceDate, 1, 7), printf('%s%d.%03d', CASE WHEN m < 0 THEN '-' ELSE '' END,
          abs(m) / 1000, abs(m) % 1000)
   FROM (SELECT InvoiceDate, sum(CAST(Quantity AS INTEGER) *
                CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER)) AS m
         FROM t GROUP BY substr(InvoiceDate, 1, 7)) ORDER BY 1" |
    tr '|' ' ' | perl -pe 's/(\.\d\d)0$/$1/' > "$tmp/want"
diff "$tmp/want" "$tmp/got" > /dev/null || fail "monthly revenue: $(diff "$tmp/want" "$tmp/got")"
expect "$(get "$analyst" "/v1/bi/sales?granularity=week")" 400 "bad granularity"
jq -e '.error.message | test("granularity")' "$tmp/resp" > /dev/null || fail "not named"
expect "$(get "$analyst" "/v1/bi/nothing")" 404 "unknown question"
expect "$(curl -s -o "$tmp/resp" -w '%{http_code}' -X POST -H "Authorization: Bearer $analyst" \
    "$base/v1/bi/sales")" 405 "POST BI"

grep -q 'route="/v1/customers/{id}/invoices",code="200"' <(curl -s "$base/metrics") ||
    fail "history requests not counted in /metrics"
stop_server
echo "serve_history: ok"
