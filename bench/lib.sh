# Shared by the benchmark scripts (sourced): a server on a free loopback port.
#
# bench_serve DATA [ARGS...]: start `$shopflow serve` on DATA, its log in
# $tmp/log; sets pid and url. The caller's EXIT trap kills $pid.
bench_serve() {
    local data=$1 port=
    shift
    "$shopflow" serve --data "$data" --listen 127.0.0.1:0 "$@" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's/.*event=server_started .*port=\([0-9]*\).*/\1/p' "$tmp/log")
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    [[ -n "$port" ]] || { echo "the server did not start: $(cat "$tmp/log")" >&2; exit 1; }
    url="http://127.0.0.1:$port"
}

# bench_release BUILD TARGET...: configure BUILD as a Release tree (no tests,
# no dashboard) and build TARGETs, quietly.
bench_release() {
    local build=$1
    shift
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOPFLOW_TESTS=OFF \
        -DSHOPFLOW_DASHBOARD=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target "$@" >/dev/null
}

# bench_aws BUILD NAME: the AWS emulators for a benchmark of an AWS adapter:
# installed under BUILD (npm ci, tests/aws/install.sh) and started on
# loopback (tests/aws/lib.sh: AWS_ENDPOINT_URL_* and the test credentials
# exported); makes $tmp. At exit, background jobs, the emulators and $tmp go.
bench_aws() {
    local mods=$1/aws-emulators
    bash tests/aws/install.sh tests/aws "$mods" >/dev/null
    export SF_AWS_MODULES=$PWD/$mods/node_modules SF_AWS_EMULATORS=$PWD/tests/aws/emulators.mjs
    source tests/aws/lib.sh
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-bench-$2.XXXXXX")
    aws_start "$tmp"
    trap 'kill $(jobs -p) 2>/dev/null || true; aws_stop; rm -rf "$tmp"' EXIT
}
