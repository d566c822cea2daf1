#!/usr/bin/env bash
# Slow clients (slowloris) against a server with --timeout 4s and
# --head-timeout 2s (and the default --min-body-rate, 500 bytes/s): a
# connection that sends nothing, stops in the middle of its headers, or
# stops in the middle of its body is closed, nothing of it stored; 40 such
# connections at once do not keep /healthz and a POST from being served
# meanwhile. A client that trickles its headers, or its body, a byte every
# half second is cut off (--timeout alone, one of idleness, never did:
# every byte reset it), and counted in /metrics and the log. Slow but
# steady clients are served: a 60 KB body sent over 6 s (past --timeout,
# far above the minimum rate), and a keep-alive connection idle longer than
# --head-timeout whose next head then comes in two pieces.
# Every wait is bounded (15 s at most); nothing measures how fast.
#   usage: slowloris.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
hostile_init "$@"
data="$tmp/data"
make_keys "$data"
start_server "$data" --sinks none --timeout 4s --head-timeout 2s

# held TEXT SECONDS -> "closed" once the server closes a connection on which
# TEXT was sent and nothing more, or "open" after SECONDS.
held() {
    trap '' PIPE
    local fd x rc t0=$SECONDS
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s' "$1" 1>&"$fd" 2>/dev/null || true
    while ((SECONDS - t0 < $2)); do
        if read -r -t 0.2 -u "$fd" x; then
            continue # an answer (a 408, say) before the close is fine
        else
            rc=$?
            ((rc > 128)) || { echo closed; return 0; }
        fi
    done
    echo open
}
# trickle FIRST TEXT SECONDS -> "cut" when the server closes the connection
# while, after FIRST sent at once, TEXT is sent a byte every 0.5 s;
# "answered" if it answered; "open" when SECONDS passed with it still open.
trickle() {
    trap '' PIPE
    local fd x rc i t0=$SECONDS
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s' "$1" 1>&"$fd" 2>/dev/null || true
    for ((i = 0; i < ${#2}; i++)); do
        printf '%s' "${2:i:1}" 1>&"$fd" 2>/dev/null || { echo cut; return 0; }
        if read -r -t 0.5 -u "$fd" x; then
            echo answered
            return 0
        else
            rc=$?
            ((rc > 128)) || { echo cut; return 0; }
        fi
        ((SECONDS - t0 < $3)) || break
    done
    echo open
}
# steady HEAD BODY_FILE PIECES -> the status of the answer when HEAD is sent
# at once and BODY_FILE in PIECES pieces, one every 0.1 s, on one connection
# (HEAD says Connection: close).
steady() {
    trap '' PIPE
    local fd size piece i
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf '%s' "$1" 1>&"$fd" 2>/dev/null || true
    size=$(stat -c %s "$2")
    piece=$(((size + $3 - 1) / $3))
    for ((i = 0; i < $3; i++)); do
        dd if="$2" bs="$piece" skip="$i" count=1 status=none 1>&"$fd" 2>/dev/null || break
        sleep 0.1
    done
    timeout 15 cat <&"$fd" 2>/dev/null | sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p'
    exec {fd}>&-
}
# idle_then_split -> the status of a second request on a keep-alive
# connection idle 3 s (past --head-timeout, within --timeout) after its
# first, its head then sent in two pieces 0.3 s apart.
idle_then_split() {
    trap '' PIPE
    local fd x
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' 1>&"$fd"
    read -r -t 10 -u "$fd" x || { echo "no first answer"; return 0; }
    sleep 3
    printf 'GET /healthz HTTP/1.1\r\nHo' 1>&"$fd" 2>/dev/null || { echo cut; return 0; }
    sleep 0.3
    printf 'st: x\r\nConnection: close\r\n\r\n' 1>&"$fd" 2>/dev/null || { echo cut; return 0; }
    # (read took the first answer's status line: the one left is the second's)
    timeout 10 cat <&"$fd" 2>/dev/null | sed -n 's/^HTTP\/1\.1 \([0-9]*\).*/\1/p'
    exec {fd}>&-
}
pad=$(head -c 300 /dev/zero | tr '\0' a)
post_head="POST /v1/transactions HTTP/1.1"$'\r\n'"Host: x"$'\r\n'"Authorization: Bearer $INGEST"$'\r\n'
post_head+="Content-Type: application/json"$'\r\n'
body=$(rec event_id '"slow"')

# The slow clients, all at once; each writes its verdict to a file.
slow=()
held "" 15 > "$tmp/idle" &
slow+=($!)
held "POST /v1/transactions HTTP/1.1"$'\r\n'"Host: x"$'\r\n' 15 > "$tmp/mid-headers" &
slow+=($!)
held "${post_head}Content-Length: ${#body}"$'\r\n\r\n'"${body:0:40}" 15 > "$tmp/mid-body" &
slow+=($!)
trickle "" "GET /healthz HTTP/1.1"$'\r\n'"X-Pad: $pad"$'\r\n\r\n' 10 > "$tmp/trickle-headers" &
slow+=($!)
trickle "${post_head}Content-Length: $((${#body} + 300))"$'\r\n\r\n' "$body$(printf '%300s' '')" 10 \
    > "$tmp/trickle-body" &
slow+=($!)
for i in $(seq 40); do
    held "GET /healthz HTTP/1.1"$'\r\n'"X-Slow: $i" 15 > "$tmp/crowd.$i" &
    slow+=($!)
done
# The slow but steady, beside them.
for i in $(seq 400); do rec event_id "\"steady-$i\"" Description "\"$(printf '%060d' "$i")\""; echo; done \
    > "$tmp/steady.ndjson"
steady "POST /v1/transactions HTTP/1.1"$'\r\n'"Host: x"$'\r\n'"Authorization: Bearer $INGEST"$'\r\n'"Content-Type: application/x-ndjson"$'\r\n'"Content-Length: $(stat -c %s "$tmp/steady.ndjson")"$'\r\n'"Connection: close"$'\r\n\r\n' \
    "$tmp/steady.ndjson" 60 > "$tmp/steady" &
slow+=($!)
idle_then_split > "$tmp/idle-then-split" &
slow+=($!)
EXTRA_PIDS+=("${slow[@]}")
sleep 0.5
# Meanwhile everyone else is served.
expect "$(req "" GET /healthz)" 200 "healthz beside 45 slow clients"
expect_json "$(post_as "$INGEST" application/json "$(rec event_id '"fast"')")" 200 \
    '.accepted == 1' "a POST beside 45 slow clients"
for p in "${slow[@]}"; do wait "$p" || true; done

verdict() { # verdict FILE WANT WHAT
    CASES=$((CASES + 1))
    [[ $(cat "$1") == "$2" ]] || fail "$3: $(cat "$1"), expected $2"
}
verdict "$tmp/idle" closed "a connection that sends nothing"
verdict "$tmp/mid-headers" closed "a connection that stops in its headers"
verdict "$tmp/mid-body" closed "a connection that stops in its body"
for i in $(seq 40); do verdict "$tmp/crowd.$i" closed "slow client $i of 40"; done
verdict "$tmp/trickle-headers" cut "headers trickled a byte every 0.5 s for 10 s"
verdict "$tmp/trickle-body" cut "a body trickled a byte every 0.5 s for 10 s"
verdict "$tmp/steady" 200 "a 60 KB body sent steadily over 6 s"
verdict "$tmp/idle-then-split" 200 "a head in two pieces after 3 s of keep-alive idleness"
CASES=$((CASES + 1))
[[ $(records "$data") -eq 401 ]] ||
    fail "the log holds $(records "$data") records; only 'fast' and the 400 steady ones were sent whole"
# Each cut counted, by part, and logged.
for part in head body; do
    CASES=$((CASES + 1))
    n=$(metric "shopflow_http_slow_requests_cut_total{part=\"$part\"}")
    [[ ${n:-0} -ge 1 ]] || fail "slow ${part}s cut: /metrics says ${n:-nothing}"
done
CASES=$((CASES + 1))
grep -q 'event=slow_requests_cut .*heads=[1-9]' "$data.server.log" &&
    grep -q 'event=slow_requests_cut .*bodies=[1-9]' "$data.server.log" ||
    fail "no slow_requests_cut lines for heads and bodies: $(grep slow_ "$data.server.log")"
expect "$(req "" GET /healthz)" 200 "healthz after the slow clients"
stop_server
hostile_done slowloris
