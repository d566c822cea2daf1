#!/usr/bin/env bash
# Hostile inputs to POST /v1/transactions: every field's bad values (types,
# ranges, lengths, encodings, dates), missing and doubled fields, broken JSON,
# NDJSON and CSV bodies, empty bodies, wrong Content-Types. Each bad request
# gets a 400 in the JSON error shape naming the record's index and the field
# (a body that cannot be read to its end: unreadable_body, naming its line and
# the records read before it), and nothing of it is stored: the log holds
# exactly the records of the requests answered 200, and those hold the values
# sent (edge values that are valid are checked in the log, byte for byte).
#   usage: inputs.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
make_keys "$data"
start_server "$data" --sinks none
stored=0 # records the log must hold: those of every request answered 200

json() { post_as "$INGEST" application/json "$1"; }
ndjson() { post_as "$INGEST" application/x-ndjson "$1"; }
csv() { post_as "$INGEST" text/csv "$1"; }
text_of() { # text_of N -> N bytes "aaa…" as a JSON string
    printf '"%s"' "$(head -c "$1" /dev/zero | tr '\0' a)"
}
digits=$(head -c 1000 /dev/zero | tr '\0' 9) # a 1000-digit number

# bad FIELD RAW: one record with FIELD set to RAW is refused, naming FIELD.
bad() { expect_invalid "$(json "$(rec "$1" "$2")")" 0 "$1" "$1 = ${2:0:50}"; }

# good_body EVENT_ID BODY JQ WHAT: accepted, and the stored record of that
# event id satisfies JQ, e.g. '.quantity == 1000'.
good_body() {
    expect_json "$(json "$2")" 200 '.accepted == 1' "$4 is valid"
    stored=$((stored + 1))
    "$shopflow" log dump --data "$data" | jq -c --arg e "$1" 'select(.event_id == $e)' \
        > "$tmp/stored"
    holds "$3" "$tmp/stored" || fail "$4: stored as $(cat "$tmp/stored"), expected $3"
}
# good FIELD RAW JQ: the record with FIELD set to RAW, as good_body.
n_good=0
good() {
    n_good=$((n_good + 1))
    good_body "good-$n_good" "$(rec event_id "\"good-$n_good\"" "$1" "$2")" "$3" "$1 = ${2:0:50}"
}

# --- Each field's bad values: type, range, length, form -----------------------
for v in '""' null true '{}' '[]' '"12345678901234567"' '"ééééééééé"'; do bad InvoiceNo "$v"; done
for v in '""' null false '{"a":1}' "$(text_of 33)"; do bad StockCode "$v"; done
for v in true '[1]' "$(text_of 513)" '"A\u0000B"'; do bad Description "$v"; done
for v in 1.5 '"6.5"' 2147483648 -2147483649 1e10 "$digits" "-$digits" '"six"' '""' null true \
    '"0x10"' '{}' '"1e400"'; do
    bad Quantity "$v"
done
for v in 2.5501 1e-5 1e400 '"2,55"' '"abc"' '""' null true 1000000000000001 -1000000000000001 \
    '"NaN"' '"Infinity"' '"0x1p3"' "$digits" '[2.55]'; do
    bad UnitPrice "$v"
done
for v in '"2010-02-30 08:26:00"' '"2011-02-29 08:26:00"' '"1899-12-31 23:59:59"' \
    '"10000-01-01 00:00:00"' '"2010-12-01 24:00:00"' '"2010-12-01 23:60:00"' \
    '"2010-12-01 23:59:60"' '"2010-13-01 00:00:00"' '"2010-00-10 00:00:00"' '"2010-12-01"' \
    '"2010-12-01T08:26:00.5Z"' '"2010-12-01T08:26:00+25:00"' '"13/1/2010 8:26"' \
    '"2/30/2011 8:26"' '"yesterday"' '""' null true 1.5 1291192080001 99999999999999000 \
    -2208988801000 '"9999-12-31T23:59:59-01:00"' '"1900-01-01T00:00:00+01:00"' \
    "$digits" '"2010-1-01 08:26:00"'; do
    bad InvoiceDate "$v"
done
for v in 0 -5 1.5 2147483648 '"abc"' '"17850x"' true '[17850]' "$digits"; do bad CustomerID "$v"; done
for v in '""' null true "$(text_of 65)" '"A\u0000"'; do bad Country "$v"; done
for v in "$(text_of 65)" true '{}'; do bad event_id "$v"; done

