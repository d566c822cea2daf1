#!/usr/bin/env bash
# Limits: a body at --max-body is taken and one byte more is a 413 (sent
# whole, chunked, announced with Expect: 100-continue, or announced far
# larger than it is), nothing of it stored; tens of thousands of records in
# one request are taken whole or refused whole; 100 header fields taken and
# 101 refused (JSON 431), a long header taken; many connections at once stay
# bounded by --max-connections, and the server serves again once they go; 48
# clients posting at once all get their records stored once.
#   usage: limits.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
make_keys "$data"
start_server "$data" --sinks none --max-body 64K --max-connections 40
stored=0

# ndjson_of_size BYTES FILE: valid NDJSON of exactly BYTES bytes (records
# with event ids, the last line padded with spaces).
ndjson_of_size() {
    local i=0
    : > "$2"
    while (($(stat -c %s "$2") + 400 < $1)); do
        rec event_id "\"size-$1-$i\"" >> "$2"
        echo >> "$2"
        i=$((i + 1))
    done
    rec event_id "\"size-$1-$i\"" >> "$2"
    head -c $(($1 - $(stat -c %s "$2"))) /dev/zero | tr '\0' ' ' >> "$2"
    echo $((i + 1))
}
ndjson_req() { # ndjson_req FILE [CURL_ARGS...] -> the status of posting FILE
    local f=$1
    shift
    req "$INGEST" POST /v1/transactions -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$f" "$@"
}

# --- Bodies at and over --max-body (64 KiB) ------------------------------------------
n=$(ndjson_of_size 65536 "$tmp/at")
expect_json "$(ndjson_req "$tmp/at")" 200 ".accepted == $n" "a body of exactly --max-body"
stored=$((stored + n))
n=$(ndjson_of_size 65537 "$tmp/over")
expect_error "$(ndjson_req "$tmp/over")" 413 payload_too_large "one byte over --max-body"
expect_error "$(ndjson_req "$tmp/over" -H 'Transfer-Encoding: chunked')" 413 payload_too_large \
    "one byte over, chunked"
n=$(ndjson_of_size 60000 "$tmp/under")
expect_json "$(ndjson_req "$tmp/under" -H 'Transfer-Encoding: chunked')" 200 ".accepted == $n" \
    "a chunked body under --max-body"
stored=$((stored + n))
head -c 10000000 /dev/zero | tr '\0' ' ' > "$tmp/big"
expect_error "$(ndjson_req "$tmp/big")" 413 payload_too_large "10 MB over a 64 KiB limit"
expect_error "$(ndjson_req "$tmp/big" -H 'Transfer-Encoding: chunked')" 413 payload_too_large \
    "10 MB chunked"
