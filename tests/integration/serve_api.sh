#!/usr/bin/env bash
# The ingest gateway against a real server on loopback: every status code,
# all-or-nothing batches, dataframe-style JSON rows, CSV and NDJSON bodies,
# duplicates by event id across a restart, key revocation, metrics, SIGTERM.
#   usage: serve_api.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$tmp"' EXIT
data="$tmp/data"

ingest=$("$shopflow" keys create --data "$data" --role ingest --name loader | tail -1)
analyst=$("$shopflow" keys create --data "$data" --role analyst | tail -1)
admin=$("$shopflow" keys create --data "$data" --role admin | tail -1)
[[ $ingest =~ ^sfk_[0-9a-f]{64}$ ]] || fail "key format: $ingest"
"$shopflow" keys list --data "$data" --json | jq -e 'length == 3 and .[0].role == "ingest"' >/dev/null
grep -q "$ingest" "$data/keys" && fail "a key is stored in clear"

start_server "$data" --max-body 4K
base="http://127.0.0.1:$PORT"
code() { curl -s -o "$tmp/resp" -w '%{http_code}' "$@"; }
expect() { [[ "$1" == "$2" ]] || fail "$3: got $1, expected $2; body: $(cat "$tmp/resp")"; }
records() { "$shopflow" log stat --data "$data" --json | jq .records; }

expect "$(code "$base/healthz")" 200 healthz
expect "$(code "$base/readyz")" 200 readyz
expect "$(code "$base/nowhere")" 404 "unknown route"
expect "$(code -X DELETE "$base/healthz")" 405 "DELETE healthz"

one="$tmp/one.json"
cat > "$one" <<'JSON'
{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850.0,"Country":"United Kingdom"}
JSON
expect "$(post "" application/json "$one")" 401 "no key"
jq -e '.error.code == "unauthorized"' "$tmp/resp" >/dev/null
expect "$(post sfk_0000000000000000000000000000000000000000000000000000000000000000 application/json "$one")" 401 "unknown key"
expect "$(post "$analyst" application/json "$one")" 403 "analyst key"
expect "$(post "$ingest" text/plain "$one")" 415 "text/plain"
expect "$(code -X GET -H "Authorization: Bearer $ingest" "$base/v1/transactions")" 405 "GET ingest"
head -c 5000 /dev/zero | tr '\0' ' ' > "$tmp/big"
expect "$(post "$ingest" application/json "$tmp/big")" 413 "over --max-body"
# A large body sent with Expect: 100-continue is refused before it is sent.
head -c 3000000 /dev/zero | tr '\0' ' ' > "$tmp/huge"
expect "$(curl -s -o "$tmp/resp" -w '%{http_code}' -H 'Expect: 100-continue' -X POST \
    -H "Authorization: Bearer $ingest" -H 'Content-Type: application/json' \
    --data-binary "@$tmp/huge" "$base/v1/transactions")" 413 "Expect: 100-continue"
: > "$tmp/empty"
expect "$(post "$ingest" application/json "$tmp/empty")" 400 "empty body"
[[ $(records) -eq 0 ]] || fail "refused requests appended something"

