#!/usr/bin/env bash
# Path traversal and odd URLs against the API and the dashboard's routes:
# ../ raw and encoded, //, NUL (%00), bad escapes, over-long segments, odd
# invoice numbers, duplicated and huge query parameters, odd methods and
# request lines. Never a file from outside the embedded set (canary files
# planted around the data folder, /etc/passwd), never a 500, never a
# dropped connection; every shopflow error in the JSON error shape. The
# answers libmicrohttpd makes itself (400 for a broken request line, 414,
# 431, 505) are HTML today: their JSON is the HTTP doors' test, not here.
#   usage: urls.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
make_keys "$data"
canary="canary-$RANDOM$RANDOM"
mkdir -p "$data"
for f in "$tmp/canary" "$data/canary" "$data/assets.canary"; do echo "$canary" > "$f"; done
start_server "$data"
expect_json "$(post_as "$INGEST" application/json "$(rec)")" 200 '.accepted == 1' "setup"
wait_caught_up 120 --data "$data"

# never_leaks WHAT: the last answer holds no planted or system file.
never_leaks() {
    CASES=$((CASES + 1))
    ! grep -aq -e "$canary" -e 'root:x:0:0' -e "$(head -c 64 "$data/token.secret")" \
        "$tmp/resp" "$tmp/head" || fail "$1: the answer holds a file's content: $(answer)"
}
# odd CREDENTIAL PATH WANT...: GET PATH is answered with one of the WANT
# statuses, in the JSON error shape when it is an error, and leaks nothing.
odd() {
    local cred=$1 path=$2 code
    shift 2
    code=$(req "$cred" GET "$path")
    CASES=$((CASES + 1))
    [[ " $* " == *" $code "* ]] || fail "GET ${path:0:80}: got $code, expected one of $*: $(answer)"
    if ((code >= 400 && code != 414 && code != 431)); then
        is_error_shape || fail "GET ${path:0:80}: $code not in the JSON error shape: $(answer)"
    fi
    never_leaks "GET ${path:0:80}"
}
long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }

# --- Traversal, raw and encoded, on every kind of route -----------------------------
for prefix in "" /assets /v1/invoices /v1/customers/17850/invoices /v1/bi /v1 /healthz /metrics; do
    for t in ../canary ../../canary ../../../../../../etc/passwd %2e%2e/canary \
        %2e%2e%2fcanary ..%2f..%2fcanary %2E%2E/%2E%2E/etc/passwd ....//....//etc/passwd \
        ..%5c..%5ccanary %252e%252e/canary .%00./canary ..%c0%afcanary "$data/canary" \
        "/$tmp/canary" data/canary assets.canary; do
        odd "" "$prefix/$t" 404 401
        odd "$ANALYST" "$prefix/$t" 404 400
    done
done
# --- Slashes, dots, NUL, escapes ----------------------------------------------------
for p in //healthz ///v1/invoices/536365 /v1//invoices/536365 /v1/invoices//536365 /./healthz \
    /healthz/. /healthz/ /v1/invoices/536365/ /v1/invoices/536365/.. /v1/invoices/. \
    /v1/invoices/.. /v1/invoices/%2e /v1/invoices/53%2F6365 '/v1/invoices/%' '/v1/invoices/%zz' \
    '/v1/invoices/%ff%fe' '/v1/invoices/%00' '/v1/bi/%00sales' '/v1/customers/%00/invoices' \
    '/assets/%00' /V1/INVOICES/536365 /HEALTHZ /v1/invoices \
    /v1/invoices/ /v1/customers//invoices /v1/customers/17850 /v1/customers/17850/ \
    /v1/customers/17850/invoices/ /v1/bi /v1/bi/ /v1/bi/sales/ /v1/bi/sales/x; do
    odd "$ANALYST" "$p" 404 400
done
# A NUL ends the path (libmicrohttpd decodes %00 into the C string): the
# part before it is what is served. Never a 500, never a file.
odd "" '/healthz%00junk' 200 404
odd "" '/%00' 200 404                # the dashboard's index, when built in
odd "" '/index.html%00.js' 200 404
odd "" '/index.html?../../canary' 200 404
odd "" "/?x=$(head -c 5000 /dev/zero | tr '\0' a)&x=../canary" 200 404
odd "$ANALYST" '/v1/invoices/536365%00x' 200 404
# --- Odd invoice numbers and customer ids -------------------------------------------
for no in "$(long 16)" "$(long 39)" "$(long 40)" "$(long 5000)" '%3Cscript%3E' "a'b\"c" \
    '%20' '536365%20' 'C536365' '-1' '536365;DROP' '%E2%80%AE' '%F0%9F%98%80' "$(long 300 '%')"; do
    odd "$ANALYST" "/v1/invoices/$no" 404 400
    odd "$TOKEN" "/v1/invoices/$no" 403 404 400
    odd "$ANALYST" "/v1/customers/17850/invoices/$no" 404 400
done
for id in 0 -1 00000017850 4294967296 99999999999999999999 1e4 0x45BA 17850.0 '%2017850' \
    '%2B17850' abc "$(long 2000 9)"; do
    odd "$ANALYST" "/v1/customers/$id/invoices" 404 400
done
odd "$ANALYST" /v1/customers/017850/invoices 200 404
# --- Query strings: duplicated, empty, huge, encoded ---------------------------------
for q in 'limit=1&limit=2000' 'limit=2000&limit=1' 'limit' 'limit=' '=1' '&&&' 'limit=1%00' \
    'li%6Dit=1' 'limit=%31' 'limit=-1' 'limit=1e3' 'limit=99999999999999999999' \
    "limit=$(long 6000 9)" "from=$(long 6000)" "cursor=$(long 6000)" 'cursor=' 'cursor=%00' \
    "cursor=$(long 64 f)" 'from=2011-02-30' 'to=9999-99-99' "$(for i in $(seq 90); do
        printf 'a%d=1&' "$i"; done)"; do
    odd "$ANALYST" "/v1/customers/17850/invoices?$q" 200 400 404