# With Expect: 100-continue the answer comes before the body is sent.
code=$(curl -s -o "$tmp/resp" -D "$tmp/head" -w '%{http_code} %{size_upload}' -X POST \
    -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/x-ndjson' \
    -H 'Expect: 100-continue' --expect100-timeout 30 --data-binary "@$tmp/big" \
    "http://127.0.0.1:$PORT/v1/transactions")
expect_error "${code% *}" 413 payload_too_large "Expect: 100-continue over the limit"
expect "${code#* }" 0 "bytes of the body sent after a 413 to Expect: 100-continue"
# A body announced far larger than it is (100 GB): answered at once, the
# connection closed; a negative or unreadable length is a 400.
for cl in 100000000000 99999999999999999999999; do
    printf 'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
        "$INGEST" "$cl" "$(rec)" > "$tmp/rawreq"
    code=$(raw_http "$tmp/rawreq")
    CASES=$((CASES + 1))
    [[ $code == 413 || $code == 400 ]] || fail "Content-Length $cl: '$code': $(head -c 300 "$tmp/raw")"
done
for cl in -1 abc '1 2' 0x10; do
    printf 'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
        "$INGEST" "$cl" "$(rec)" > "$tmp/rawreq"
    code=$(raw_http "$tmp/rawreq")
    CASES=$((CASES + 1))
    [[ $code == 400 ]] || fail "Content-Length $cl: '$code': $(head -c 300 "$tmp/raw")"
done
CASES=$((CASES + 1))
[[ $(records "$data") -eq $stored ]] || fail "refused bodies stored something: $(records "$data") records"

# --- Headers: many, and long ------------------------------------------------------
h=()
for i in $(seq 40); do h+=(-H "X-Padding-$i: $i"); done
expect "$(req "" GET /healthz "${h[@]}")" 200 "40 headers"
# At most 100 header fields are served (docs/api.md, like Apache's
# LimitRequestFields), counted exactly: sent raw, Host and Connection
# included (curl would add its own).
fields() { # fields N FILE: a GET /healthz with N header fields in all
    local i
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' > "$2"
    for ((i = 3; i <= $1; i++)); do printf 'X-Padding-%d: %d\r\n' "$i" "$i" >> "$2"; done
    printf '\r\n' >> "$2"
}
fields 100 "$tmp/fields"
expect "$(raw_http "$tmp/fields")" 200 "100 header fields"
fields 101 "$tmp/fields"
expect_error "$(raw_http "$tmp/fields")" 431 header_fields_too_large "101 header fields"
holds '.error.message | test("101 header fields")' || fail "101 header fields: $(answer)"
expect "$(req "" GET /healthz -H "X-Long: $(head -c 6000 /dev/zero | tr '\0' x)")" 200 \
    "a 6,000-byte header"
expect "$(ndjson_req "$tmp/under" -H "X-Long: $(head -c 6000 /dev/zero | tr '\0' x)")" 200 \
    "a POST with a 6,000-byte header" # duplicates now: stored once above

# --- Connections: bounded, and served again once they go ------------------------------
fds=()
for i in $(seq 120); do
    if exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"; then fds+=("$fd"); fi
done
sleep 0.5
sockets=$(find "/proc/$SERVER_PID/fd" -lname 'socket:*' | wc -l)
CASES=$((CASES + 1))
((sockets <= 40 + 8)) || fail "120 connections at --max-connections 40: the server holds $sockets sockets"
for fd in "${fds[@]}"; do exec {fd}>&-; done
ok=0
for _ in $(seq 100); do # within 10 s the server answers again
    [[ $(req "" GET /healthz) == 200 ]] && ok=1 && break
    sleep 0.1
done
expect $ok 1 "healthz once the 120 connections closed"

# --- A second server: many records per request, many clients -----------------------
stop_server
start_server "$data" --sinks none
# 30,000 records (4.5 MB) in one request, and the same with a bad last one.
seq 0 29999 | awk -v t="$(rec event_id '"many-@N@"')" '{ s = t; sub(/@N@/, $0, s); print s }' \
    > "$tmp/many"
cp "$tmp/many" "$tmp/many-bad"
rec event_id '"many-last"' Quantity 1.5 >> "$tmp/many-bad"
expect_invalid "$(ndjson_req "$tmp/many-bad")" 30000 Quantity "30,001 records, the last bad"
CASES=$((CASES + 1))
[[ $(records "$data") -eq $stored ]] || fail "a refused request of 30,001 records stored some"
expect_json "$(ndjson_req "$tmp/many")" 200 '.accepted == 30000' "30,000 records in one request"
stored=$((stored + 30000))
expect_json "$(ndjson_req "$tmp/many")" 200 '.accepted == 0 and .duplicates == 30000' \
    "the same 30,000 again"
# 48 clients at once, each 20 requests of 10 records with event ids.
line=$(rec event_id '"@N@"' InvoiceNo '"@I@"')
client() {
    local c=$1 b i code l
    for b in $(seq 20); do
        for i in $(seq 10); do
            l=${line/@N@/c$c-$b-$i}
            echo "${l/@I@/$((700000 + c))}"
        done > "$tmp/client.$c"
        for _ in $(seq 50); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -m 30 -X POST \
                -H "Authorization: Bearer $INGEST" -H 'Content-Type: application/x-ndjson' \
                --data-binary "@$tmp/client.$c" "http://127.0.0.1:$PORT/v1/transactions" || true)
            [[ $code == 429 || $code == 503 || $code == 000 ]] || break
            sleep 0.1
        done
        [[ $code == 200 ]] || { echo "client $c batch $b: $code"; return 1; }
    done
}
pids=()
for c in $(seq 48); do
    client "$c" > "$tmp/client.$c.out" 2>&1 &
    pids+=($!)
done
for c in "${!pids[@]}"; do
    CASES=$((CASES + 1))
    wait "${pids[$c]}" || fail "client $((c + 1)): $(cat "$tmp/client.$((c + 1)).out")"
done
stored=$((stored + 48 * 20 * 10))
CASES=$((CASES + 1))
[[ $(records "$data") -eq $stored ]] || fail "the log holds $(records "$data"), expected $stored"
"$shopflow" log dump --data "$data" | jq -r .event_id | sort | uniq -d > "$tmp/dups"
CASES=$((CASES + 1))
[[ ! -s "$tmp/dups" ]] || fail "event ids stored twice: $(head -3 "$tmp/dups")"
stop_server
hostile_done limits