# All-or-nothing: one bad record in three, nothing appended, each error named.
cat > "$tmp/mixed.json" <<'JSON'
[{"InvoiceNo":"536365","StockCode":"71053","Description":"WHITE METAL LANTERN","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":3.39,"CustomerID":17850,"Country":"United Kingdom"},
 {"InvoiceNo":"536365","StockCode":"84406B","Description":"CREAM CUPID HEARTS COAT HANGER","Quantity":"eight","InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.75,"CustomerID":17850,"Country":"United Kingdom"},
 {"InvoiceNo":"536365","StockCode":"84029G","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":3.3901,"Country":"United Kingdom"}]
JSON
expect "$(post "$ingest" application/json "$tmp/mixed.json")" 400 "mixed batch"
jq -e '.error.code == "invalid_records" and .error.invalid == 2
       and .error.errors[0].index == 1 and .error.errors[0].field == "Quantity"
       and .error.errors[1].index == 2 and .error.errors[1].field == "UnitPrice"
       and (.error.errors[1].reason | test("more than 3 decimals"))' "$tmp/resp" >/dev/null ||
    fail "400 body: $(cat "$tmp/resp")"
[[ $(records) -eq 0 ]] || fail "a mixed batch appended something"

# Dataframe-style rows: numbers as strings, CustomerID in every shape,
# InvoiceNo as a number, epoch milliseconds, snake_case keys, unknown fields.
cat > "$tmp/frame.json" <<'JSON'
[{"InvoiceNo":536365,"StockCode":"85123A","Description":"A","Quantity":"6","InvoiceDate":"2010-12-01T08:26:00","UnitPrice":"2.55","CustomerID":"17850.0","Country":"United Kingdom","index":0},
 {"invoice_no":"536366","stock_code":22633,"description":"B","quantity":6.0,"invoice_date":1291192080000,"unit_price":1.85,"customer_id":"17850","country":"United Kingdom"},
 {"InvoiceNo":"C536379","StockCode":"D","Description":"Discount","Quantity":-1,"InvoiceDate":"12/1/2010 9:41","UnitPrice":27.5,"CustomerID":null,"Country":"United Kingdom"},
 {"InvoiceNo":"536367","StockCode":"84879","Description":"C","Quantity":32,"InvoiceDate":"2010-12-01 08:34:00","UnitPrice":1.69,"CustomerID":"","Country":"United Kingdom","extra":{"nested":[1,2]}},
 {"InvoiceNo":"536368","StockCode":"22960","Description":"D","Quantity":6,"InvoiceDate":"2010-12-01 08:34:00","UnitPrice":4.25,"CustomerID":13047,"Country":"United Kingdom"}]
JSON
expect "$(post "$ingest" application/json "$tmp/frame.json")" 200 "dataframe rows"
jq -e '.accepted == 5 and .duplicates == 0' "$tmp/resp" >/dev/null || fail "$(cat "$tmp/resp")"
"$shopflow" log dump --data "$data" > "$tmp/dump"
jq -s -e 'map(select(.invoice_no == "536366"))[0] | .invoice_date == "2010-12-01 08:28:00"
          and .stock_code == "22633" and .customer_id == 17850 and .quantity == 6' "$tmp/dump" >/dev/null ||
    fail "dataframe row decoded wrong: $(cat "$tmp/dump")"
jq -s -e 'map(select(.invoice_no == "C536379"))[0] | .customer_id == null and .unit_price == "27.50"
          and .invoice_date == "2010-12-01 09:41:00"' "$tmp/dump" >/dev/null || fail "C536379"

# NDJSON and CSV bodies; an admin key may ingest.
printf '%s\n%s\n' '{"InvoiceNo":"536369","StockCode":"21756","Description":"BATH BUILDING BLOCK WORD","Quantity":3,"InvoiceDate":"2010-12-01 08:35:00","UnitPrice":5.95,"CustomerID":13047,"Country":"United Kingdom"}' \
    '{"InvoiceNo":"536370","StockCode":"22728","Description":"ALARM CLOCK BAKELIKE PINK","Quantity":24,"InvoiceDate":"2010-12-01 08:45:00","UnitPrice":3.75,"CustomerID":12583,"Country":"France"}' > "$tmp/two.ndjson"
expect "$(post "$admin" application/x-ndjson "$tmp/two.ndjson")" 200 ndjson
printf 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n536370,22727,"ALARM CLOCK BAKELIKE RED ",24,12/1/2010 8:45,3.75,12583,France\r\n' > "$tmp/one.csv"
expect "$(post "$ingest" "text/csv; charset=utf-8" "$tmp/one.csv")" 200 csv
[[ $(records) -eq 8 ]] || fail "expected 8 records, log has $(records)"
"$shopflow" log dump --data "$data" | grep '"description":"ALARM CLOCK BAKELIKE RED "' > /dev/null ||
    fail "trailing space lost"

# One keep-alive connection reuses its request state and decoder (server.c,
# ingest.c): a broken body, an invalid batch, then valid JSON, CSV and
# NDJSON bodies on it are each answered as on a connection of their own.
printf '{"InvoiceNo":' > "$tmp/broken.json"
ka=()
ka_req() { # n content-type file: add a request to the connection's sequence
    [[ ${#ka[@]} -eq 0 ]] || ka+=(--next)
    ka+=(-s -o "$tmp/ka.$1" -w '%{http_code}:%{num_connects}\n' -X POST
        -H "Authorization: Bearer $ingest" -H "Content-Type: $2" --data-binary "@$3"
        "$base/v1/transactions")
}
ka_req 1 application/json "$tmp/broken.json"
ka_req 2 application/json "$tmp/mixed.json"
ka_req 3 application/json "$one"
ka_req 4 text/csv "$tmp/one.csv"
ka_req 5 application/x-ndjson "$tmp/two.ndjson"
ka_req 6 application/json "$one"
got=$(curl "${ka[@]}" | tr '\n' ' ')
[[ $got == "400:1 400:0 200:0 200:0 200:0 200:0 " ]] || fail "keep-alive sequence: $got"
jq -e '.error.code == "invalid_records" and .error.invalid == 2 and .error.errors[0].index == 1' \
    "$tmp/ka.2" >/dev/null || fail "keep-alive invalid batch: $(cat "$tmp/ka.2")"
jq -e '.accepted == 2' "$tmp/ka.5" >/dev/null || fail "keep-alive ndjson: $(cat "$tmp/ka.5")"
[[ $(records) -eq 13 ]] || fail "keep-alive: expected 13 records, log has $(records)"

# Event ids: a repeat is a duplicate, also within one request and after a restart.
cat > "$tmp/ev.json" <<'JSON'
[{"event_id":"shop-1","InvoiceNo":"536371","StockCode":"22086","Description":"PAPER CHAIN KIT 50'S CHRISTMAS ","Quantity":80,"InvoiceDate":"2010-12-01 09:00:00","UnitPrice":2.55,"CustomerID":13748,"Country":"United Kingdom"},
 {"event_id":"shop-2","InvoiceNo":"536372","StockCode":"22632","Description":"HAND WARMER RED POLKA DOT","Quantity":6,"InvoiceDate":"2010-12-01 09:01:00","UnitPrice":1.85,"CustomerID":17850,"Country":"United Kingdom"},
 {"event_id":"shop-2","InvoiceNo":"536372","StockCode":"22632","Description":"HAND WARMER RED POLKA DOT","Quantity":6,"InvoiceDate":"2010-12-01 09:01:00","UnitPrice":1.85,"CustomerID":17850,"Country":"United Kingdom"}]
JSON
expect "$(post "$ingest" application/json "$tmp/ev.json")" 200 "event ids"
jq -e '.accepted == 2 and .duplicates == 1' "$tmp/resp" >/dev/null || fail "$(cat "$tmp/resp")"
expect "$(post "$ingest" application/json "$tmp/ev.json")" 200 "event ids again"
jq -e '.accepted == 0 and .duplicates == 3' "$tmp/resp" >/dev/null || fail "$(cat "$tmp/resp")"

curl -s "$base/metrics" > "$tmp/metrics"
grep -q '^shopflow_http_requests_total{route="/v1/transactions",code="401"} 2$' "$tmp/metrics" ||
    fail "metrics: 401 count"
grep -q '^shopflow_log_end_offset{partition="0"}' "$tmp/metrics" || fail "metrics: end offsets"
grep -q '^shopflow_log_fsync_seconds_bucket{le="+Inf"}' "$tmp/metrics" || fail "metrics: fsync"
grep -q '^shopflow_ingest_records_duplicate_total 4$' "$tmp/metrics" || fail "metrics: duplicates"

# A revoked key stops working within a second or so, without a restart.
id=$("$shopflow" keys list --data "$data" --json | jq -r '.[] | select(.role == "admin") | .id')
"$shopflow" keys revoke --data "$data" "$id" >/dev/null
sleep 1.2
expect "$(post "$admin" application/x-ndjson "$tmp/two.ndjson")" 401 "revoked key"

stop_server
grep -q 'event=server_stopped' "$data.server.log" || fail "no server_stopped line"

# After a restart the window still knows the event ids.
start_server "$data"
expect "$(post "$ingest" application/json "$tmp/ev.json")" 200 "event ids after restart"
jq -e '.accepted == 0 and .duplicates == 3' "$tmp/resp" >/dev/null || fail "after restart: $(cat "$tmp/resp")"
stop_server

# 429: a slow disk (fault injection) and a queue of one byte: while the first
# request is being written and a second waits, a third is refused; and an
# event id another request is still appending makes the request retry.
start_server "$data" --commit-delay 800ms --max-queue 1
post "$ingest" application/json "$one" > "$tmp/a.code" &
a=$!
sleep 0.2
post "$ingest" application/x-ndjson "$tmp/two.ndjson" > "$tmp/b.code" &
b=$!
sleep 0.2
expect "$(post "$ingest" application/json "$one")" 429 "queue full"
grep -qi '^retry-after' <(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/transactions" \
    -H "Authorization: Bearer $ingest" -H 'Content-Type: application/json' --data-binary "@$one") ||
    fail "429 without Retry-After"
wait $a $b
[[ $(cat "$tmp/a.code") == 200 && $(cat "$tmp/b.code") == 200 ]] || fail "queued requests failed"
sed 's/"InvoiceNo"/"event_id":"slow-1","InvoiceNo"/' "$one" > "$tmp/slow.json"
post "$ingest" application/json "$tmp/slow.json" > "$tmp/a.code" &
a=$!
sleep 0.3
expect "$(post "$ingest" application/json "$tmp/slow.json")" 429 "event id in flight"
jq -e '.error.code == "event_in_flight"' "$tmp/resp" >/dev/null || fail "$(cat "$tmp/resp")"
wait $a
expect "$(post "$ingest" application/json "$tmp/slow.json")" 200 "event id after it landed"
jq -e '.duplicates == 1' "$tmp/resp" >/dev/null || fail "$(cat "$tmp/resp")"
stop_server
echo "ok: serve api"
