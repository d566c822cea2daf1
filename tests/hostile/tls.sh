#!/usr/bin/env bash
# HTTPS end to end (issue 15, "TLS"). A CA and server certificates for
# 127.0.0.1/localhost are made with the openssl command line; then:
#  - serve refuses to start on a missing, non-PEM or mismatched certificate
#    or key (naming the file), and on only one of the two;
#  - serve --tls-cert/--tls-key (given as SHOPFLOW_* variables) with all three
#    sinks: replay sends 3,000 bundled rows over https with --cacert, and the
#    archive, the warehouse (sqlite3) and the history (an invoice read over
#    https) hold them; /healthz and /metrics answer over https;
#  - plain HTTP to the port gets no answer; TLS 1.1 is refused, 1.2 and 1.3
#    accepted; replay without --cacert stops at once, saying why;
#  - SIGHUP with a new certificate: new connections get it; a reload from a
#    bad key keeps it and logs why.
#   usage: tls.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
shopflow=$1
command -v openssl > /dev/null || { echo "tls: no openssl command line: skipped"; exit 77; }
tmp=$(mktemp -d)
SERVER_PID=
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID; rm -rf "$tmp" || true' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
data="$tmp/data"
(gzip -dc "$2" || true) | head -3001 > "$tmp/rows.csv"
rows=3000

# ---- certificates: a CA, two server certificates it signs, one self-signed ----
cd "$tmp"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > ext.cnf
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2> /dev/null; }
newkey ca.key
openssl req -x509 -key ca.key -out ca.pem -days 2 -subj "/CN=shopflow test CA" 2> /dev/null
for name in one two; do
    newkey "$name.key"
    openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=server $name" 2> /dev/null
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile ext.cnf -out "$name.pem" 2> /dev/null
done
cp one.pem server.pem
cp one.key server.key
cd - > /dev/null

# ---- refused at start: each names the file ----
refused() { # refused EXPECTED_TEXT ARGS...: serve must not start, and say EXPECTED_TEXT
    local want=$1 rc=0
    shift
    timeout 20 "$shopflow" serve --data "$data" --listen 127.0.0.1:0 "$@" > /dev/null 2> "$tmp/err" ||
        rc=$?
    [[ $rc -ne 0 && $rc -ne 124 ]] || fail "serve $* started (exit $rc)"
    grep -qF -- "$want" "$tmp/err" || fail "serve $*: expected '$want', got: $(cat "$tmp/err")"
}
refused "cannot read $tmp/nothing.pem" --tls-cert "$tmp/nothing.pem" --tls-key "$tmp/one.key"
refused "$tmp/one.key is not a PEM certificate" --tls-cert "$tmp/one.key" --tls-key "$tmp/one.key"
refused "$tmp/two.key is not the key of the certificate in $tmp/one.pem" \
    --tls-cert "$tmp/one.pem" --tls-key "$tmp/two.key"
refused "go together" --tls-cert "$tmp/one.pem"
[[ ! -e "$data" ]] || fail "a refused start made the data folder"

# ---- serving HTTPS, with all the sinks ----
key=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
analyst=$("$shopflow" keys create --data "$data" --role analyst | tail -1)
SHOPFLOW_TLS_CERT="$tmp/server.pem" SHOPFLOW_TLS_KEY="$tmp/server.key" start_server "$data" \
    --archive-max-wait 100ms
grep -q 'event=server_started .* tls=on' "$data.server.log" || fail "no tls=on at start"
base="https://127.0.0.1:$PORT"
get() { curl -sS --cacert "$tmp/ca.pem" "$@"; }
[[ $(get "$base/healthz") == '{"status":"ok"}' ]] || fail "/healthz over https"

# replay over https, trusting the test CA.
rc=0
"$shopflow" replay "$tmp/rows.csv" --url "$base" --key "$key" --cacert "$tmp/ca.pem" \
    > "$tmp/out" 2> "$tmp/err" || rc=$?
[[ $rc -eq 0 ]] || fail "replay over https exited $rc: $(cat "$tmp/out" "$tmp/err")"
grep -q "^accepted *3,000$" "$tmp/out" || fail "replay over https: $(cat "$tmp/out")"

# Every sink holds them: lag 0 in /metrics (over https), then each store.
for _ in $(seq 300); do
    get "$base/metrics" > "$tmp/metrics"
    [[ $(grep -c "^shopflow_sink_applied_records_total{sink=\"[a-z]*\"} $rows$" "$tmp/metrics") == 3 ]] &&
        break
    sleep 0.1
