#!/usr/bin/env bash
# The history sink against DynamoDB's emulator (dynalite), beside a bare
# libcurl loop of the BatchWriteItem calls of the same items, in the same
# sitting.
#   bench/dynamodb.sh [BUILD] [RUNS]
# The bundled file is imported once; each run then loads the whole history
# into a fresh table:
#   shopflow  `sink history --store dynamodb://bench-sN --once` (16 requests in
#             flight; lines by BatchWriteItem, headers read back and put
#             conditionally, customers' places, checkpoints)
#   bare      BUILD/bench/bench_dynamodb: every line, header and customer
#             place item, 25 to a BatchWriteItem, 16 in flight, nothing else
#             (no reads, no conditions, no retries); its CPU counts the
#             sending only
#   lmdb      the same sink into LMDB: the sink's CPU apart from DynamoDB
# Runs alternate so all see the same load. Per run: wall, records/s, and the
# client's CPU (user + sys) per record; the emulator's own CPU is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench}
runs=${2:-3}
shopflow=$build/src/shopflow
source bench/lib.sh
[[ -x $shopflow && -x $build/bench/bench_dynamodb ]] ||
    bench_release "$build" shopflow-cli bench_dynamodb
bench_aws "$build" dynamodb

"$shopflow" import --data "$tmp/d" data/online_retail.csv.gz >/dev/null
echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "records: 541909; dynalite 4.0.0, node $(node --version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

report() { # NAME RUN
    read -r wall user sys rss < "$tmp/time"
    awk -v name="$1" -v i="$2" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" 'BEGIN {
        printf "%-8s run %d: %6.2f s wall, %6.0f records/s, CPU %.2f s (%.1f us/record), peak RSS %d MiB\n",
               name, i, w, 541909 / w, u + s, (u + s) / 541909 * 1e6, m / 1024 }'
}
for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$shopflow" sink history --data "$tmp/d" \
        --store "dynamodb://bench-s$i" --once >/dev/null 2>>"$tmp/sink.log"
    report shopflow "$i"
    "$build/bench/bench_dynamodb" "$tmp/d/log" "bench-b$i" 16
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$shopflow" sink history --data "$tmp/d" \
        --store "$tmp/lmdb$i" --once >/dev/null
    report lmdb "$i"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -c dynamodb_retries "$tmp/sink.log" | sed 's/^/commits that needed retries: /'
