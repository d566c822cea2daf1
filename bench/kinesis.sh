#!/usr/bin/env bash
# The Kinesis stream adapter against Kinesis's emulator (kinesalite), beside
# a bare loop of the same API calls with curl, in the same sitting.
#   bench/kinesis.sh [SHOPFLOW] [RUNS] [ROWS]
# Each run uses fresh 4-shard streams and ROWS rows (default 100,000) of the
# bundled file:
#   append  shopflow: `serve --stream kinesis://bench-sN --sinks none` fed by
#           `replay --batch 500 --connections 8` (the gateway group-commits
#           requests into PutRecords of up to 500 records, 8 calls in flight);
#           wall = the replay's, CPU = the server's (user + sys from /proc)
#           curl: PutRecords of 500 records of the same size (~the packed
#           size, random bytes), one curl process, --parallel-max 8, signed
#           with --aws-sigv4, each record at a shard's hash key
#   read    shopflow: `log dump --stream kinesis://bench-sN` to a file (every
#           shard in turn with GetShardIterator/GetRecords, 10,000 a call;
#           dump also formats each record as JSON)
#           curl: per shard in turn, GetShardIterator TRIM_HORIZON then
#           GetRecords (Limit 10000) until the shard's tip, jq reading each
#           answer's iterator, count and size
#           twice: "limits", Kinesis's read limits kept by both as shopflow
#           keeps them on AWS (200 ms between a shard's calls, and the answer's
#           bytes at 2 MB/s); "free", no pacing by either (read-interval-ms=0,
#           read-bytes-per-second=0): the emulator's ceiling
# The emulator's own CPU is not counted. Runs alternate so all see the same
# load.
set -euo pipefail
cd "$(dirname "$0")/.."
shopflow=${1:-build-bench/src/shopflow}
runs=${2:-3}
rows=${3:-100000}
source bench/lib.sh
[[ -x $shopflow ]] || bench_release build-bench shopflow-cli
bench_aws build-bench kinesis
ep=$AWS_ENDPOINT_URL_KINESIS
sign=(--aws-sigv4 "aws:amz:us-east-1:kinesis" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
      -H "Content-Type: application/x-amz-json-1.1")
api() { # ACTION JSON
    curl -sf "${sign[@]}" -H "X-Amz-Target: Kinesis_20131202.$1" -d "$2" "$ep"
}

gzip -dc data/online_retail.csv.gz | head -$((rows + 1)) > "$tmp/rows.csv" || true # gzip: SIGPIPE
# The packed size of a record, from a local log of the same rows.
"$shopflow" import --data "$tmp/sizing" "$tmp/rows.csv" > /dev/null
size=$(( $(du -sb "$tmp/sizing/log" | cut -f1) / rows ))
# The bare loop's PutRecords bodies: 500 records each, the 4 shards' hash keys in turn.
node -e '
const [rows, size, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3]];
const fs = require("fs"), crypto = require("crypto");
const keys = [0n, 1n, 2n, 3n].map((i) => ((1n << 128n) / 4n * i).toString());
let n = 0, cfg = "";
for (let call = 0; n < rows; call++) {
  const recs = [];
  for (let i = 0; i < 500 && n < rows; i++, n++)
    recs.push({Data: crypto.randomBytes(size).toString("base64"), PartitionKey: String(n),
               ExplicitHashKey: keys[n % 4]});
  fs.writeFileSync(`${dir}/put-${call}.json`, JSON.stringify({StreamName: "STREAM", Records: recs}));
}' "$rows" "$size" "$tmp"

echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "records: $rows, $size bytes packed on average; kinesalite 3.3.3, node $(node --version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

cpu_of() { # PID: user + sys seconds so far
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
report() { # NAME RUN WALL CPU
    awk -v name="$1" -v i="$2" -v w="$3" -v c="$4" -v n="$rows" 'BEGIN {
        printf "%-15s run %d: %6.2f s wall, %7.0f records/s, CPU %.2f s (%.1f us/record)\n",
               name, i, w, n / w, c, c / n * 1e6 }'
}
timed() { # OUT COMMAND...: wall and user+sys of COMMAND into OUT
    local out=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$out" "$@"
}
wait_active() { # STREAM
    for _ in $(seq 200); do
        [[ $(api DescribeStream "{\"StreamName\":\"$1\"}" | jq -r .StreamDescription.StreamStatus) == ACTIVE ]] &&
            return 0
        sleep 0.05
    done
    echo "stream $1 never became active" >&2
    exit 1
}

