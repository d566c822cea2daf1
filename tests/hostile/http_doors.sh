#!/usr/bin/env bash
# The gateway's HTTP doors (issue 15, items 4 and 7): how a body is framed
# (Content-Length twice, with Transfer-Encoding, a transfer coding but
# chunked), how it is encoded (gzip inflated and bounded, a zip bomb, other
# codings), the head's limits, the HTTP version, and that every answer the
# gateway makes is JSON in the error shape of docs/api.md, with no server
# path in it. Raw requests go through python3 sockets where curl cannot
# make them. The answers libmicrohttpd makes itself (docs/api.md lists
# them) are checked for their status only.
#   usage: http_doors.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
mnt=
trap 'kill $SERVER_PID 2>/dev/null || true; wait $SERVER_PID 2>/dev/null || true
      [[ -z $mnt ]] || umount "$mnt" 2>/dev/null || true; rm -rf "$tmp"' EXIT
data="$tmp/data"
key=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
start_server "$data" --sinks none
base="http://127.0.0.1:$PORT"
cases=0

# raw: send standard input as one request, read until the server closes;
# the answer in $tmp/raw, its body in $tmp/resp; prints the status.
raw() {
    python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.stdin.buffer.read())
out = b""
try:
    while (b := s.recv(65536)):
        out += b
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.buffer.write(out)' "$PORT" > "$tmp/raw"
    python3 -c '
import sys
head, _, body = open(sys.argv[1], "rb").read().partition(b"\r\n\r\n")
open(sys.argv[2], "wb").write(body)
print(head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "none")' "$tmp/raw" "$tmp/resp"
}

# json FILTER FILE: FILE holds one JSON value for which FILTER is true (jq -e
# alone passes an empty file).
json() {
    jq -e -s "length == 1 and (.[0] | $1)" "$2" >/dev/null 2>&1
}

# expect_json STATUS CODE WHAT: the last answer had STATUS and a JSON error
# body with that code (and its Content-Type said JSON).
expect_json() {
    local got=$1 want=$2 code=$3 what=$4
    cases=$((cases + 1))
    [[ $got == "$want" ]] || fail "$what: status $got, expected $want; answer: $(head -c 600 "$tmp/raw" 2>/dev/null || cat "$tmp/resp")"
    json ".error.code == \"$code\" and (.error.message | type == \"string\")" "$tmp/resp" || fail "$what: not a JSON error $code: $(head -c 400 "$tmp/resp")"
}

# head_ok: the raw answer's Content-Type is JSON.
json_type() {
    grep -qi '^content-type: application/json' "$tmp/raw" || fail "$1: no JSON Content-Type: $(head -c 400 "$tmp/raw")"
}

post_head() { # extra header lines (CRLF-terminated) -> a POST head with the key
    printf 'POST /v1/transactions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n%b\r\n' "$key" "$1"
}

