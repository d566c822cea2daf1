#!/usr/bin/env bash
# The history sink on DynamoDB (dynalite), with the whole bundled file:
#  - killed with SIGKILL at random moments and restarted, then the emulator
#    stopped for about 3 s mid-run and restarted on the same port and data:
#    the sink retries (the log says so) and catches up; `status` says the
#    table is unreachable meanwhile, then reads its positions from it: lag 0;
#    a run after it applies nothing;
#  - the whole history equals the LMDB adapter's, uninterrupted, on the same
#    log (sf_test_history: every invoice with its lines, digest for digest);
#  - served from the table: invoice 536365 has 7 lines totalling 139.12,
#    customer 17850 35 invoices over its pages, and the API's answers are
#    the LMDB-served ones byte for byte (invoices across the file, customers'
#    pages with cursors, date ranges, 404s).
#   usage: dynamodb_history.sh SHOPFLOW DATA_GZ HISTORY_QUERY
set -euo pipefail
here=$(dirname "$0")
source "$here/../integration/lib.sh"
source "$here/lib.sh"
shopflow=$1 data=$2 query=$3
tmp=$(mktemp -d)
aws_start "$tmp"
trap 'kill $(jobs -p) 2>/dev/null || true; aws_stop; rm -rf "$tmp"' EXIT
loc="dynamodb://$SF_TEST_NAME"
args=(sink history --data "$tmp/d" --store "$loc")

"$shopflow" import --data "$tmp/d" "$data" > /dev/null
"$shopflow" sink history --data "$tmp/d" --once > /dev/null # the LMDB reference
want=$("$query" "$tmp/d/history" 536365 17850)

for k in $(seq 4); do
    "$shopflow" "${args[@]}" > /dev/null 2>>"$tmp/sink.log" &
    sleep "$((RANDOM % 3)).$(printf '%03d' $((RANDOM % 1000)))"
    kill -KILL $! 2>/dev/null || true
    wait $! 2>/dev/null || true
done

# The emulator goes away under a running sink, and comes back.
lag() { "$shopflow" status --data "$tmp/d" --store "$loc" --json | jq .sinks.history.lag; }
before=$(lag)
"$shopflow" "${args[@]}" --once > "$tmp/once.out" 2>>"$tmp/sink.log" &
pid=$!
for _ in $(seq 100); do # until it has committed something more
    [[ $(lag) -lt $before ]] && break
    sleep 0.1
done
aws_stop
! "$shopflow" status --data "$tmp/d" --store "$loc" > /dev/null 2> "$tmp/status.err" ||
    fail "status with DynamoDB away exited 0"
grep -q "DynamoDB DescribeTable.*no answer from" "$tmp/status.err" ||
    fail "status did not say DynamoDB is unreachable: $(cat "$tmp/status.err")"
sleep 3
aws_restart
wait $pid || fail "the sink failed while the emulator was away: $(tail -3 "$tmp/sink.log")"
grep -q " records applied" "$tmp/once.out" || fail "sink: $(cat "$tmp/once.out")"
grep -q 'event=dynamodb_retries .*network=[1-9]' "$tmp/sink.log" ||
    fail "no retry was logged: the emulator did not go away under the sink"
[[ $(lag) -eq 0 ]] || fail "status after the run: lag $(lag)"
out=$("${shopflow}" "${args[@]}" --once)
[[ $out == *" 0 records applied"* ]] || fail "a run after it applied again: $out"
got=$("$query" "$loc" 536365 17850)
[[ "$got" == "$want" ]] || fail "DynamoDB holds: $got; LMDB: $want"
[[ "${got% digest=*}" == "invoices=25900 lines=541909 invoice_lines=7 invoice_total=139120 customer_invoices=35" ]] ||
    fail "figures: $got"

# Served from each adapter: the same bytes.
# (A copy of the folder for the second server: a log has one writer.)
key=$("$shopflow" keys create --data "$tmp/d" --role analyst | tail -1)
cp -a "$tmp/d" "$tmp/d2"
start_server "$tmp/d" --sinks none
lmdb=http://127.0.0.1:$PORT lmdb_pid=$SERVER_PID
start_server "$tmp/d2" --sinks none --store "$loc"
dyn=http://127.0.0.1:$PORT
fetch() { curl -s -w ' %{http_code}\n' -H "Authorization: Bearer $key" "$1$2"; }
same() { # same PATH: both answer it alike; the body is left in $tmp/a
    fetch "$lmdb" "$1" > "$tmp/a"
    fetch "$dyn" "$1" > "$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" || fail "$1: LMDB $(head -c 300 "$tmp/a") DynamoDB $(head -c 300 "$tmp/b")"
}
same /v1/invoices/536365
jq -e '.line_count == 7 and (.lines | length) == 7 and .total == "139.12"' \
    <(sed 's/ 200$//' "$tmp/a") > /dev/null || fail "536365: $(cat "$tmp/a")"
n=0
while read -r no; do
    same "/v1/invoices/$no"
    n=$((n + 1))
done < <(gzip -dc "$data" | awk -F, 'NR > 1 && !seen[$1]++ && NR % 40 == 0 { print $1 }')
customers() { # every page of customer $1 with limit $2 [and $3], cursor after cursor
    local cursor="" first=1 pages=0
    while [[ $first == 1 || -n "$cursor" ]]; do
        first=0
        same "/v1/customers/$1/invoices?limit=$2${3:+&$3}${cursor:+&cursor=$cursor}"
        cursor=$(sed 's/ [0-9]*$//' "$tmp/a" | jq -r '.next_cursor // empty')
        pages=$((pages + 1))
    done
    echo "$pages"
}
[[ $(customers 17850 4) -eq 9 ]] || fail "17850's 35 invoices are not 9 pages of 4"
for c in 14911 12748 17841 13089 14606 15311 12971 18102 16029 12346; do
    customers "$c" 7 > /dev/null
    customers "$c" 50 "from=2011-03-01&to=2011-05-31" > /dev/null
done
same /v1/invoices/NOPE
same /v1/customers/99999999/invoices
same "/v1/customers/17850/invoices?from=2012-01-01"
stop_server
SERVER_PID=$lmdb_pid
stop_server
echo "ok: DynamoDB history (4 kills, the emulator away 3 s; equal to LMDB's; $n invoices and 21 customers' pages served byte for byte alike)"
