#!/usr/bin/env bash
# emulators.sh - the test set-up itself: lib.sh starts the three emulators,
# each answers on its port, a PUT cut short stores nothing (as on S3; see
# emulators.mjs), a restart keeps the ports and the data, and aws_stop
# leaves no process behind.
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
# A PUT cut short (its client gone mid-body) stores nothing, as on S3, and
# leaves an object already there as it was.
cut() { # KEY: send 5 of 10 announced bytes, then hang up
    python3 - "${AWS_ENDPOINT_URL_S3##*:}" "/$SF_TEST_NAME/$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(f"PUT {sys.argv[2]} HTTP/1.1\r\nHost: 127.0.0.1:{sys.argv[1]}\r\nContent-Length: 10\r\n\r\nhalf!".encode())
s.close()
PY
}
cut partial
cut k
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME/partial")
[[ $code == 404 ]] || aws_fail "a PUT cut short left an object (GET answered $code)"
got=$(curl -s "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME/k")
[[ $got == hello ]] || aws_fail "a PUT cut short changed the object there: '$got'"
s3=$AWS_ENDPOINT_URL_S3
aws_restart
[[ $AWS_ENDPOINT_URL_S3 == "$s3" ]] || aws_fail "restarted on $AWS_ENDPOINT_URL_S3, not $s3"
kill -0 "$pid" 2>/dev/null && aws_fail "the first emulator process $pid is still running"
got=$(curl -s "$AWS_ENDPOINT_URL_S3/$SF_TEST_NAME/k")
[[ $got == hello ]] || aws_fail "after a restart the object reads '$got'"
pid=$AWS_EMU_PID
aws_stop
kill -0 "$pid" 2>/dev/null && aws_fail "emulator process $pid still runs after aws_stop"
echo "emulators: started, answered, refused PUTs cut short, restarted with their data, stopped"
