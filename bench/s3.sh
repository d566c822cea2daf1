#!/usr/bin/env bash
# The archive sink against S3's emulator (s3rver), beside a bare loop of the
# same PUTs with curl, in the same sitting.
#   bench/s3.sh [SHOPFLOW] [RUNS]
# The bundled file is imported once; each run then puts the whole archive
# (2,431 objects at the default object size) into a fresh bucket:
#   shopflow  `sink archive --objects s3://bench-sN/a --once` (8 PUTs in flight)
#   curl      the same objects (made once by the file adapter: the same bytes
#             and names), PUT by one curl process with --parallel-max 8,
#             signed the same way (--aws-sigv4), over kept-alive connections
#   file      the same sink into a local folder: the CPU the sink spends
#             apart from S3 (reading the log, gzip), for the difference
# Runs alternate so all see the same load. Prints per run: wall, objects/s,
# records/s, and the client's CPU (user + sys) per object; the emulator's
# own CPU is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-build-bench/src/shopflow}
runs=${2:-3}
source bench/lib.sh
[[ -x $shopflow ]] || bench_release build-bench shopflow-cli
bench_aws build-bench s3

"$shopflow" import --data "$tmp/d" data/online_retail.csv.gz >/dev/null
"$shopflow" sink archive --data "$tmp/d" --objects "$tmp/files" --once >/dev/null
(cd "$tmp/files" && find . -name '*.ndjson.gz' | sed 's|^\./||' | sort) > "$tmp/keys"
n=$(wc -l < "$tmp/keys")
bytes=$(cd "$tmp/files" && xargs cat < "$tmp/keys" | wc -c)
echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "objects: $n, $bytes bytes ($((bytes / n)) bytes each on average); s3rver 3.7.1, node $(node --version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

report() { # NAME RUN
    read -r wall user sys < "$tmp/time"
    awk -v name="$1" -v i="$2" -v w="$wall" -v u="$user" -v s="$sys" -v n="$n" 'BEGIN {
        printf "%-8s run %d: %6.2f s wall, %5.0f objects/s, %7.0f records/s, CPU %.2f s (%.0f us/object)\n",
               name, i, w, n / w, 541909 / w, u + s, (u + s) / n * 1e6 }'
}
for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$shopflow" sink archive --data "$tmp/d" \
        --objects "s3://bench-s$i/a" --once >/dev/null
    report shopflow "$i"
    curl -sf -X PUT "$AWS_ENDPOINT_URL_S3/bench-c$i" >/dev/null
    while read -r k; do
        printf 'upload-file = "%s/files/%s"\nurl = "%s/bench-c%s/a/%s"\n' "$tmp" "$k" \
            "$AWS_ENDPOINT_URL_S3" "$i" "$k"
    done < "$tmp/keys" > "$tmp/curl.cfg"
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" curl -sf --no-progress-meter --parallel --parallel-max 8 \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -K "$tmp/curl.cfg" >/dev/null
    report curl "$i"
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$shopflow" sink archive --data "$tmp/d" \
        --objects "$tmp/files$i" --once >/dev/null
    report file "$i"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
got=$(curl -sf "$AWS_ENDPOINT_URL_S3/bench-s1?list-type=2&prefix=a/raw/" | grep -o '<KeyCount>[0-9]*' | sed 's/.*>//')
echo "check: bucket bench-s1 lists $got keys on its first page (of $n)"
