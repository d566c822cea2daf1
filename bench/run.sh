#!/usr/bin/env bash
# bench/run.sh - build a Release shopflow in build-bench/ and measure it.
#
#   bench/run.sh             10 runs of everything
#   RUNS=20 bench/run.sh     more runs (the machine may be noisy)
#
# 1. bench_decode: decode/encode throughput with the data in memory
#    (CSV with and without the fast path, canonical NDJSON decode, JSON encode);
# 2. hyperfine: `shopflow check` on the bundled .csv.gz and on the same CSV
#    uncompressed, and for comparison the sqlite3 CLI importing that CSV into
#    an in-memory table and counting it (.import --csv + SELECT count(*)).
# Then a summary against the targets in docs/benchmarks.md. Needs hyperfine and
# sqlite3 (jq for the summary). Results are also kept in build-bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-10}
build=build-bench
data=data/online_retail.csv.gz
csv=$build/online_retail.csv
out=$build/results

for tool in cmake hyperfine sqlite3 gzip; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is needed" >&2; exit 1; }
done

echo "== build (Release) in $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target shopflow-cli bench_decode >/dev/null
shopflow=$build/src/shopflow
mkdir -p "$out"
if [[ ! -s $csv || $csv -ot $data ]]; then
    gzip -dc "$data" >"$csv.tmp" && mv "$csv.tmp" "$csv"
fi

echo "== machine"
echo "nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "RAM: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo);" \
     "kernel: $(uname -r); $(gcc --version | head -1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== sanity: every tool sees every row"
"$shopflow" check "$data" | grep -E '^(rows|invalid rows) '
echo "sqlite3 count(*): $(sqlite3 :memory: -cmd ".import --csv $csv t" 'SELECT count(*) FROM t;')"

echo
echo "== bench_decode ($runs runs per case)"
"$build/bench/bench_decode" -n "$runs" "$data" | tee "$out/bench_decode.txt"

echo
echo "== hyperfine ($runs runs each, 2 warm-up runs; the files are in the page cache)"
hyperfine -N --warmup 2 --runs "$runs" \
    --export-json "$out/hyperfine.json" --export-markdown "$out/hyperfine.md" \
    -n "shopflow check .csv.gz" "$shopflow check $data" \
    -n "shopflow check .csv" "$shopflow check $csv" \
    -n "sqlite3 .import + count(*)" \
    "sqlite3 :memory: -cmd '.import --csv $csv t' 'SELECT count(*) FROM t;'"

echo
echo "== results"
cat "$out/hyperfine.md"
echo
if command -v jq >/dev/null; then
    mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) |
             "\(.mean * 1000 | round / 1000) s ± \(.stddev * 1000 | round / 1000) s"' \
             "$out/hyperfine.json"; }
    mean_s() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' \
               "$out/hyperfine.json"; }
    gz=$(mean_s "shopflow check .csv.gz")
    rows=$(awk '/^csv \(fast path\)/ {print $(NF-1)}' "$out/bench_decode.txt")
    verdict() { if awk "BEGIN {exit !($1)}"; then echo "met"; else echo "NOT met"; fi; }
    printf '%-44s %-22s %s\n' "target" "measured" "verdict"
    printf '%-44s %-22s %s\n' "check on the .csv.gz < 0.5 s (mean)" \
        "$(mean "shopflow check .csv.gz")" "$(verdict "$gz < 0.5")"
    printf '%-44s %-22s %s\n' "CSV decode >= 2,000,000 rows/s (best)" "$rows rows/s" \
        "$(verdict "$rows >= 2000000")"
    printf '%-44s %-22s %s\n' "sqlite3 .import + count(*): reference 1.3 s" \
        "$(mean "sqlite3 .import + count(*)")" "(reference)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
