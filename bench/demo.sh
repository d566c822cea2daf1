#!/usr/bin/env bash
# bench/demo.sh - `shopflow demo --exit` end to end, run after run.
#
#   bench/demo.sh [SHOPFLOW] [RUNS] [-- DEMO_ARGS...]
#
# Each run rebuilds the same demo folder, as a user running the demo again
# would (so each run also pays for the previous run's files being deleted);
# a first warm-up run (row "w") makes the first measured run do so too.
# Prints per run: the load average before it, "all three stores hold every
# row" after the first row (the demo's own figure, the issue's target), the
# replay's part of it, the whole command's wall time, its CPU (user + sys,
# from /usr/bin/time, far steadier than wall time on a shared machine) and
# its peak RSS. Results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-}
runs=${2:-3}
shift $(($# > 2 ? 2 : $#))
[[ ${1:-} == -- ]] && shift
if [[ -z $shopflow ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF >/dev/null
    cmake --build build-bench -j2 --target shopflow-cli >/dev/null
    shopflow=build-bench/src/shopflow
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "shopflow demo --exit $*, $(nproc) cores"
printf '%-4s %-16s %9s %9s %8s %7s %7s %7s %8s\n' run load stores_s replay_s wall_s user_s \
    sys_s cpu_s rss_MB
for i in w $(seq "$runs"); do
    load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$shopflow" demo --exit --data "$tmp/demo" \
        --listen 127.0.0.1:0 "$@" >"$tmp/out" 2>"$tmp/err" ||
        { echo "run $i failed:" >&2; tail -5 "$tmp/err" >&2; exit 1; }
    stores=$(sed -n 's/.*all three stores hold every row \([0-9.]*\) s.*/\1/p' "$tmp/out")
    replay=$(sed -n 's/^Replayed .* in \([0-9.]*\) s.*/\1/p' "$tmp/out")
    read -r wall user sys rss <"$tmp/time"
    printf '%-4s %-16s %9s %9s %8s %7s %7s %7.2f %8d\n' "$i" "$load" "$stores" "$replay" \
        "$wall" "$user" "$sys" "$(echo "$user + $sys" | bc)" $((rss / 1024))
done
