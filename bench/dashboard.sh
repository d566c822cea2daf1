#!/usr/bin/env bash
# Dashboard files benchmark: GET / and the bundle's script from `shopflow
# serve` on loopback (served from the binary's memory, gzip prepared at build
# time), with wrk (Debian's) on the same machine; beside them /healthz, the
# server's ceiling. Also prints the bundle's sizes.
#   bench/dashboard.sh [SHOPFLOW] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
shopflow=${1:-build/src/shopflow}
secs=${2:-10}
command -v wrk >/dev/null || { echo "bench/dashboard.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
bench_serve "$tmp/data"
curl -sf "$url/" > "$tmp/index.html"
js=$(grep -o '/assets/app-[A-Za-z0-9]*\.js' "$tmp/index.html")
css=$(grep -o '/assets/app-[A-Za-z0-9]*\.css' "$tmp/index.html")
size() { curl -s -o /dev/null -w '%{size_download}' "$@"; }
printf 'bundle: index.html %s B; %s %s B (%s B gzip); %s %s B (%s B gzip)\n' \
    "$(size "$url/")" "$js" "$(size "$url$js")" "$(size -H 'Accept-Encoding: gzip' "$url$js")" \
    "$css" "$(size "$url$css")" "$(size -H 'Accept-Encoding: gzip' "$url$css")"

run() { # name wrk-args...
    local name=$1
    shift
    local out
    out=$(wrk -t1 -c16 -d"${secs}s" --latency "$@")
    printf '%-24s %12s req/s   p50 %8s   p99 %8s\n' "$name" \
        "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
run "/healthz" "$url/healthz"
run "/ (index.html)" "$url/"
run "/ revalidated (304)" -H "If-None-Match: $(curl -sI "$url/" | sed -n 's/^ETag: \(.*\)\r$/\1/p')" "$url/"
run "script, gzip" -H 'Accept-Encoding: gzip' "$url$js"
run "script, identity" "$url$js"
