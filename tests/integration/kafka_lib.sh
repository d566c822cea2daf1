# Helpers of the Kafka integration tests (sourced after lib.sh): the mock
# cluster (tests/support/sf_test_kafka_mock) commanded through a FIFO, the
# data in chunks with event ids, posting a chunk until it is acknowledged,
# and the evidence a failed run keeps. The sourcing script sets shopflow,
# mockbin, tmp and key (and calls kafka_mock_start first).
set -euo pipefail

MOCK_PID= stream= restarts=0
# On failure the evidence is kept in a folder of the build dir (ctest runs
# the tests from there; SF_TEST_EVIDENCE_DIR overrides).
evidence=${SF_TEST_EVIDENCE_DIR:-$PWD}/kafka-evidence

# kafka_mock_start PARTITIONS: a 3-broker cluster with topic "shop"; sets
# MOCK_PID and stream. Its debug log (every batch the brokers store, with
# the partition's log start and end) goes to $tmp/mock.err.
kafka_mock_start() {
    mkfifo "$tmp/ctl"
    SF_TEST_KAFKA_MOCK_DEBUG=1 "$mockbin" shop "$1" < "$tmp/ctl" > "$tmp/mock.out" \
        2> "$tmp/mock.err" &
    MOCK_PID=$!
    exec 7> "$tmp/ctl"
    for _ in $(seq 100); do [[ -s "$tmp/mock.out" ]] && break; sleep 0.1; done
    local bootstrap
    bootstrap=$(head -1 "$tmp/mock.out")
    [[ -n "$bootstrap" ]] || fail "the mock cluster did not start: $(cat "$tmp/mock.err")"
    stream="kafka://$bootstrap/shop"
}

# kafka_serve: `shopflow serve --sinks none` on the cluster (SERVER_PID, PORT).
# One produce request in flight per broker: the mock cluster does not check
# an idempotent producer's sequence numbers (librdkafka 2.0's mock checks
# them for transactional producers only), and librdkafka counts a batch as
# delivered once a later batch of its partition is acknowledged (an
# implicit ack: a real broker refuses a later batch while an earlier one is
# missing, OUT_OF_ORDER_SEQUENCE_NUMBER). With several requests in flight, a
# retriable error injected on the first (NOT_LEADER_OR_FOLLOWER,
# REQUEST_TIMED_OUT) let the mock store the next one over the gap, and the
# first was reported delivered, never stored: an acknowledged row missing
# from the topic, a flaw of the test cluster that real brokers do not have
# (unit.kafka test_pipelined_retry shows it).
# (SF_TEST_KAFKA_INFLIGHT=5 brings the flaw back, to see a test fail.) The
# array serve_opts holds a test's other server settings.
serve_opts=()
kafka_serve() {
    start_server "$tmp/gw" --stream "$stream" --sinks none "${serve_opts[@]}" \
        --stream-opt max.in.flight.requests.per.connection=${SF_TEST_KAFKA_INFLIGHT:-1}
}

mock() { # COMMAND...: send it, wait for its answer, which must be ok
    local n
    n=$(wc -l < "$tmp/mock.out")
    echo "$*" >&7
    for _ in $(seq 100); do
        [[ $(wc -l < "$tmp/mock.out") -gt $n ]] && break
        sleep 0.05
    done
    [[ $(tail -1 "$tmp/mock.out") == ok ]] || fail "mock $*: $(tail -1 "$tmp/mock.out")"
}

# kafka_chunks DATA_GZ ROWS SIZE: the first ROWS rows (0: all) in files
# $tmp/chunkNN.csv of SIZE rows, each row with its event id row-N.
kafka_chunks() {
    perl -e '
        my ($dir, $max, $size) = @ARGV; my $header = <STDIN>; chomp $header;
        $header =~ s/\r$//; my ($n, $fh) = (0);
        while (my $l = <STDIN>) {
            last if $max && $n >= $max;
            chomp $l; $l =~ s/\r$//;
            if ($n % $size == 0) {
                close $fh if $fh;
                open $fh, ">", sprintf("%s/chunk%02d.csv", $dir, $n / $size) or die;
                print $fh "$header,event_id\n";
            }
            print $fh "$l,row-$n\n"; $n++;
        }
        close $fh;' "$tmp" "$2" "$3" < <(gzip -dc "$1")
}

# post_chunk FILE: until the gateway acknowledges it all. A refusal after
# an append in doubt (readyz unready) is cured by restarting the server.
# Every answer goes to $tmp/posts.log. Run it in the main shell (it may
# restart the server: SERVER_PID and PORT change).
post_chunk() {
    local rows code
    rows=$(($(wc -l < "$1") - 1))
    for _ in $(seq 20); do
        code=$(post "$key" text/csv "$1")
        echo "$(date +%T.%N) $(basename "$1") $code $(cat "$tmp/resp")" >> "$tmp/posts.log"
        if [[ $code == 200 ]]; then
            [[ $(jq '.accepted + .duplicates' "$tmp/resp") -eq $rows ]] ||
                fail "$1: $(cat "$tmp/resp")"
            return 0
        fi
        [[ $code == 503 || $code == 429 ]] || fail "$1: $code $(cat "$tmp/resp")"
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") != 200 ]]; then
            stop_server
            cat "$tmp/gw.server.log" >> "$tmp/gw.earlier.log" # start_server empties it
            restarts=$((restarts + 1))
            kafka_serve
        fi
        sleep 0.2
    done
    fail "$1 was never acknowledged"
}

