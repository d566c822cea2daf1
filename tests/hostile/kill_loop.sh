#!/usr/bin/env bash
# The kill -9 loop (issue 15's acceptance): `serve`, with its three sinks
# running inside it, is killed with SIGKILL 32 times at random moments and
# restarted, while four clients post batches with event ids, retrying each
# until it gets a 200 and recording every 200. Half the kills wait for the
# server to have started; the others may land while it recovers. After a
# last clean start and lag 0: every acknowledged record is in the log
# exactly once, and the log's records are each exactly once in the archive's
# objects, in the history store (the invoices' lines, read over the API) and
# in the warehouse's fact_sales (its rollups agreeing), with nothing in any
# sink that is not in the log. Each record carries its event id as its
# Description, which every store keeps. tests/integration/serve_crash.sh
# is the older, smaller loop (the log only).
#   usage: kill_loop.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
clients=4 rows=20 kills=32 min_batches=15 max_batches=300
make_keys "$data"
serve_args=(--archive-max-wait 200ms --archive-object-size 32K)
start_server "$data" "${serve_args[@]}"
port=$PORT

# client C: batches of $rows records (one invoice each) until the kills are
# over and at least $min_batches are acknowledged; each retried until 200.
client() {
    local c=$1 b=0 i code line inv l
    line=$(rec event_id '"@E@"' Description '"@E@"' InvoiceNo '"@I@"' StockCode '"S@R@"' \
        CustomerID $((12000 + c)) Quantity 2 UnitPrice 1.25)
    while ((b < max_batches)) && { ((b < min_batches)) || [[ ! -e "$tmp/kills.done" ]]; }; do
        b=$((b + 1))
        inv=$((c * 100000 + b))
        echo "$inv" >> "$tmp/invoices"
        for i in $(seq "$rows"); do
            l=${line//@E@/c$c-b$b-r$i}
            l=${l//@R@/$i}
            echo "${l//@I@/$inv}"
        done > "$tmp/body.$c"
        for _ in $(seq 3000); do # bounded: 3,000 tries of at most 5 s
            code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST \
                "http://127.0.0.1:$port/v1/transactions" -H "Authorization: Bearer $INGEST" \
                -H 'Content-Type: application/x-ndjson' --data-binary "@$tmp/body.$c" || true)
            [[ $code == 200 ]] && break
            [[ $code == 000 || $code == 429 || $code == 503 ]] ||
                { echo "client $c batch $b: answered $code" >&2; return 1; }
            sleep 0.02
        done
        [[ $code == 200 ]] || { echo "client $c batch $b: never acknowledged" >&2; return 1; }
        echo "c$c-b$b" >> "$tmp/acked.$c"
    done
}
pids=()
for c in $(seq "$clients"); do
    client "$c" 2> "$tmp/client.$c.err" &
    pids+=($!)
done
EXTRA_PIDS+=("${pids[@]}")

started() { grep -c 'event=server_started' "$data.server.log" || true; }
before=0 # server_started lines before the last (re)start
for k in $(seq "$kills"); do
    if ((k % 2)); then # let this start complete, then kill at a random moment
        for _ in $(seq 400); do
            (($(started) > before)) && break
            kill -0 "$SERVER_PID" 2>/dev/null || fail "serve exited: $(tail -5 "$data.server.log")"
            sleep 0.05
        done
    fi
    sleep "0.$(printf '%03d' $((RANDOM % 350 + 50)))"
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    before=$(started)
    "$shopflow" serve --data "$data" --listen "127.0.0.1:$port" "${serve_args[@]}" \
        2>> "$data.server.log" &
    SERVER_PID=$!
done
touch "$tmp/kills.done"
for c in "${!pids[@]}"; do
    wait "${pids[$c]}" || fail "$(cat "$tmp/client.$((c + 1)).err")"
done

# The last start, undisturbed, until every sink has caught up.
for _ in $(seq 400); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the last serve exited: $(tail -5 "$data.server.log")"
    sleep 0.05
done
wait_caught_up 150 --data "$data"
sort -u "$tmp/invoices" > "$tmp/invoices.sorted"
history_descs "$tmp/invoices.sorted" > "$tmp/history"
stop_server
CASES=$((CASES + 1))
starts=$(started)
((starts > kills / 2)) || fail "only $starts starts completed"

# What was sent, what was acknowledged, what the log holds.
for c in $(seq "$clients"); do
    awk -v r="$rows" -F- '{ for (i = 1; i <= r; i++) print $0 "-r" i }' "$tmp/acked.$c"
done | sort > "$tmp/acked"
"$shopflow" log dump --data "$data" > "$tmp/dump"
jq -r .description "$tmp/dump" | sort > "$tmp/log"
CASES=$((CASES + 1))
jq -e -s 'all(.event_id == .description)' "$tmp/dump" > /dev/null ||
    fail "a record's event id and description differ in the log"
CASES=$((CASES + 1))
[[ -z $(uniq -d "$tmp/log") ]] || fail "records twice in the log: $(uniq -d "$tmp/log" | head -3)"
CASES=$((CASES + 1))
[[ -z $(comm -23 "$tmp/acked" "$tmp/log") ]] ||
    fail "acknowledged records missing from the log: $(comm -23 "$tmp/acked" "$tmp/log" | head -3)"
# Every record of the log, once in each store, and nothing else there.
archive_descs "$data" > "$tmp/archive"
warehouse_descs "$data" > "$tmp/warehouse"
same_records "archive (its objects, decompressed)" "$tmp/log" "$tmp/archive"
same_records "history store (invoices' lines over the API)" "$tmp/log" "$tmp/history"
same_records "warehouse (fact_sales)" "$tmp/log" "$tmp/warehouse"
CASES=$((CASES + 1))
rollup=$(sqlite3 "$data/warehouse.db" "SELECT (SELECT sum(lines) FROM bi_sales WHERE grain = 'day')
    || ' ' || (SELECT sum(lines) FROM bi_invoice) || ' ' || (SELECT count(*) FROM fact_sales)")
n=$(wc -l < "$tmp/log")
[[ $rollup == "$n $n $n" ]] || fail "warehouse rollups (day lines, invoice lines, facts): $rollup; log $n"
CASES=$((CASES + 1))
"$shopflow" status --data "$data" --json > "$tmp/status"
jq -e '[.sinks[].lag] | length == 3 and all(. == 0)' "$tmp/status" > /dev/null ||
    fail "status after the loop: $(cat "$tmp/status")"
# A kill leaves an archive object half written (*.ndjson.gz.tmp.PID);
# issue 15 (7): a writer's start removes them: after the last start, none.
CASES=$((CASES + 1))
left=$(find "$data/archive" -name '*.tmp.*' | wc -l)
[[ $left -eq 0 ]] || fail "$left half-written archive objects left (*.tmp.PID)"
# A sink's lag in /metrics counts what its store does not hold yet, not only
# what it has not read (it once read 0 as soon as the records were read).
# The warehouse locked by another process cannot commit; 20 records posted
# to a server without sinks; then, with the sinks, every reading of the
# warehouse's lag while the lock holds is above 0.
start_server "$data" --sinks none
body=$(for i in $(seq 20); do rec event_id "\"locked-$i\"" Description "\"locked-$i\""; echo; done)
expect_json "$(post_as "$INGEST" application/x-ndjson "$body")" 200 '.accepted == 20' "20 more"
stop_server
(echo 'BEGIN EXCLUSIVE;'; sleep 6; echo 'COMMIT;') | sqlite3 "$data/warehouse.db" &
locker=$!
EXTRA_PIDS+=("$locker")
sleep 0.5
start_server "$data" "${serve_args[@]}"
for i in $(seq 10); do
    metric 'shopflow_sink_lag_records{sink="warehouse"}'
    sleep 0.2
done > "$tmp/lags"
CASES=$((CASES + 1))
[[ $(grep -cx '[1-9][0-9]*' "$tmp/lags") == 10 ]] ||
    fail "the warehouse's lag read $(tr '\n' ' ' < "$tmp/lags") while it could not commit 20 records"
wait "$locker" || true
wait_caught_up 150 --data "$data"
stop_server
echo "kill_loop: $kills kills ($starts completed starts), $(wc -l < "$tmp/acked") records" \
    "acknowledged, $n in the log, each once in the archive, history and warehouse"
hostile_done kill_loop