# --- Missing and doubled fields ----------------------------------------------
for f in InvoiceNo StockCode Quantity InvoiceDate UnitPrice Country; do
    expect_invalid "$(json "$(rec "$f" -)")" 0 "$f" "$f missing"
    holds '.error.errors[0].reason | test("missing")' ||
        fail "$f missing: the reason does not say so: $(answer)"
done
for f in InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID Country; do
    r=$(rec) # the record with its field f once more at the end:
    expect_invalid "$(json "${r%\}},$(grep -o "\"$f\":[^,}]*" <<< "$r")}")" 0 "$f" "$f given twice"
done
expect_invalid "$(json "$(rec invoice_no '"536366"')")" 0 InvoiceNo "InvoiceNo and invoice_no"
expect_invalid "$(json "$(rec event_id '"a"' EVENT_ID '"b"')")" 0 event_id "event_id twice"

# --- Valid edge values, stored as sent (or as documented) ---------------------
good Quantity -0 '.quantity == 0'
good Quantity 1e3 '.quantity == 1000'
good Quantity '"6.0"' '.quantity == 6'
good Quantity 6.0 '.quantity == 6'
good Quantity -6 '.quantity == -6'
good UnitPrice -0 '.unit_price == "0.00"'
good UnitPrice '"-0.000"' '.unit_price == "0.00"'
good UnitPrice 2.55e1 '.unit_price == "25.50"'
good UnitPrice '"2.550"' '.unit_price == "2.55"'
good UnitPrice 0.001 '.unit_price == "0.001"'
good UnitPrice -11062.06 '.unit_price == "-11062.06"'
good InvoiceDate '"2012-02-29 08:26:00"' '.invoice_date == "2012-02-29 08:26:00"'
good InvoiceDate '"1900-01-01 00:00:00"' '.invoice_date == "1900-01-01 00:00:00"'
good InvoiceDate '"9999-12-31 23:59:59"' '.invoice_date == "9999-12-31 23:59:59"'
good InvoiceDate 1291192080000 '.invoice_date == "2010-12-01 08:28:00"'
good InvoiceDate '"2010-12-01T08:26:00.000Z"' '.invoice_date == "2010-12-01 08:26:00"'
good InvoiceDate '"12/1/2010 8:26"' '.invoice_date == "2010-12-01 08:26:00"'
good InvoiceDate '"2010-12-01 08:26"' '.invoice_date == "2010-12-01 08:26:00"'
good CustomerID '"17850.0"' '.customer_id == 17850'
good CustomerID '""' '.customer_id == null'
good CustomerID null '.customer_id == null'
good CustomerID 2147483647 '.customer_id == 2147483647'
good Description null '.description == ""'
good Description "$(text_of 512)" '.description | length == 512'
good Description '"TRAILING  "' '.description == "TRAILING  "'
good Description '"\u00e9\u4e2d\ud83d\ude00"' '.description == "é中😀"'
good Description '"é中😀"' '.description == "é中😀"'
good Description '"tab\there\nnew line"' '.description == "tab\there\nnew line"'
good Description '"<script>alert(1)</script>'"'"'; DROP TABLE x;--"' \
    '.description == "<script>alert(1)</script>'"'"'; DROP TABLE x;--"'
good InvoiceNo '"1234567890123456"' '.invoice_no == "1234567890123456"'
good InvoiceNo 536366 '.invoice_no == "536366"'
good InvoiceNo 536366.0 '.invoice_no == "536366"'
good InvoiceNo '"C536379"' '.invoice_no == "C536379" and .quantity == 6'
good Country "$(text_of 64)" '.country | length == 64'
e64=$(text_of 64)
good_body "${e64//\"/}" "$(rec event_id "$e64")" '.event_id | length == 64' 'a 64-byte event_id'
good_body snake "$(rec event_id '"snake"' InvoiceNo - invoice_no '"536367"')" \
    '.invoice_no == "536367"' 'invoice_no instead of InvoiceNo'
# Unknown fields are ignored, whatever they hold.
good extra '{"nested":[1,2,{"a":null}],"Quantity":"x"}' '.quantity == 6'
good_body empty-key "$(rec event_id '"empty-key"' | sed 's/}$/,"":"empty key"}/')" \
    '.quantity == 6' 'an empty key'