done
[[ $(grep -c "^shopflow_sink_applied_records_total{sink=\"[a-z]*\"} $rows$" "$tmp/metrics") == 3 ]] ||
    fail "the sinks did not get every row: $(grep sink_applied "$tmp/metrics")"
grep -q '^shopflow_tls_certificate_expiry_seconds [0-9]' "$tmp/metrics" || fail "no TLS metrics"
# (Each store is polled: a sink counts a batch as applied as it commits it.)
warehoused() { sqlite3 "$data/warehouse.db" "SELECT count(*) FROM fact_sales"; }
archived() { find "$data/archive" -name '*.ndjson.gz' -exec gzip -dc {} + 2> /dev/null | wc -l; }
for store in warehoused archived; do
    for _ in $(seq 100); do [[ $($store) == "$rows" ]] && break; sleep 0.1; done
    [[ $($store) == "$rows" ]] || fail "$store: $($store) rows, expected $rows"
done
want=$(grep -c '^536365,' "$tmp/rows.csv")
got=$(get -H "Authorization: Bearer $analyst" "$base/v1/invoices/536365" | jq .line_count)
[[ $got == "$want" ]] || fail "invoice 536365 over https has $got lines, expected $want"

# ---- what must not work ----
if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
    fail "plain HTTP to the HTTPS port was answered"
fi
# TLS versions. SECLEVEL=0 lets this OpenSSL offer TLS 1.1 at all: the
# refusal must come from the server.
tls_ok() { # tls_ok -tls1_x: the handshake succeeds
    openssl s_client -connect "127.0.0.1:$PORT" "$1" -cipher 'DEFAULT:@SECLEVEL=0' \
        -CAfile "$tmp/ca.pem" -verify_return_error < /dev/null > "$tmp/sclient" 2>&1
}
if tls_ok -tls1_1; then fail "TLS 1.1 was accepted: $(grep Protocol "$tmp/sclient")"; fi
tls_ok -tls1_2 || fail "TLS 1.2 refused: $(cat "$tmp/sclient")"
tls_ok -tls1_3 || fail "TLS 1.3 refused: $(cat "$tmp/sclient")"
grep -q "subject=CN = server one" "$tmp/sclient" || fail "not the first certificate"

# replay without --cacert: the certificate cannot be verified; it stops at
# once (no retries) and says why.
rc=0
timeout 20 "$shopflow" replay "$tmp/rows.csv" --url "$base" --key "$key" \
    > "$tmp/out" 2> "$tmp/err" || rc=$?
[[ $rc -eq 1 ]] || fail "replay without --cacert exited $rc: $(cat "$tmp/out" "$tmp/err")"
grep -q "certificate" "$tmp/err" && grep -q -- "--cacert" "$tmp/err" ||
    fail "replay without --cacert does not say why: $(cat "$tmp/err")"
grep -q "^retries *0$" "$tmp/out" || fail "an untrusted certificate was retried: $(cat "$tmp/out")"

# ---- SIGHUP: a new certificate for new connections; a bad one is not taken ----
# hup LOG_PATTERN SUBJECT: send SIGHUP, wait for its log line, then a new
# connection must see the certificate SUBJECT.
hup() {
    kill -HUP "$SERVER_PID"
    for _ in $(seq 100); do grep -q "$1" "$data.server.log" && break; sleep 0.1; done
    grep -q "$1" "$data.server.log" || fail "SIGHUP: no '$1' in the log: $(tail -3 "$data.server.log")"
    tls_ok -tls1_3 || fail "no handshake after SIGHUP: $(cat "$tmp/sclient")"
    grep -q "subject=CN = $2" "$tmp/sclient" || fail "SIGHUP: new connections do not see $2"
}
cp "$tmp/two.pem" "$tmp/server.pem"
cp "$tmp/two.key" "$tmp/server.key"
hup 'event=tls_reloaded .*subject="CN=server two"' "server two"
echo "not a key" > "$tmp/server.key"
hup 'event=tls_reload_failed .*server.key is not a PEM private key' "server two"
get "$base/metrics" | grep -q '^shopflow_tls_reloads_total{result="failed"} 1$' ||
    fail "the failed reload is not counted"
kill -0 "$SERVER_PID" || fail "the server died of SIGHUP"
stop_server
SERVER_PID=
echo "tls: ok"