one='{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850,"Country":"United Kingdom"}'
printf '%s' "$one" > "$tmp/one.json"
n=${#one}

# --- framing -----------------------------------------------------------------
# Two different Content-Length: libmicrohttpd read the first; a body holding a
# second request then got a second answer (request smuggling behind a proxy
# that frames by the last). Now one 400 and the connection closes.
smuggled=$'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
{ post_head "Content-Length: $n\r\nContent-Length: $((n + ${#smuggled}))\r\n"; printf '%s%s' "$one" "$smuggled"; } |
    raw > "$tmp/status"
expect_json "$(cat "$tmp/status")" 400 bad_framing "two Content-Length"
json_type "two Content-Length"
[[ $(grep -c '^HTTP/1.1 ' "$tmp/raw") -eq 1 ]] || fail "two Content-Length: more than one answer: $(cat "$tmp/raw")"
# The same value twice: refused too (RFC 9110 allows either; docs/api.md says why).
{ post_head "Content-Length: $n\r\nContent-Length: $n\r\n"; printf '%s' "$one"; } | raw > "$tmp/status"
expect_json "$(cat "$tmp/status")" 400 bad_framing "the same Content-Length twice"
{ post_head "Content-Length: $n\r\nTransfer-Encoding: chunked\r\n"; printf '%x\r\n%s\r\n0\r\n\r\n' "$n" "$one"; } |
    raw > "$tmp/status"
expect_json "$(cat "$tmp/status")" 400 bad_framing "Content-Length with Transfer-Encoding"
# A transfer coding other than chunked: no answer at all before; now 501.
{ post_head "Transfer-Encoding: gzip, chunked\r\n"; printf '5\r\nhello\r\n0\r\n\r\n'; } | raw > "$tmp/status"
expect_json "$(cat "$tmp/status")" 501 not_implemented "Transfer-Encoding: gzip, chunked"
{ printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n'; } | raw > "$tmp/status"
expect_json "$(cat "$tmp/status")" 501 not_implemented "GET with Transfer-Encoding: identity"
# Chunked alone is fine, and so is a chunked gzip body.
{ post_head "Transfer-Encoding: chunked\r\n"; printf '%x\r\n%s\r\n0\r\n\r\n' "$n" "$one"; } | raw > "$tmp/status"
[[ $(cat "$tmp/status") == 200 ]] || fail "chunked body: $(cat "$tmp/raw")"
cases=$((cases + 1))

# --- Content-Encoding ----------------------------------------------------------
code() { curl -s -o "$tmp/resp" -D "$tmp/raw" -w '%{http_code}' "$@"; }
ingest() { # [CONTENT_TYPE=application/x-ndjson] curl arguments...
    local ct=application/x-ndjson
    [[ $1 == */* ]] && { ct=$1; shift; }
    code -X POST "$base/v1/transactions" -H "Authorization: Bearer $key" -H "Content-Type: $ct" "$@"
}
# gzip: inflated; two members one after another are one body.
{ printf '%s\n' "${one/536365/G1}" | gzip; printf '%s\n' "${one/536365/G2}" | gzip; } > "$tmp/two.gz"
[[ $(ingest -H 'Content-Encoding: gzip' --data-binary "@$tmp/two.gz") == 200 ]] ||
    fail "gzip body: $(cat "$tmp/resp")"
json '.accepted == 2' "$tmp/resp" || fail "gzip body: $(cat "$tmp/resp")"
cases=$((cases + 1))
[[ $(ingest -H 'Content-Encoding: identity' --data-binary "@$tmp/one.json") == 200 ]] ||
    fail "Content-Encoding: identity: $(cat "$tmp/resp")"
cases=$((cases + 1))
# A zip bomb: 3 MB of gzip (under max-body as sent) that would inflate to 3 GB.
python3 -c '
import gzip, sys
m = gzip.compress(b"\n" * (8 << 20), 9)
sys.stdout.buffer.write(m * ((3 << 20) // len(m)))' > "$tmp/bomb.gz"
expect_json "$(ingest -H 'Content-Encoding: gzip' --data-binary "@$tmp/bomb.gz")" 413 payload_too_large "zip bomb"
grep -q 'once inflated' "$tmp/resp" || fail "zip bomb: $(cat "$tmp/resp")"
printf 'not gzip at all' > "$tmp/notgz"
expect_json "$(ingest -H 'Content-Encoding: gzip' --data-binary "@$tmp/notgz")" 400 invalid_encoding "a body that is not gzip"
head -c 40 "$tmp/two.gz" > "$tmp/cut.gz"
expect_json "$(ingest -H 'Content-Encoding: gzip' --data-binary "@$tmp/cut.gz")" 400 invalid_encoding "a gzip body cut short"
for enc in br deflate 'gzip, gzip' compress; do
    expect_json "$(ingest -H "Content-Encoding: $enc" --data-binary "@$tmp/one.json")" 415 \
        unsupported_content_encoding "Content-Encoding: $enc"
    grep -qi '^accept-encoding: gzip' "$tmp/raw" || fail "415 for $enc without Accept-Encoding"
done
records=$("$shopflow" log stat --data "$data" --json | jq .records)
[[ $records -eq 4 ]] || fail "the log holds $records records, 4 were accepted"

# --- the head ------------------------------------------------------------------
long() { head -c "$1" /dev/zero | tr '\0' a; }
# Up to 8 KiB of URL, 100 fields and 9 KiB of head are served (a URL of
# 8,000 bytes or 150 short fields got libmicrohttpd's HTML 431 before);
# above, JSON 414/431 as far as the connection's memory holds the head.
[[ $(code "$base/healthz?q=$(long 8000)") == 200 ]] || fail "an 8,000-byte URL: $(cat "$tmp/resp")"
cases=$((cases + 1))
expect_json "$(code "$base/healthz?q=$(long 9000)")" 414 uri_too_long "a 9,000-byte URL"
expect_json "$(code "$base/v1/invoices/$(long 12000)")" 414 uri_too_long "a 12,000-byte path"
hdrs=()
for i in $(seq 95); do hdrs+=(-H "X-Many-$i: v"); done # and curl's Host, User-Agent, Accept
[[ $(code "${hdrs[@]}" "$base/healthz") == 200 ]] || fail "98 header fields: $(cat "$tmp/resp")"
cases=$((cases + 1))
for i in $(seq 96 150); do hdrs+=(-H "X-Many-$i: v"); done
expect_json "$(code "${hdrs[@]}" "$base/healthz")" 431 header_fields_too_large "150 header fields"
[[ $(code -H "X-Big: $(long 9000)" "$base/healthz") == 200 ]] || fail "a 9,000-byte header: $(cat "$tmp/resp")"
cases=$((cases + 1))
expect_json "$(code -H "X-Big: $(long 11000)" "$base/healthz")" 431 header_fields_too_large "an 11,000-byte header"
# HTTP/1.2 is served as 1.1 (RFC 9112, 2.3).
printf 'GET /healthz HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n' | raw > "$tmp/status"
[[ $(cat "$tmp/status") == 200 ]] && json '.status == "ok"' "$tmp/resp" ||
    fail "HTTP/1.2: $(cat "$tmp/raw")"
cases=$((cases + 1))
# The answers libmicrohttpd makes before the gateway sees the request (its
# HTML bodies; docs/api.md, "Answers libmicrohttpd makes itself").
for line in 'GET /healthz HTTP/2.0:505' 'GET /healthz HTTP/0.9:505' 'GET /healthz HTTX/1.1:400'; do
    printf '%s\r\nHost: x\r\n\r\n' "${line%:*}" | raw > "$tmp/status"
    [[ $(cat "$tmp/status") == "${line##*:}" ]] || fail "'${line%:*}': $(cat "$tmp/raw")"
    cases=$((cases + 1))
done
printf 'GET /healthz?q=%s HTTP/1.1\r\nHost: x\r\n\r\n' "$(long 30000)" | raw > "$tmp/status"
[[ $(cat "$tmp/status") == 414 ]] || fail "a 30,000-byte URL: $(cat "$tmp/raw")"
cases=$((cases + 1))

# --- every answer JSON -----------------------------------------------------------
expect_json "$(code -X DELETE "$base/healthz")" 405 method_not_allowed "DELETE /healthz"
grep -qi '^allow: GET, HEAD' "$tmp/raw" || fail "405 without Allow"
expect_json "$(code -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    --data-binary "@$tmp/one.json" "$base/v1/transactions")" 405 method_not_allowed "PUT ingest"
grep -qi '^allow: POST' "$tmp/raw" || fail "405 of ingest without Allow: $(cat "$tmp/raw")"

# --- a body that cannot be read (item 7) ------------------------------------------
printf '{"InvoiceNo":' > "$tmp/broken.json"
expect_json "$(ingest application/json --data-binary "@$tmp/broken.json")" 400 \
    unreadable_body "a body with no readable record"
json '.error.line == 1 and .error.records_before == 0 and (.error.errors[0] | has("index") | not)
       and (.error.message | test("could not be read as JSON at line 1"))' "$tmp/resp" ||
    fail "unreadable body: $(cat "$tmp/resp")"
printf '%s\n%s\n{"InvoiceNo": oops\n' "$one" "$one" > "$tmp/late.json"
expect_json "$(ingest --data-binary "@$tmp/late.json")" 400 unreadable_body "NDJSON broken on line 3"
json '.error.line == 3 and .error.records_before == 2' "$tmp/resp" ||
    fail "broken on line 3: $(cat "$tmp/resp")"
printf 'a,b\n1,2\n' > "$tmp/nohead.csv"
expect_json "$(ingest text/csv --data-binary "@$tmp/nohead.csv")" 400 unreadable_body "CSV without its header"
grep -q 'as CSV at line 1' "$tmp/resp" || fail "CSV without its header: $(cat "$tmp/resp")"
# ...while a body read whole with a bad record still names the record.
printf '%s\n%s\n' "$one" "${one/\"Quantity\":6/\"Quantity\":\"six\"}" > "$tmp/bad.json"
expect_json "$(ingest --data-binary "@$tmp/bad.json")" 400 invalid_records "one invalid record"
json '.error.errors[0].index == 1 and .error.errors[0].field == "Quantity"' "$tmp/resp" ||
    fail "invalid record: $(cat "$tmp/resp")"
stop_server

# --- no server path in any answer (item 7) ------------------------------------------
# 429: the log's write queue is full (every append waits 400 ms here).
start_server "$data" --sinks none --max-queue 1 --commit-delay 400ms
base="http://127.0.0.1:$PORT"
pids=()
for i in 1 2 3 4; do
    curl -s -o "$tmp/busy$i" -w '%{http_code}\n' -X POST "$base/v1/transactions" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' --data-binary "@$tmp/one.json" > "$tmp/busy$i.code" &
    pids+=($!)
done
wait "${pids[@]}"
grep -l '^429$' "$tmp"/busy?.code > "$tmp/busy.list" || fail "no 429 from a full write queue: $(cat "$tmp"/busy?.code)"
while read -r f; do
    cp "${f%.code}" "$tmp/resp"
    expect_json 429 429 overloaded "a full write queue"
    grep -q "$tmp" "$tmp/resp" && fail "429 names a server path: $(cat "$tmp/resp")"
done < "$tmp/busy.list"
grep -q "event=http_internal_error status=429" "$data.server.log" || fail "the 429's cause is not in the log"
stop_server

# 503: the log's disk is full (a 1 MiB tmpfs; needs root to mount).
if [[ $(id -u) -eq 0 ]] && mkdir -p "$tmp/mnt" && mount -t tmpfs -o size=1m tmpfs "$tmp/mnt" 2>/dev/null; then
    mnt="$tmp/mnt"
    full="$mnt/data"
    key=$("$shopflow" keys create --data "$full" --role ingest | tail -1)
    start_server "$full" --sinks none
    base="http://127.0.0.1:$PORT"
    for i in $(seq 100); do printf '%s\n' "${one/536365/F$i}"; done > "$tmp/hundred.json"
    status=
    for b in $(seq 300); do
        sed "s/\"F/\"B$b-/" "$tmp/hundred.json" > "$tmp/batch.json"
        status=$(ingest --data-binary "@$tmp/batch.json")
        [[ $status == 200 ]] || break
    done
    expect_json "$status" 503 unavailable "a full disk"
    grep -q -e "$mnt" -e '/' <(jq -r .error.message "$tmp/resp") && fail "503 names a server path: $(cat "$tmp/resp")"
    grep -qi 'no space left' "$tmp/resp" || fail "503 does not say why: $(cat "$tmp/resp")"
    grep -q 'event=log_append_failed' "$full.server.log" || fail "the 503's cause is not in the log"
    stop_server
else
    echo "skipped the full-disk case: mounting a tmpfs needs root"
fi
echo "http_doors: ok, $cases cases"
