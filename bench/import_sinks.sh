#!/usr/bin/env bash
# Import -> all three sinks caught up, and the sink process's memory
# (the sinks issue's targets: <= 3 s on 2 cores; peak RSS < 200 MiB).
#   bench/import_sinks.sh [SHOPFLOW] [RUNS]
#
# The measurement, on the bundled file (541,909 rows), each run in a fresh
# data folder, files in the page cache:
#  A. one command: `shopflow import FILE --data D --sinks all`: the import
#     with the three sinks following the log in the same process; it
#     returns when every sink holds every record durably. Wall time from
#     start to exit = "import -> all sinks caught up".
#  B. the same in two steps: `shopflow import FILE --data D`, then
#     `shopflow sink all --data D --once` (the sum of the two wall times).
#  C. the sink process's memory in B's second step, run in a third folder: peak RSS (/usr/bin/time
#     %M = VmHWM) and, sampled every 20 ms from /proc/PID/status, the peaks
#     of RssAnon (heap, stacks: memory of its own) and RssFile (file pages
#     mapped: the LMDB map, the binary and libraries).
# Prints wall, user and system seconds for each, and the load average
# before and after (the machine may be shared: read wall times with it).
# Nothing is deleted until the end: on ext4 without a journal (these VMs),
# creating a file skips every inode freed in the last 60 s (300 s while its
# table block is dirty), so the archive's ~2,400 objects written right after
# a rm -rf of the previous run's cost 2-3 s of system time that no real run
# pays. For the same reason, give it a minute after deleting big trees.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-build-bench/src/shopflow}
runs=${2:-3}
data=data/online_retail.csv.gz
if [[ ! -x $shopflow ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF >/dev/null
    cmake --build build-bench -j"$(nproc)" --target shopflow-cli >/dev/null
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-import-sinks.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

timed() { # LABEL CMD... -> "LABEL: wall user sys rss"; stdout of CMD to $tmp/out
    local label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$@" >"$tmp/out" 2>/dev/null
    read -r wall user sys rss <"$tmp/time"
    printf '%-34s %6.2f s wall  %5.2f s user  %5.2f s sys  %4d MiB peak RSS\n' \
        "$label" "$wall" "$user" "$sys" $((rss / 1024))
    last_wall=$wall
}

# peaks PID: sample /proc/PID/status until it exits; prints the peaks.
peaks() {
    local pid=$1 a f ma=0 mf=0
    while [[ -r /proc/$pid/status ]]; do
        read -r a f < <(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {print a + 0, f + 0}' \
                        "/proc/$pid/status" 2>/dev/null || echo "0 0")
        ((a > ma)) && ma=$a
        ((f > mf)) && mf=$f
        sleep 0.02
    done
    echo "peak RssAnon $((ma / 1024)) MiB, peak RssFile $((mf / 1024)) MiB"
}

echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
    echo "== run $i"
    timed "A. import --sinks all" "$shopflow" import "$data" --data "$tmp/a$i" --sinks all
    grep -q '^sinks (3) caught up' "$tmp/out" || { echo "sinks did not catch up" >&2; exit 1; }
    timed "B1. import" "$shopflow" import "$data" --data "$tmp/b$i"
    b1=$last_wall
    "$shopflow" import "$data" --data "$tmp/c$i" >/dev/null 2>&1
    "$shopflow" sink all --data "$tmp/c$i" --once >/dev/null 2>&1 &
    spid=$!
    ( peaks $spid >"$tmp/peaks" ) &
    wait $spid || { echo "sink all failed" >&2; exit 1; }
    wait
    timed "B2. sink all --once" "$shopflow" sink all --data "$tmp/b$i" --once
    awk -v a="$b1" -v b="$last_wall" 'BEGIN { printf "%-34s %6.2f s wall\n", "B. import, then sink all --once", a + b }'
    echo "C. sink all --once (another folder): $(cat "$tmp/peaks")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