good 'Quantity2' '"not a number"' '.quantity == 6'
good big "$(text_of 100000)" '.quantity == 6'
good 'x\u0000y' '"\u0000"' '.quantity == 6'
# A record of other names for the fields (folded case, separators).
expect_json "$(json '{"INVOICENO":"536368","stock-code":"22633","Description":"D","QUANTITY":2,"Invoice Date":"2010-12-01 08:34:00","unit_price":1.85,"Customer_ID":13047,"country":"France"}')" \
    200 '.accepted == 1' "field names in other cases and separators"
stored=$((stored + 1))

# --- Encodings -------------------------------------------------------------------
# Raw bytes that are not UTF-8 inside a JSON string.
for b in '\xff' '\xc0\xaf' '\xed\xa0\x80' '\xe2\x82' '\xf5\x80\x80\x80'; do
    printf '{"InvoiceNo":"536365","StockCode":"85123A","Description":"A'"$b"'B","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"Country":"UK"}' > "$tmp/enc"
    # refused by the JSON parser (the body cannot be read past it) or by the
    # field's check (the record is invalid)
    expect_json "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: application/json' \
        --data-binary "@$tmp/enc")" 400 '(.error.code == "unreadable_body" and
        .error.line == 1 and (.error.errors[-1] | .fatal == true)) or
        (.error.code == "invalid_records" and .error.errors[0].field == "Description")' \
        "raw bytes $b in JSON"
done
printf '{"InvoiceNo":"536365","StockCode":"85123A","Description":"A\0B","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"Country":"UK"}' > "$tmp/enc"
expect_json "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: application/json' \
    --data-binary "@$tmp/enc")" 400 '.error.code == "unreadable_body" and .error.line == 1 and
    (.error.errors[-1] | .fatal == true)' "a raw NUL byte in a JSON string"
# Surrogate escapes: a pair is one character; an escape that is not half of
# a pair is refused, naming the escape and where it is (yajl alone stored
# "A\ud800B" as "A?B" and "\ud800\u0041" as U+10041).
for d in '"A\udc00B"' '"A\ud800B"' '"\ud800\ud800"' '"\ud800\u0041"' '"A\ud800"' '"\udc00\ud800"'; do
    bad Description "$d"
done
holds '.error.errors[0].reason | test("^lone surrogate escape \\\\udc00 at line 1, column [0-9]+$")' ||
    fail "a lone surrogate's reason: $(answer)"
good Description '"\ud83d\ude00\udbff\udfff"' '.description == "😀\udbff\udfff"' # pairs
good Description '"\\ud800"' '.description == "\\ud800"' # an escaped backslash, then text
# A UTF-8 byte-order mark before the JSON is skipped.
expect_json "$(json $'\xef\xbb\xbf'"$(rec event_id '"bom"')")" 200 '.accepted == 1' "JSON after a BOM"
stored=$((stored + 1))
# CSV text that is not UTF-8 is read as Latin-1 (the decoder's "auto" policy).
h='InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country'
expect_json "$(csv "$h"$'\n'"536369,21756,CAF"$'\xc9'",3,12/1/2010 8:35,5.95,13047,France"$'\n')" \
    200 '.accepted == 1' "Latin-1 in CSV"
stored=$((stored + 1))
"$shopflow" log dump --data "$data" > "$tmp/dump"
grep -q '"description":"CAFÉ"' "$tmp/dump" || fail "Latin-1 É not stored as UTF-8"
printf '%s\n536369,21756,A\0B,3,12/1/2010 8:35,5.95,13047,France\n' "$h" > "$tmp/nul.csv"
expect_invalid "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: text/csv' \
    --data-binary "@$tmp/nul.csv")" 0 Description "a NUL byte in a CSV cell"
holds '.error.errors[0].line == 2' || fail "NUL in CSV: line: $(answer)"

# --- Broken and odd bodies ---------------------------------------------------------
for ct in application/json application/x-ndjson text/csv; do
    expect_error "$(post_as "$INGEST" "$ct" "")" 400 empty_body "empty $ct body"
