#!/usr/bin/env bash
# A full disk, on small tmpfs mounts (needs root; skipped with exit 77 where
# mounting is not allowed). tests/integration/serve_full.sh fills the log
# alone; here the sinks' stores are on the full disk too.
#  1. Everything (log, archive, history, warehouse) on a 4 MiB tmpfs, three
#     clients posting at once until each has been refused a few times:
#     every answer is a 200 or a 503/507 in the JSON error shape with
#     Retry-After; the log then holds exactly the acknowledged records (no
#     200 for data not stored, nothing of a refused request kept); the
#     server stays up. A ballast file removed, the refused batches go in,
#     and without a restart the three sinks catch up: every record once in
#     the log and once in each store. The 503 sent to clients names no
#     server path (issue 15, 7).
#  2. serve started on that full disk refuses with "no space left on
#     device" (issue 15, 7: not "disk I/O error"), or starts.
#  3. The log on a roomy disk and the three sinks' stores on a full one:
#     ingest goes on answering 200, the sinks fail and retry, and once
#     space is freed they catch up without a restart, each record once.
#   usage: full_disk.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
if [[ $(id -u) -ne 0 ]]; then
    echo "skipped: mounting a tmpfs needs root"
    exit 77
fi
mnt="$tmp/mnt"
mkdir -p "$mnt"
mount -t tmpfs -o size=4m tmpfs "$mnt" 2> "$tmp/mount.err" ||
    { echo "skipped: cannot mount a tmpfs here: $(cat "$tmp/mount.err")"; exit 77; }
MOUNTS+=("$mnt")
serve_args=(--archive-max-wait 100ms --archive-object-size 32K)
# fill FILE: write zeros to FILE until the disk is full.
fill() { dd if=/dev/zero of="$1" bs=64k 2> /dev/null || true; }

# batch NAME -> NDJSON of 40 records of invoice NAME's number, each with
# its event id (NAME-i) as Description too.
line=$(rec event_id '"@E@"' Description '"@E@"' InvoiceNo '"@I@"' Quantity 3 UnitPrice 0.85)
batch() {
    local i l
    for i in $(seq 40); do
        l=${line//@E@/$1-$i}
        echo "${l//@I@/$2}"
    done
}
# client C ROUNDS: posts batches (invoice 800000 + C * 1000 + b) until it
# has been refused ROUNDS times (or 400 batches); 200s go to acked.C, the
# refused batches' names to refused.C; any other answer fails it.
client() {
    local c=$1 b=0 refused=0 code name
    while ((refused < $2 && b < 400)); do
        b=$((b + 1))
        name="c$c-b$b"
        batch "$name" $((800000 + c * 1000 + b)) > "$tmp/body.$c"
        code=$(curl -s -o "$tmp/resp.$c" -D "$tmp/head.$c" -w '%{http_code}' -m 20 -X POST \
            "http://127.0.0.1:$PORT/v1/transactions" -H "Authorization: Bearer $INGEST" \
            -H 'Content-Type: application/x-ndjson' --data-binary "@$tmp/body.$c" || true)
        case $code in
        200) echo "$name" >> "$tmp/acked.$c" ;;
        503 | 507)
            refused=$((refused + 1))
            echo "$name $((800000 + c * 1000 + b))" >> "$tmp/refused.$c"
            # each client its own copy: two cp racing to create one file fail
            cp "$tmp/resp.$c" "$tmp/refusal.$c"
            cp "$tmp/head.$c" "$tmp/refusal.head.$c"
            ;;
        *) echo "client $c batch $b: $code $(head -c 300 "$tmp/resp.$c")"; return 1 ;;
        esac
    done
}
# retry_refused C: the refused batches of client C, each until 200.
retry_refused() {
    local name inv code
    [[ -e "$tmp/refused.$1" ]] || return 0
    while read -r name inv; do
        batch "$name" "$inv" > "$tmp/body.$1"
        for _ in $(seq 100); do
            code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -X POST \
                "http://127.0.0.1:$PORT/v1/transactions" -H "Authorization: Bearer $INGEST" \
                -H 'Content-Type: application/x-ndjson' --data-binary "@$tmp/body.$1" || true)
            [[ $code == 200 ]] && break
            sleep 0.1
        done
        [[ $code == 200 ]] || fail "batch $name after space was freed: $code"
        echo "$name" >> "$tmp/acked.$1"
    done < "$tmp/refused.$1"
}
expand() { # the event ids of the batches named in files "$@"
    cat "$@" 2> /dev/null | awk '{ for (i = 1; i <= 40; i++) print $1 "-" i }' | sort
}
# each_store_once DATA STORES WHAT: the log of DATA holds exactly the
# acknowledged records ($tmp/acked), and the archive and warehouse under
# STORES and the history store (read over the API) hold them each once.
each_store_once() {
    log_descs "$1" > "$tmp/log"
    same_records "$3: the log against the acknowledged records" "$tmp/acked" "$tmp/log"
    archive_descs "$2" > "$tmp/archive"
    warehouse_descs "$2" > "$tmp/warehouse"
    sed 's/^c\([0-9]*\)-b\([0-9]*\)$/\1 \2/' "$tmp"/acked.* |
        awk '{ print 800000 + $1 * 1000 + $2 }' | sort -u > "$tmp/invoices"
    history_descs "$tmp/invoices" > "$tmp/history"
    same_records "$3: archive" "$tmp/log" "$tmp/archive"
    same_records "$3: history store" "$tmp/log" "$tmp/history"
    same_records "$3: warehouse" "$tmp/log" "$tmp/warehouse"
}