# kafka_topic_check ROWS: the topic holds row-0 .. row-(ROWS-1) once each,
# and the brokers dropped nothing (every partition still starts at 0: the
# mock cluster keeps at most 5 MiB a partition and silently drops the
# oldest batches beyond, which would look like acknowledged records lost).
kafka_topic_check() {
    # How close the brokers came to that limit, from their own log.
    perl -ne '$b{$1} += $2 if /Log append \S+ \[(\d+)\] \d+ messages, (\d+) bytes/;
        END { my ($p) = sort { $b{$b} <=> $b{$a} } keys %b;
              printf "mock cluster: partition %s holds the most, %d bytes (%.0f%% of 5 MiB)\n",
                  $p, $b{$p}, 100 * $b{$p} / 5242880 if defined $p }' "$tmp/mock.err"
    "$shopflow" log stat --stream "$stream" --json > "$tmp/stat.json"
    [[ $(jq '[.partitions[].start_offset] | max' "$tmp/stat.json") -eq 0 ]] ||
        fail "the mock cluster dropped the oldest batches (its 5 MiB a partition):" \
            "$(jq -c '[.partitions[].start_offset]' "$tmp/stat.json")"
    "$shopflow" log dump --stream "$stream" | jq -r .event_id | sort > "$tmp/ids"
    [[ $(wc -l < "$tmp/ids") -eq $1 ]] || fail "the topic holds $(wc -l < "$tmp/ids") records"
    [[ -z $(uniq -d "$tmp/ids") ]] || fail "event ids twice in the topic: $(uniq -d "$tmp/ids" | wc -l)"
    [[ $(jq .records "$tmp/stat.json") -eq $1 ]] || fail "log stat: $(cat "$tmp/stat.json")"
}

# What the topic really holds, and what every process said, while the
# cluster still runs: log stat (start and end offsets), each partition
# dumped (gzip) with its count and first and last offsets, the event ids
# row-0 .. row-(ROWS-1) missing from or twice in the topic, the brokers' own
# log of every batch they stored (mock.err), the servers', sinks' and posts'
# logs. Bounded: each read gives up after 2 minutes.
#   kafka_evidence PARTITIONS ROWS
kafka_evidence() {
    local dir
    dir=$evidence/$(date +%Y%m%d-%H%M%S)-$$
    mkdir -p "$dir"
    cp "$tmp"/*.log "$tmp"/*.out "$tmp"/*.err "$tmp"/resp "$dir"/ 2>/dev/null || true
    if [[ -n "$stream" ]] && kill -0 "$MOCK_PID" 2>/dev/null; then
        timeout 120 "$shopflow" log stat --stream "$stream" > "$dir/log-stat.txt" 2>&1 || true
        for p in $(seq 0 $(($1 - 1))); do
            timeout 120 "$shopflow" log dump --stream "$stream" --partition "$p" \
                2> "$dir/dump.p$p.err" | gzip > "$dir/dump.p$p.ndjson.gz" || true
            gzip -dc "$dir/dump.p$p.ndjson.gz" | jq -r '[.offset, .event_id] | @tsv' |
                awk -v p="$p" 'NR == 1 { f = $1 } { l = $1; n++ }
                    END { print "partition " p ": " n + 0 " records, offsets " f "..." l }' \
                >> "$dir/counts.txt" || true
        done
        for f in "$dir"/dump.p*.ndjson.gz; do gzip -dc "$f"; done | jq -r .event_id |
            perl -e '
                my $rows = shift; my %n; while (<STDIN>) { chomp; $n{$_}++ }
                my @m = grep { !$n{"row-$_"} } 0 .. $rows - 1;
                print scalar(@m), " event ids missing\n";
                print "missing row-$_\n" for @m[0 .. ($#m < 999 ? $#m : 999)];
                for (sort keys %n) { print "twice $_ ($n{$_})\n" if $n{$_} > 1 }' "$2" \
            > "$dir/ids.txt" || true
    fi
    echo "$(basename "$0"): evidence kept in $dir" >&2
}

# The EXIT trap of a Kafka test: ends its processes (the cluster last, after
# the evidence of a failure is kept).   kafka_cleanup RC PARTITIONS ROWS
kafka_cleanup() {
    for j in $(jobs -p); do [[ $j == "$MOCK_PID" ]] || kill "$j" 2>/dev/null || true; done
    [[ $1 -eq 0 ]] || kafka_evidence "$2" "$3" || true
    [[ -z "$MOCK_PID" ]] || kill "$MOCK_PID" 2>/dev/null || true
}