done
# A body that cannot be read to its end: unreadable_body, at its line, with
# the records read before it (docs/api.md).
for c in '0 {"InvoiceNo":' '1 [{}' '0 {"a":1,}' "0 {'InvoiceNo':'1'}" "1 $(rec) garbage" \
    '0 [' '0 ]' "1 $(rec),"; do
    body=${c#* }
    expect_unreadable "$(json "$body")" 1 "${c%% *}" "broken JSON ${body:0:30}"
done
# ([{} read its one record, invalid, before the end came too soon: both listed.)
expect_unreadable "$(json '[{}')" 1 1 "an unclosed array of an invalid record"
holds '.error.invalid == 1 and .error.errors[0].index == 0 and .error.errors[0].field == "InvoiceNo"' ||
    fail "[{}: the invalid record is not listed before the fatal error: $(answer)"
for body in null 42 '"text"' true "[[$(rec)]]"; do
    expect_error "$(json "$body")" 400 invalid_records "JSON $body instead of an object"
done
expect_unreadable "$(json "$(printf '%.0s[' $(seq 100000))")" 1 1 "100,000 nested arrays"
expect_unreadable "$(json "{\"x\":$(printf '%.0s{"a":' $(seq 50000))1")" 1 0 "50,000 nested objects"
expect_json "$(json "$(rec event_id '"c1"') $(rec event_id '"c2"')")" 200 '.accepted == 2' \
    "two objects one after another"
stored=$((stored + 2))
expect_json "$(json '[]')" 200 '.accepted == 0' "an empty array"
expect_json "$(ndjson $'\n'"$(rec event_id '"n1"')"$'\r\n\r\n'"$(rec event_id '"n2"')"$'\r\n')" \
    200 '.accepted == 2' "NDJSON with blank lines and CRLF"
stored=$((stored + 2))
expect_unreadable "$(ndjson "$(rec)"$'\n''{"InvoiceNo":"1","Stock'$'\n'"$(rec)")" 2 1 \
    "NDJSON broken line"
expect_unreadable "$(csv "$(rec)")" 1 0 "JSON sent as text/csv"
expect_unreadable "$(csv "536365,85123A,X,6,12/1/2010 8:26,2.55,17850,United Kingdom")" 1 0 \
    "CSV without a header"
holds '.error.errors[-1].reason | test("InvoiceNo")' || fail "column not named: $(answer)"
expect_unreadable "$(csv "${h%,Country}"$'\n'"536365,85123A,X,6,12/1/2010 8:26,2.55,17850")" 1 0 \
    "CSV header without Country"
holds '.error.errors[-1].reason | test("Country")' || fail "column not named: $(answer)"
expect_unreadable "$(csv "$h,Country"$'\n'"536365,85123A,X,6,12/1/2010 8:26,2.55,17850,UK,UK")" \
    1 0 "CSV header with Country twice"
holds '.error.errors[-1].reason | test("Country")' || fail "column not named: $(answer)"
expect_error "$(csv "$h"$'\n'"536365,85123A")" 400 invalid_records "a short CSV row"
expect_error "$(csv "$h"$'\n'"536365,85123A,X,6,12/1/2010 8:26,2.55,17850,UK,extra")" 400 \
    invalid_records "a long CSV row"
expect_error "$(csv "$h"$'\n''536365,85123A,"never closed,6,12/1/2010 8:26,2.55,17850,UK')" 400 \
    invalid_records "an unclosed quote in CSV"
head -c 3000 /dev/urandom > "$tmp/noise"
# (Random bytes: where the reading stops depends on them; that it stops does not.)
expect_unreadable "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: text/csv' \
    --data-binary "@$tmp/noise")" - 0 "random bytes as CSV"
expect_unreadable "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: application/json' \
    --data-binary "@$tmp/noise")" - - "random bytes as JSON"
expect_json "$(csv "$h"$'\r\n''536370,22727,"ALARM, ""RED""'$'\n''CLOCK ",24,12/1/2010 8:45,3.75,12583,France'$'\r\n')" \
    200 '.accepted == 1' "CSV with CRLF and a quoted comma, quote and line break"
stored=$((stored + 1))
"$shopflow" log dump --data "$data" > "$tmp/dump"
grep -qF '"description":"ALARM, \"RED\"\nCLOCK "' "$tmp/dump" ||
    fail "the quoted CSV cell was not stored as sent"
expect_json "$(csv "$h")" 200 '.accepted == 0' "a CSV header alone"

# --- Content-Type ------------------------------------------------------------------
for ct in text/plain application/xml application/jsonx 'multipart/form-data; boundary=x' \
    application/x-www-form-urlencoded application/octet-stream '*/*' 'json'; do
    expect_error "$(post_as "$INGEST" "$ct" "$(rec)")" 415 unsupported_media_type "Content-Type $ct"
done
expect_error "$(req "$INGEST" POST /v1/transactions --data-binary "$(rec)" -H 'Content-Type:')" \
    415 unsupported_media_type "no Content-Type"
for ct in 'APPLICATION/JSON' 'application/json; charset=utf-8' 'application/json;charset=UTF-8'; do
    expect_json "$(post_as "$INGEST" "$ct" "$(rec)")" 200 '.accepted == 1' "Content-Type $ct"
    stored=$((stored + 1))
done

# --- Many records, one bad: its index and line named, nothing stored ---------------
array="[$(rec event_id '"m0"'),$(rec event_id '"m1"'),$(rec event_id '"m2"'),
$(rec event_id '"m3"' Quantity '"eight"'),$(rec event_id '"m4"')]"
expect_invalid "$(json "$array")" 3 Quantity "record 3 of a JSON array"
holds '.error.invalid == 1 and .error.errors[0].line == 2' ||
    fail "record 3 of a JSON array: line: $(answer)"