done
for q in 'granularity=month&granularity=week' 'granularity=' "granularity=$(long 6000)" \
    'from=2011&from=x' 'from=0000' 'from=9999-12-31%2023' 'limit=0' 'limit=1001' \
    "at=$(long 3000)" 'by=units&by=revenue' 'include_non_products=maybe' '%ff=%fe'; do
    odd "$ANALYST" "/v1/bi/sales?$q" 200 400
    odd "$ANALYST" "/v1/bi/top-products?$q" 200 400
done
# 200 parameters in a 1.3 KB query string: served (they once ran
# libmicrohttpd's request pool out, and the connection closed unanswered).
q=$(for i in $(seq 200); do printf 'a%d=1&' "$i"; done)
odd "" "/healthz?$q" 200
odd "$ANALYST" "/v1/customers/17850/invoices?$q" 200 400
odd "" "/healthz?$(long 6000)" 200
odd "" "/metrics?x=%00&x=$(long 5000)" 200
# A URL longer than the request buffer: refused (414 or 431), never served.
odd "$ANALYST" "/v1/invoices/$(long 20000)" 414 431 404
# --- The dashboard's routes ------------------------------------------------------
if [[ $(req "" GET /) == 200 ]]; then # a binary with its dashboard
    grep -o '/assets/[^"]*' "$tmp/resp" | sort -u > "$tmp/assets"
    [[ -s "$tmp/assets" ]] || fail "index.html names no asset"
    while read -r a; do
        odd "" "$a" 200
        for v in "/assets/x/..${a#/assets}" "/assets/.${a#/assets}" "/assets/${a#/assets/}/" \
            "/assets/%2e${a#/assets}" "/assets//${a#/assets/}" "$a/../../canary"; do
            odd "" "$v" 404
        done
    done < "$tmp/assets"
else
    odd "" / 404
    holds '.error.message | test("DASHBOARD")' || fail "/ does not say why"
fi
for p in /index.html/ /index.htm /INDEX.HTML /assets /assets/ /assets/index.html \
    /assets/../index.html /assets/%2e%2e/index.html /assets/app.js /assets/.. /assets/%00; do
    odd "" "$p" 404
done
# --- Methods and request lines ---------------------------------------------------
# A 405 is in the error shape on every kind of route, and the ingest
# route's says Allow: POST.
for p in /healthz /metrics /v1/invoices/536365 /v1/bi/sales /; do
    expect_error "$(req "$ANALYST" DELETE "$p")" 405 method_not_allowed "DELETE $p"
done
expect_error "$(req "$INGEST" GET /v1/transactions)" 405 method_not_allowed "GET ingest"
grep -qi '^allow: POST' "$tmp/head" || fail "GET /v1/transactions: 405 without Allow: POST"
for m in PUT PATCH OPTIONS TRACE FOO; do
    for p in /healthz /v1/invoices/536365 /v1/bi/sales /v1/transactions /assets/x; do
        code=$(req "$ADMIN" "$m" "$p")
        CASES=$((CASES + 1))
        [[ $code == 405 ]] || fail "$m $p: $code, expected 405: $(answer)"
        never_leaks "$m $p"
    done
done
expect "$(req "" HEAD /healthz)" 200 "HEAD /healthz"
expect "$(req "$ANALYST" HEAD /v1/invoices/536365)" 200 "HEAD an invoice"
line() { # line REQUEST_LINE WANT...: sent raw, answered with one of WANT
    local r=$1 code
    shift
    printf '%s\r\nHost: x\r\nConnection: close\r\n\r\n' "$r" > "$tmp/rawreq"
    code=$(raw_http "$tmp/rawreq")
    CASES=$((CASES + 1))
    [[ " $* " == *" $code "* ]] || fail "'$r': got '$code', expected one of $*: $(head -c 300 "$tmp/raw")"
    never_leaks "'$r'"
}
line 'GET /healthz HTTP/1.0' 200
line 'GET http://127.0.0.1/healthz HTTP/1.1' 200 404
line 'GET * HTTP/1.1' 404 400
line 'GET healthz HTTP/1.1' 404 400
line 'GET /healthz#frag HTTP/1.1' 200 404
line 'GET /../../../etc/passwd HTTP/1.1' 404
line 'GET /assets/../../../../etc/passwd HTTP/1.1' 404
line 'GET /assets/..\..\..\etc\passwd HTTP/1.1' 404
line 'CONNECT 127.0.0.1:22 HTTP/1.1' 404 405 400
line 'get /healthz HTTP/1.1' 405 400
line 'GET /healthz HTTP/2.0' 505 400
line 'GET /healthz' 400
line 'GET  /healthz  HTTP/1.1' 200 400 404
line "GET /$(printf 'a\tb') HTTP/1.1" 404 400
# --- And the server is still whole ---------------------------------------------------
expect "$(req "" GET /healthz)" 200 "healthz after all that"
expect_json "$(req "$ANALYST" GET /v1/invoices/536365)" 200 '.line_count == 1' "the invoice after"
CASES=$((CASES + 1))
! grep -q 'code="500"' <(curl -s "http://127.0.0.1:$PORT/metrics") || fail "a 500 was counted"
stop_server
hostile_done urls
