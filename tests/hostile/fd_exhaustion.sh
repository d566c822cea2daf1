#!/usr/bin/env bash
# Descriptor exhaustion (issue 15, item 5). With the common limit of 1,024
# open files, about 1,000 idle connections used to lock everyone out:
# /healthz and POST waited in the listen backlog until they timed out.
#   1. soft limit 1,024 under a higher hard one: serve raises it (logged);
#   2. soft = hard = 1,024: serve caps max-connections (logged); with 1,500
#      idle connections open, /healthz answers within 100 ms and a keyed
#      POST gets 200; idle connections were evicted (log, /metrics), but not
#      the ones that had authenticated. 1,000 of the 1,500 are not quite
#      idle: they sent a request whose body never comes (a POST without a
#      key, a GET with a body), which alone would fill the cap if a request
#      in progress could not be evicted; a refused one can.
# The 100 ms is the bound the issue states for a working server (a locked
# out one takes the whole curl timeout); a few tries absorb a busy machine.
#   usage: fd_exhaustion.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/../integration/lib.sh"
real=$1
tmp=$(mktemp -d)
SERVER_PID=
idle_pid=
trap 'kill $SERVER_PID $idle_pid 2>/dev/null || true; wait $SERVER_PID $idle_pid 2>/dev/null || true
      rm -rf "$tmp"' EXIT
data="$tmp/data"
key=$("$real" keys create --data "$data" --role ingest | tail -1)
if (($(ulimit -Hn) < 1700)); then
    echo "skipped: the client needs 1,700 open files and the hard limit is $(ulimit -Hn)"
    exit 77
fi

# limited SOFT HARD: a shopflow that starts under those limits.
limited() {
    printf '#!/usr/bin/env bash\nulimit -Sn %s && ulimit -Hn %s && exec "%s" "$@"\n' "$1" "$2" "$real" \
        > "$tmp/shopflow-$1-$2"
    chmod +x "$tmp/shopflow-$1-$2"
    shopflow="$tmp/shopflow-$1-$2"
}

# 1. The soft limit is raised to the hard one.
hard=$(ulimit -Hn)
limited 1024 "$hard"
start_server "$data" --sinks none
grep -q "event=fd_limit_raised soft=$hard from=1024" "$data.server.log" ||
    fail "the soft limit was not raised: $(grep -e fd_limit -e connections "$data.server.log")"
grep -q 'event=max_connections_capped' "$data.server.log" && ((hard > 12000)) &&
    fail "capped although $hard descriptors allow 10,000 connections"
stop_server

# 2. 1,024 at most: max-connections capped, and room kept by eviction.
limited 1024 1024
start_server "$data" --sinks none
grep -q 'event=max_connections_capped max_connections=10000 capped_at=' "$data.server.log" ||
    fail "max-connections above the limit not capped: $(grep connections "$data.server.log")"
cap=$(sed -n 's/.*event=max_connections_capped .*capped_at=\([0-9]*\).*/\1/p' "$data.server.log")
((cap > 500 && cap < 1000)) || fail "capped at $cap"

# The client: 5 connections that authenticate (a keyed GET: the ingest key is
# valid, though it may not read history: 403), kept alive, then
# 1,500 idle ones; it says "ready", waits for $tmp/done, then checks that the
# 5 still answer.
python3 - "$PORT" "$key" "$tmp" > "$tmp/client.out" 2>&1 <<'EOF' &
import os, resource, socket, sys, time
port, key, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ask = ("GET /v1/invoices/536365 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % key).encode()
def answered(s):  # one answer on a kept-alive connection: its status line
    s.settimeout(10)
    s.sendall(ask)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(4096)
        if not b:
            return "closed"
        data += b
    return data.split(b"\r\n")[0].decode()
keyed = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
print("keyed:", [answered(s) for s in keyed], flush=True)
slow = [b"POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000\r\n\r\n[{", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1000000\r\n\r\nxx"]
idle = []
for i in range(1500):
    if i < 1000:  # a request whose body never comes
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(slow[i % 2])
        s.setblocking(False)
    else:
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
    idle.append(s)
open(tmp + "/ready", "w").close()
for _ in range(600):
    if os.path.exists(tmp + "/done"):
        break
    time.sleep(0.1)
print("keyed after:", [answered(s) for s in keyed], flush=True)
EOF
idle_pid=$!
for _ in $(seq 300); do
    [[ -e "$tmp/ready" ]] && break
    kill -0 "$idle_pid" 2>/dev/null || fail "the client died: $(cat "$tmp/client.out")"
    sleep 0.1
done
[[ -e "$tmp/ready" ]] || fail "the client did not open its connections: $(cat "$tmp/client.out")"
sleep 1 # let the server take them all in

base="http://127.0.0.1:$PORT"
ok=
for try in 1 2 3; do
    out=$(curl -s -o "$tmp/resp" -m 5 -w '%{http_code} %{time_total}' "$base/healthz" || true)
    echo "/healthz with 1,500 idle connections open: ${out% *}, ${out#* } s (try $try)"
    [[ ${out% *} == 000 ]] && fail "/healthz got no answer in 5 s: locked out"
    [[ ${out% *} == 200 ]] || fail "/healthz: $out $(cat "$tmp/resp")"
    if awk -v t="${out#* }" 'BEGIN { exit !(t < 0.1) }'; then
        ok=1
        break
    fi
    sleep 0.5
done
[[ -n $ok ]] || fail "/healthz took 100 ms or more, three times"
one='{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850,"Country":"United Kingdom"}'
out=$(curl -s -o "$tmp/resp" -m 5 -w '%{http_code} %{time_total}' -X POST "$base/v1/transactions" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' --data-binary "$one" || true)
echo "keyed POST with 1,500 idle connections open: ${out% *}, ${out#* } s"
[[ ${out% *} == 200 ]] || fail "keyed POST: $out $(cat "$tmp/resp")"

touch "$tmp/done"
wait "$idle_pid" || fail "the client failed: $(cat "$tmp/client.out")"
idle_pid=
grep -q "keyed: \['HTTP/1.1 403" "$tmp/client.out" || fail "keyed requests: $(cat "$tmp/client.out")"
grep -q "keyed after: \['HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden', 'HTTP/1.1 403 Forbidden'\]" \
    "$tmp/client.out" || fail "authenticated connections were evicted: $(cat "$tmp/client.out")"
curl -s "$base/metrics" > "$tmp/metrics"
evicted=$(sed -n 's/^shopflow_http_connections_evicted_total{authenticated="false"} //p' "$tmp/metrics")
((evicted >= 500)) || fail "evicted $evicted idle connections: $(grep connections "$tmp/metrics")"
grep -q '^shopflow_http_connections_evicted_total{authenticated="true"} 0$' "$tmp/metrics" ||
    fail "authenticated connections evicted: $(grep connections "$tmp/metrics")"
grep -q 'event=connections_evicted evicted=' "$data.server.log" || fail "no eviction in the log"
stop_server
echo "fd_exhaustion: ok ($evicted idle connections evicted, cap $cap)"