# --- 1. Everything on the small disk -------------------------------------------------
data="$mnt/data"
make_keys "$data"
start_server "$data" "${serve_args[@]}"
head -c 1500000 /dev/zero > "$mnt/ballast"
pids=()
for c in 1 2 3; do
    client "$c" 3 > "$tmp/client.$c.out" 2>&1 &
    pids+=($!)
done
EXTRA_PIDS+=("${pids[@]}")
for c in 1 2 3; do
    CASES=$((CASES + 1))
    wait "${pids[$((c - 1))]}" || fail "$(cat "$tmp/client.$c.out")"
done
CASES=$((CASES + 1))
for c in 1 2 3; do
    [[ -s "$tmp/refusal.$c" ]] && cp "$tmp/refusal.$c" "$tmp/refusal" &&
        cp "$tmp/refusal.head.$c" "$tmp/refusal.head" && break
done
[[ -s "$tmp/refusal" ]] || fail "the disk never filled"
cp "$tmp/refusal" "$tmp/resp"
cp "$tmp/refusal.head" "$tmp/head"
is_error_shape || fail "a refusal is not in the JSON error shape: $(answer)"
CASES=$((CASES + 1))
grep -qi '^retry-after: [0-9]' "$tmp/head" || fail "a refusal without Retry-After"
expect "$(req "" GET /healthz)" 200 "healthz on a full disk"
CASES=$((CASES + 1))
! grep -qsF "$mnt" "$tmp"/refusal.[0-9] || fail "a 503 names a server path: $(cat "$tmp"/refusal.[0-9])"
# What the log holds now, read beside the running server: only acknowledged.
expand "$tmp"/acked.* > "$tmp/acked"
log_descs "$data" > "$tmp/log"
same_records "full disk: the log against the acknowledged records" "$tmp/acked" "$tmp/log"
refusals=$(cat "$tmp"/refused.* | wc -l)
# Space again: the refused batches go in, and the sinks catch up unrestarted.
rm "$mnt/ballast"
for c in 1 2 3; do retry_refused "$c"; done
wait_caught_up 150 --data "$data"
errors=$(grep '^shopflow_sink_errors_total' "$tmp/metrics" | awk '{ s += $2 } END { print s + 0 }')
expand "$tmp"/acked.* > "$tmp/acked"
each_store_once "$data" "$data" "after space was freed"
stop_server

# --- 2. A start on a full disk (issue 15, 7) -----------------------------------------
fill "$mnt/ballast"
start_says_no_space() {
    CASES=$((CASES + 1))
    local rc=0
    timeout 60 "$shopflow" serve --data "$data" --listen 127.0.0.1:0 "${serve_args[@]}" \
        > /dev/null 2> "$tmp/start.err" &
    local p=$!
    for _ in $(seq 100); do
        grep -q 'event=server_started' "$tmp/start.err" && break
        kill -0 "$p" 2> /dev/null || break
        sleep 0.1
    done
    if grep -q 'event=server_started' "$tmp/start.err"; then # it started: fine too
        kill -TERM "$p"
        wait "$p" || true
        return 0
    fi
    wait "$p" || rc=$?
    [[ $rc -ne 0 ]] || fail "serve exited 0 on a full disk without starting"
    grep -qi 'no space left on device' "$tmp/start.err" ||
        fail "serve on a full disk: $(grep -v level=info "$tmp/start.err" | tail -1)"
}
start_says_no_space
rm "$mnt/ballast"
CASES=$((CASES + 1))
"$shopflow" log stat --data "$data" > /dev/null || fail "the log does not open after all that"

# --- 3. The sinks' stores on a full disk, the log elsewhere --------------------------
rm -rf "$data" "$tmp"/acked.* "$tmp"/refused.*
data="$tmp/data2"
stores="$mnt/stores"
mkdir -p "$stores"
make_keys "$data"
start_server "$data" "${serve_args[@]}" --objects "$stores/archive" --store "$stores/history" \
    --warehouse "$stores/warehouse.db"
fill "$mnt/ballast"
for b in $(seq 30); do # ingest goes on: the log has room
    batch "c4-b$b" $((804000 + b)) > "$tmp/body"
    expect "$(req "$INGEST" POST /v1/transactions -H 'Content-Type: application/x-ndjson' \
        --data-binary "@$tmp/body")" 200 "batch $b with the sinks' disk full"
    echo "c4-b$b" >> "$tmp/acked.4"
done
for _ in $(seq 300); do # the sinks cannot write: each fails, and retries
    [[ $(metric 'shopflow_sink_errors_total{sink="archive"}') -gt 0 &&
        $(metric 'shopflow_sink_errors_total{sink="history"}') -gt 0 &&
        $(metric 'shopflow_sink_errors_total{sink="warehouse"}') -gt 0 ]] && break
    sleep 0.1
done
for s in archive history warehouse; do
    CASES=$((CASES + 1))
    [[ $(metric "shopflow_sink_errors_total{sink=\"$s\"}") -gt 0 ]] ||
        fail "the $s sink wrote to a full disk without an error"
done
expect "$(req "" GET /healthz)" 200 "healthz with the sinks' disk full"
rm "$mnt/ballast"
wait_caught_up 150 --data "$data" --objects "$stores/archive" --store "$stores/history" \
    --warehouse "$stores/warehouse.db"
expand "$tmp/acked.4" > "$tmp/acked"
each_store_once "$data" "$stores" "sinks' disk freed"
stop_server
echo "full_disk: $refusals refusals on a full disk, $errors sink errors meanwhile; all recovered"
hostile_done full_disk
