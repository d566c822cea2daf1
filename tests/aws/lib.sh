# lib.sh - the AWS emulators for one test (sourced, not run).
#
#   aws_start DIR       start s3rver, dynalite and kinesalite (emulators.mjs)
#                       on free loopback ports, their data in DIR/aws-data;
#                       export the AWS_* settings that point shopflow at them
#   aws_stop            stop them (by PID; also done by the EXIT trap)
#   aws_restart         aws_stop, then start again on the same ports and data
#   aws_test SHOPFLOW DATA_GZ   the start of a test script that CTest runs so:
#                       the integration helpers (tests/integration/lib.sh),
#                       $shopflow, $data, a fresh $tmp, aws_start in it, and at
#                       exit background jobs killed, emulators stopped, $tmp gone
#
# The environment the test gets:
#   AWS_ENDPOINT_URL_S3 / _DYNAMODB / _KINESIS   http://127.0.0.1:PORT
#   AWS_REGION=us-east-1, AWS_ACCESS_KEY_ID=AWS_SECRET_ACCESS_KEY=S3RVER
#       (s3rver accepts only that key id; the other two accept any)
#   SF_TEST_NAME       a fresh name for this test's bucket, table and stream
#   AWS_EMU_PID, AWS_EMU_PORTS ("s3=P,dynamodb=P,kinesis=P"), AWS_EMU_DATA
# From CTest (tests/aws/CMakeLists.txt): SF_AWS_MODULES (npm ci's
# node_modules), SF_AWS_EMULATORS (emulators.mjs), SF_NODE.
#
# The emulators get --parent $$: killed without its trap, the test still
# leaves no emulator behind (it exits within a second of the test).

aws_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

_aws_launch() {
    local out=$AWS_EMU_DATA.out
    : >"$out"
    "${SF_NODE:-node}" --openssl-legacy-provider "$SF_AWS_EMULATORS" --modules "$SF_AWS_MODULES" \
        --data "$AWS_EMU_DATA" --parent $$ ${AWS_EMU_PORTS:+--ports "$AWS_EMU_PORTS"} \
        >"$out" 2>"$out.err" &
    AWS_EMU_PID=$!
    local line=""
    for _ in $(seq 200); do
        line=$(head -1 "$out")
        [[ -n $line ]] && break
        kill -0 "$AWS_EMU_PID" 2>/dev/null || aws_fail "the emulators did not start: $(cat "$out.err")"
        sleep 0.05
    done
    [[ -n $line ]] || aws_fail "the emulators did not start in 10 s: $(cat "$out.err")"
    export AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_KINESIS
    AWS_ENDPOINT_URL_S3=$(jq -r .s3 <<<"$line")
    AWS_ENDPOINT_URL_DYNAMODB=$(jq -r .dynamodb <<<"$line")
    AWS_ENDPOINT_URL_KINESIS=$(jq -r .kinesis <<<"$line")
    AWS_EMU_PORTS="s3=${AWS_ENDPOINT_URL_S3##*:},dynamodb=${AWS_ENDPOINT_URL_DYNAMODB##*:}"
    AWS_EMU_PORTS+=",kinesis=${AWS_ENDPOINT_URL_KINESIS##*:}"
}

aws_start() {
    local dir=${1:?usage: aws_start DIR}
    : "${SF_AWS_MODULES:?SF_AWS_MODULES is not set: run this test through ctest (aws.npm_ci installs the emulators)}"
    : "${SF_AWS_EMULATORS:?SF_AWS_EMULATORS is not set: run this test through ctest}"
    [[ -d $SF_AWS_MODULES ]] || aws_fail "$SF_AWS_MODULES is missing: the fixture aws.npm_ci did not install the emulators"
    mkdir -p "$dir/aws-data"
    AWS_EMU_DATA=$dir/aws-data
    AWS_EMU_PORTS=""
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_DEFAULT_REGION \
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
    export SF_TEST_NAME="sf-$(date +%s%N | tail -c 10)-$$"
    _aws_launch
    trap aws_stop EXIT
}

aws_stop() {
    if [[ -n ${AWS_EMU_PID:-} ]]; then
        kill "$AWS_EMU_PID" 2>/dev/null || true
        wait "$AWS_EMU_PID" 2>/dev/null || true
        AWS_EMU_PID=""
    fi
}

aws_restart() {
    aws_stop
    _aws_launch
}

aws_test() {
    source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
    shopflow=${1:?usage: TEST SHOPFLOW DATA_GZ} data=${2:?usage: TEST SHOPFLOW DATA_GZ}
    tmp=$(mktemp -d)
    aws_start "$tmp"
    trap 'kill $(jobs -p) 2>/dev/null || true; aws_stop; rm -rf "$tmp"' EXIT
}