lines=""
for i in 0 1 2 3 4; do
    if ((i == 3)); then
        lines+="$(rec event_id "\"m$i\"" InvoiceDate '"2010-02-30 08:26:00"')"$'\n'
    else
        lines+="$(rec event_id "\"m$i\"")"$'\n'
    fi
done
expect_invalid "$(ndjson "$lines")" 3 InvoiceDate "record 3 of NDJSON"
holds '.error.errors[0].line == 4' || fail "NDJSON line: $(answer)"
rows="$h"$'\n'
for i in 0 1 2 3 4; do
    rows+="536371,22086,ROW $i,80,12/1/2010 9:02,$([[ $i == 2 ]] && echo 2.5501 || echo 2.55),13748,United Kingdom"$'\n'
done
expect_invalid "$(csv "$rows")" 2 UnitPrice "row 2 of CSV"
holds '.error.errors[0].line == 4' || fail "CSV line: $(answer)"
# The ids of a refused request are not used up: the fixed request stores all five.
expect_json "$(json "${array/\"eight\"/8}")" 200 '.accepted == 5 and .duplicates == 0' \
    "the fixed request after a refused one"
stored=$((stored + 5))
# 150 bad records: each counted, the first 100 listed.
lines=""
good_line=$(rec event_id '"t-@N@"') bad_line=$(rec event_id '"t-@N@"' Quantity '"x"')
for i in $(seq 0 999); do
    if ((i % 7 == 0)); then lines+=${bad_line/@N@/$i}$'\n'; else lines+=${good_line/@N@/$i}$'\n'; fi
done
expect_json "$(ndjson "$lines")" 400 '.error.invalid == 143 and (.error.errors | length) == 100
    and .error.truncated == true and .error.errors[99].index == 693' "143 bad records in 1,000"
# One bad record at the end of 1,000 good ones.
expect_invalid "$(ndjson "${lines//Quantity\":\"x\"/Quantity\":6}$(rec UnitPrice '"£2"')")" \
    1000 UnitPrice "the last of 1,001 records"

# --- All or nothing ------------------------------------------------------------------
got=$(records "$data")
CASES=$((CASES + 1))
[[ $got -eq $stored ]] || fail "the log holds $got records; the requests answered 200 sent $stored"
"$shopflow" log dump --data "$data" > "$tmp/dump"
CASES=$((CASES + 1))
iconv -f UTF-8 -t UTF-8 "$tmp/dump" > /dev/null || fail "the log holds text that is not UTF-8"
stop_server

# --- The same decoder for files: check and import --------------------------------
{
    rec event_id '"f-1"'
    echo
    rec event_id '"f-2"' Description '"A\ud800B"'
    echo
} > "$tmp/lone.ndjson"
CASES=$((CASES + 1))
if "$shopflow" check "$tmp/lone.ndjson" > /dev/null 2> "$tmp/check.err"; then
    fail "check passed a lone surrogate escape"
fi
grep -q 'lone.ndjson:2: Description: lone surrogate escape \\ud800 at line 2, column ' \
    "$tmp/check.err" || fail "check: $(cat "$tmp/check.err")"
CASES=$((CASES + 1))
if "$shopflow" import "$tmp/lone.ndjson" --data "$data" > /dev/null 2>&1; then
    fail "import took a lone surrogate escape"
fi
[[ $(records "$data") -eq $stored ]] || fail "import of a refused file stored records"
hostile_done inputs
