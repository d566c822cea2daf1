#!/usr/bin/env bash
# The gateway over HTTPS beside HTTP: two `shopflow serve --sinks none` on
# loopback, one plain and one with --tls-cert/--tls-key (a P-256 certificate
# made here with openssl), measured in turns by wrk (Debian's speaks https),
# so both see the same machine.
#   bench/gateway_tls.sh [SHOPFLOW] [SECONDS] [RUNS]
# Each of RUNS rounds runs, for http then https: /healthz and one record per
# POST over CONNS keep-alive connections (default 64), then /healthz with a
# new connection per request (Connection: close: a full TLS handshake each,
# the case a proxy in front spares the gateway). Prints requests/s, p50/p99
# and the server's CPU time per request (user + system, from /proc: steadier
# than the rates on a shared machine), then the median, min and max of each.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=${1:-build-bench/src/shopflow}
secs=${2:-5}
runs=${3:-3}
conns=${CONNS:-64}
for tool in wrk openssl bc; do
    command -v $tool > /dev/null || { echo "bench/gateway_tls.sh needs $tool" >&2; exit 1; }
done
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2> /dev/null
printf '{"InvoiceNo":"536365","StockCode":"85123A","Description":"WHITE HANGING HEART T-LIGHT HOLDER","Quantity":6,"InvoiceDate":"2010-12-01 08:26:00","UnitPrice":2.55,"CustomerID":17850.0,"Country":"United Kingdom"}' > "$tmp/one.json"

declare -A base pidof keyof
for proto in http https; do
    d="$tmp/$proto"
    keyof[$proto]=$("$shopflow" keys create --data "$d" --role ingest | tail -1)
    tls=()
    [[ $proto == https ]] && tls=(--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem")
    bench_serve "$d" --sinks none "${tls[@]}"
    pids+=("$pid")
    mv "$tmp/log" "$tmp/$proto.log"
    base[$proto]=${url/http:/$proto:}
    pidof[$proto]=$pid
done
export BODY_FILE=$tmp/one.json
hz=$(getconf CLK_TCK)
server_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # run NAME PROTO CONNS wrk-args...: one line, and its figures kept for the summary
    local name=$1 proto=$2 c=$3 out cpu0 cpu1 rps p50 p99 n us
    shift 3
    cpu0=$(server_cpu "${pidof[$proto]}")
    out=$(KEY=${keyof[$proto]} wrk -t1 -c"$c" -d"${secs}s" --latency "$@")
    cpu1=$(server_cpu "${pidof[$proto]}")
    rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
    p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
    p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
    n=$(awk '/requests in/ {print $1}' <<< "$out")
    us=$(echo "($cpu1 - $cpu0) * 1000000 / $hz / $n" | bc -l)
    grep -q "Non-2xx" <<< "$out" && { echo "$name $proto: non-2xx answers: $out" >&2; exit 1; }
    printf '%-22s %-5s %4s conns %10s req/s   p50 %8s   p99 %8s   server CPU %6.1f us/req   load %s\n' \
        "$name" "$proto" "$c" "$rps" "$p50" "$p99" "$us" "$(cut -d' ' -f1 /proc/loadavg)"
    echo "$rps $us" >> "$tmp/fig.$name.$proto"
}

echo "shopflow gateway, HTTP beside HTTPS: ${secs}s per run, $runs rounds, $(nproc) cores, wrk -t1"
for r in $(seq "$runs"); do
    echo "-- round $r"
    for proto in http https; do
        run healthz "$proto" "$conns" "${base[$proto]}/healthz"
        run single-record "$proto" "$conns" -s bench/wrk/post.lua "${base[$proto]}/v1/transactions"
        run healthz-new-conn "$proto" 16 -H "Connection: close" "${base[$proto]}/healthz"
    done
done

echo "-- median (min-max) over $runs rounds"
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
for name in healthz single-record healthz-new-conn; do
    for proto in http https; do
        read -r rm rlo rhi <<< "$(cut -d' ' -f1 "$tmp/fig.$name.$proto" | median)"
        read -r um ulo uhi <<< "$(cut -d' ' -f2 "$tmp/fig.$name.$proto" | median)"
        printf '%-22s %-5s %10.0f req/s (%.0f-%.0f)   server CPU %5.1f us/req (%.1f-%.1f)\n' \
            "$name" "$proto" "$rm" "$rlo" "$rhi" "$um" "$ulo" "$uhi"
    done
done
