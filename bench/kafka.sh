#!/usr/bin/env bash
# Ingest through Kafka (librdkafka's mock cluster, 3 brokers, in its own
# process on this machine) against the local log, with the same commands:
#  - `shopflow import` of the whole bundled file (validating pass included),
#    RUNS times each, into a fresh log folder / a fresh topic of 8 partitions;
#  - `shopflow serve` taking batches of 500 rows from wrk for SECONDS.
#   bench/kafka.sh [BUILD_DIR] [RUNS] [SECONDS]
# BUILD_DIR holds a Release build with the test programs (default
# build-bench-kafka, built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-bench-kafka}
runs=${2:-3}
secs=${3:-10}
if [[ ! -x "$build/src/shopflow" || ! -x "$build/tests/support/sf_test_kafka_mock" ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 --target shopflow-cli sf_test_kafka_mock >/dev/null
fi
shopflow=$build/src/shopflow
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkfifo "$tmp/ctl"
"$build/tests/support/sf_test_kafka_mock" t0 8 < "$tmp/ctl" > "$tmp/mock.out" 2>/dev/null &
exec 7> "$tmp/ctl"
for _ in $(seq 100); do [[ -s "$tmp/mock.out" ]] && break; sleep 0.1; done
bs=$(head -1 "$tmp/mock.out")
topic() { echo "topic $1 8" >&7; sleep 0.3; }

rows=541909
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "import of the bundled file, $runs runs each (s, then rows/s at the mean)"
for kind in local kafka; do
    times=()
    for r in $(seq "$runs"); do
        if [[ $kind == local ]]; then
            where=(--data "$tmp/l$r")
        else
            topic "i$r"
            where=(--data "$tmp/k$r" --stream "kafka://$bs/i$r")
        fi
        s=$(date +%s.%N)
        "$shopflow" import "${where[@]}" data/online_retail.csv.gz > /dev/null 2>&1
        times+=("$(echo "$(date +%s.%N) - $s" | bc)")
    done
    mean=$(printf '%s\n' "${times[@]}" | awk '{s+=$1; q+=$1*$1} END {m=s/NR; printf "%.2f %.2f", m, sqrt(q/NR-m*m)}')
    printf '%-6s runs: %s   mean %s s ± %s   %.0f rows/s\n' "$kind" "${times[*]}" \
        "${mean% *}" "${mean#* }" "$(echo "$rows / ${mean% *}" | bc -l)"
done

echo "gateway, batches of 500 rows, wrk -t1 -c16, ${secs}s"
(gzip -dc data/online_retail.csv.gz || true) | head -501 > "$tmp/batch.csv"
for kind in local kafka; do
    dir=$tmp/s-$kind
    key=$("$shopflow" keys create --data "$dir" --role ingest | tail -1)
    extra=()
    [[ $kind == kafka ]] && { topic "s$kind"; extra=(--stream "kafka://$bs/s$kind"); }
    "$shopflow" serve --data "$dir" --listen 127.0.0.1:0 --sinks none "${extra[@]}" 2> "$tmp/log-$kind" &
    pid=$!
    port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*event=server_started .*port=\([0-9]*\).*/\1/p' "$tmp/log-$kind")
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    out=$(KEY=$key BODY_FILE="$tmp/batch.csv" CTYPE=text/csv \
        wrk -t1 -c16 -d"${secs}s" --latency -s bench/wrk/post.lua "http://127.0.0.1:$port/v1/transactions")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(curl -s "http://127.0.0.1:$port/metrics" |
        grep '^shopflow_http_requests_total{route="/v1/transactions"' | grep -v -e 'code="200"' -e 'code="aborted"' || true)
    printf '%-6s %8s req/s  %8.0f records/s  p50 %s  p99 %s\n' "$kind" "$rps" \
        "$(echo "$rps * 500" | bc)" "$p50" "$p99"
    [[ -z "$bad" ]] || echo "  non-200 answers: $bad"
    kill "$pid"
    wait "$pid" || true
done
