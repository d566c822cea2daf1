#!/usr/bin/env bash
# Archive sink benchmark: `shopflow sink archive --once` over the bundled file
# (541,909 records) imported into a data folder.
#   bench/archive.sh [SHOPFLOW] [RUNS] [EXTRA SINK ARGS...]
# e.g. bench/archive.sh build-bench/src/shopflow 5 --archive-gzip-level 6
# Each run writes into a fresh objects folder; the folders are deleted only at
# the end, because on ext4 creating files right after deleting thousands
# costs several times more (the allocator skips recently deleted inodes),
# which is not what a running archive sees. Prints wall, user and system
# seconds, peak RSS and records/s per run, then the object count and size.
# Reference: the same NDJSON gzipped by gzip(1) at level 1 and 6.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-build-bench/src/shopflow}
runs=${2:-5}
shift $(($# < 2 ? $# : 2))
if [[ ! -x $shopflow ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target shopflow-cli >/dev/null
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-archive.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$shopflow" import --data "$tmp/d" data/online_retail.csv.gz >/dev/null
echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: $shopflow sink archive --data D --objects D/oN --once $*"
for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" \
        "$shopflow" sink archive --data "$tmp/d" --objects "$tmp/d/o$i" --once "$@" >/dev/null
    read -r wall user sys rss < "$tmp/time"
    awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v i="$i" 'BEGIN {
        printf "run %d: %.2f s wall, %.2f s user, %.2f s sys, %d MiB peak RSS, %d records/s\n",
               i, w, u, s, r / 1024, 541909 / w }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
n=$(find "$tmp/d/o1" -name '*.ndjson.gz' | wc -l)
bytes=$(find "$tmp/d/o1" -name '*.ndjson.gz' -printf '%s\n' | awk '{ s += $1 } END { print s }')
find "$tmp/d/o1" -name '*.ndjson.gz' -exec cat {} + | gzip -dc > "$tmp/all.ndjson"
echo "objects: $n, $bytes bytes compressed, $(wc -c < "$tmp/all.ndjson") bytes of NDJSON," \
     "$(wc -l < "$tmp/all.ndjson") records"
for level in 1 6; do
    /usr/bin/time -f "%e" -o "$tmp/time" gzip "-$level" -c "$tmp/all.ndjson" > "$tmp/all.gz"
    echo "reference: gzip -$level of the same NDJSON in one piece: $(cat "$tmp/time") s," \
         "$(wc -c < "$tmp/all.gz") bytes"
done