# The bare read loop: per shard in turn, GetShardIterator TRIM_HORIZON, then
# GetRecords to the tip. MODE limits: as shopflow paces on AWS, each call at
# least 200 ms and the answer's bytes at 2 MB/s after the last; free: no wait.
read_shards() { # STREAM MODE: prints the records read
    local total=0 it out n behind bytes pause
    for shard in 0 1 2 3; do
        it=$(api GetShardIterator "{\"StreamName\":\"$1\",\"ShardId\":\"shardId-00000000000$shard\",\"ShardIteratorType\":\"TRIM_HORIZON\"}" |
            jq -r .ShardIterator)
        while :; do
            out=$(api GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":10000}" |
                jq -r '.NextShardIterator, (.Records | length), .MillisBehindLatest,
                       ([.Records[].Data | length] | add // 0) * 3 / 4')
            { read -r it; read -r n; read -r behind; read -r bytes; } <<< "$out"
            total=$((total + n))
            [[ $n -eq 0 && $behind -eq 0 ]] && break
            if [[ $2 == limits ]]; then
                pause=$(awk -v b="$bytes" 'BEGIN { print 0.2 + b / 2e6 }')
                sleep "$pause"
            fi
        done
    done
    echo "$total"
}

for i in $(seq "$runs"); do
    # shopflow appends
    s=bench-s$i
    key=$("$shopflow" keys create --data "$tmp/gw$i" --role ingest | tail -1)
    bench_serve "$tmp/gw$i" --stream "kinesis://$s" --sinks none --partitions 4
    c0=$(cpu_of "$pid")
    timed "$tmp/t" "$shopflow" replay "$tmp/rows.csv" --url "$url" --key "$key" --batch 500 \
        --connections 8 > "$tmp/replay.out"
    c1=$(cpu_of "$pid")
    kill -TERM "$pid"
    wait "$pid" || true
    report "shopflow append" "$i" "$(cut -d' ' -f1 "$tmp/t")" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')"

    # curl appends
    c=bench-c$i
    api CreateStream "{\"StreamName\":\"$c\",\"ShardCount\":4}" > /dev/null
    wait_active "$c"
    # One transfer per call ("next" between them: a body and its headers each).
    for f in "$tmp"/put-*.json; do
        sed "s/\"STREAM\"/\"$c\"/" "$f" > "$f.$c"
        printf 'url = "%s"\ndata-binary = "@%s"\noutput = "/dev/null"\nfail\nsilent\nshow-error\n' \
            "$ep" "$f.$c"
        printf 'aws-sigv4 = "aws:amz:us-east-1:kinesis"\nuser = "%s:%s"\n' \
            "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
        printf 'header = "Content-Type: application/x-amz-json-1.1"\n'
        printf 'header = "X-Amz-Target: Kinesis_20131202.PutRecords"\nnext\n'
    done | head -n -1 > "$tmp/curl.cfg" # no "next" after the last
    timed "$tmp/t" curl --no-progress-meter --parallel --parallel-max 8 -K "$tmp/curl.cfg"
    read -r w u sy < "$tmp/t"
    report "curl append" "$i" "$w" "$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }')"
    rm -f "$tmp"/put-*.json.*

    # Reads, as on AWS (Kinesis's limits kept: a shard's next call 200 ms after the last,
    # and later after large answers, at 2 MB/s), then with no pacing (the emulator's ceiling).
    for mode in limits free; do
        opts=()
        [[ $mode == free ]] && opts=(--stream-opt read-interval-ms=0 --stream-opt read-bytes-per-second=0)
        timed "$tmp/t" "$shopflow" log dump --stream "kinesis://$s" --data "$tmp/gw$i" "${opts[@]}" \
            > "$tmp/dump"
        read -r w u sy < "$tmp/t"
        got=$(wc -l < "$tmp/dump")
        [[ $got -eq $rows ]] || { echo "log dump gave $got records of $rows" >&2; exit 1; }
        report "shopflow read/$mode" "$i" "$w" "$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }')"
        timed "$tmp/t" bash -c "$(declare -f api read_shards); ep=$ep; sign=($(printf '%q ' "${sign[@]}"));
            read_shards $c $mode > $tmp/curl.read"
        read -r w u sy < "$tmp/t"
        [[ $(cat "$tmp/curl.read") -eq $rows ]] || { echo "curl read $(cat "$tmp/curl.read") of $rows" >&2; exit 1; }
        report "curl read/$mode" "$i" "$w" "$(awk -v u="$u" -v s="$sy" 'BEGIN { print u + s }')"
    done
    # kinesalite holds 10 shards at most (AWS's default account limit): drop this run's streams.
    for x in "$s" "$c"; do
        api DeleteStream "{\"StreamName\":\"$x\"}" > /dev/null
        while api DescribeStream "{\"StreamName\":\"$x\"}" > /dev/null 2>&1; do sleep 0.05; done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
