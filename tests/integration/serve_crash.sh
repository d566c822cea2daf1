#!/usr/bin/env bash
# Crash test: four clients post batches with event ids, retrying until each
# gets a 200, while the server is killed with SIGKILL at random moments 20
# times and restarted. At the end every acknowledged record is in the log
# exactly once, and the log opens cleanly. Bounded: 4 x 40 batches of 25.
#   usage: serve_crash.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1
tmp=$(mktemp -d)
trap 'kill $SERVER_PID $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
data="$tmp/data"
clients=4 batches=40 rows=25 kills=20
key=$("$shopflow" keys create --data "$data" --role ingest | tail -1)
start_server "$data"
port=$PORT

client() {
    local c=$1 b i code
    for b in $(seq "$batches"); do
        : > "$tmp/body.$c"
        for i in $(seq "$rows"); do
            printf '{"event_id":"c%d-b%d-r%d","InvoiceNo":"%d","StockCode":"S%d","Description":"ROW %d","Quantity":%d,"InvoiceDate":"2011-01-0%d 10:%02d:00","UnitPrice":"1.25","CustomerID":%d,"Country":"United Kingdom"}\n' \
                "$c" "$b" "$i" $((600000 + c * 1000 + b)) "$i" "$i" "$i" $((c + 1)) "$i" $((12000 + c)) >> "$tmp/body.$c"
        done
        for attempt in $(seq 2000); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST \
                "http://127.0.0.1:$port/v1/transactions" -H "Authorization: Bearer $key" \
                -H 'Content-Type: application/x-ndjson' --data-binary "@$tmp/body.$c" || true)
            if [[ $code == 200 ]]; then
                echo "c$c-b$b" >> "$tmp/acked.$c"
                break
            fi
            sleep 0.02
        done
        [[ $code == 200 ]] || { echo "client $c: batch $b never acknowledged" >&2; return 1; }
    done
}

pids=()
for c in $(seq "$clients"); do
    client "$c" &
    pids+=($!)
done

for k in $(seq "$kills"); do
    sleep "0.$(printf '%03d' $((RANDOM % 400 + 50)))"
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    "$shopflow" serve --data "$data" --listen "127.0.0.1:$port" 2>>"$data.server.log" &
    SERVER_PID=$!
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a client gave up"
done
for _ in $(seq 200); do # the last start must be complete before SIGTERM
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.05
done
stop_server

"$shopflow" log stat --data "$data" > "$tmp/stat" || fail "the log does not open: $(cat "$tmp/stat")"
"$shopflow" log dump --data "$data" > "$tmp/dump"
acked=$(cat "$tmp"/acked.* | wc -l)
[[ $acked -eq $((clients * batches)) ]] || fail "acknowledged $acked batches"
# Exactly once: every event id of every acknowledged batch appears once.
jq -r .event_id "$tmp/dump" | sort > "$tmp/ids"
dups=$(uniq -d "$tmp/ids" | wc -l)
[[ $dups -eq 0 ]] || fail "$dups event ids appear more than once: $(uniq -d "$tmp/ids" | head -3)"
for b in $(cat "$tmp"/acked.*); do
    for i in $(seq "$rows"); do echo "$b-r$i"; done
done | sort > "$tmp/want"
missing=$(comm -23 "$tmp/want" "$tmp/ids" | wc -l)
[[ $missing -eq 0 ]] || fail "$missing acknowledged records are missing: $(comm -23 "$tmp/want" "$tmp/ids" | head -3)"
# Some kills land while a server is still starting (recovering): fine too.
starts=$(grep -c 'event=server_started' "$data.server.log")
echo "ok: $kills kills ($starts completed starts), $(wc -l < "$tmp/ids") records, each" \
    "acknowledged one exactly once ($(grep -c 'event=log_recovered' "$data.server.log" || true)" \
    "torn tails recovered)"
