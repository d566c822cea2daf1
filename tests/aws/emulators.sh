#!/usr/bin/env bash
# emulators.sh - the test set-up itself: lib.sh starts the three emulators,
# each answers on its port, a restart keeps the ports and the data, and
# aws_stop leaves no process behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'aws_stop; rm -rf "$tmp"' EXIT
aws_start "$tmp"
trap 'aws_stop; rm -rf "$tmp"' EXIT
pid=$AWS_EMU_PID
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME")
[[ $code == 200 ]] || aws_fail "s3rver: creating bucket $SF_TEST_NAME answered $code"
curl -s -X PUT --data-binary 'hello' "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME/k" -o /dev/null
for svc in DYNAMODB KINESIS; do
    var=AWS_ENDPOINT_URL_$svc
    code=$(curl -s -o /dev/null -w '%{http_code}' "${!var}/")
    [[ $code =~ ^[2-4][0-9][0-9]$ ]] || aws_fail "$svc emulator at ${!var} answered '$code'"
done
s3=$AWS_ENDPOINT_URL_S3
aws_restart
[[ $AWS_ENDPOINT_URL_S3 == "$s3" ]] || aws_fail "restarted on $AWS_ENDPOINT_URL_S3, not $s3"
kill -0 "$pid" 2>/dev/null && aws_fail "the first emulator process $pid is still running"
got=$(curl -s "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME/k")
[[ $got == hello ]] || aws_fail "after a restart the object reads '$got'"
pid=$AWS_EMU_PID
aws_stop
kill -0 "$pid" 2>/dev/null && aws_fail "emulator process $pid still runs after aws_stop"
echo "emulators: started, answered, restarted with their data, stopped"
