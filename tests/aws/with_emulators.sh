#!/usr/bin/env bash
# with_emulators.sh COMMAND [ARGS...] - run COMMAND with the AWS emulators
# started for it (lib.sh: AWS_ENDPOINT_URL_S3 and the rest exported), and
# stopped after. Without node (SF_AWS_MODULES unset: CMake found none) the
# command runs as it is, and its AWS parts say they skipped.
set -euo pipefail
if [[ -z ${SF_AWS_MODULES:-} ]] || ! command -v "${SF_NODE:-node}" >/dev/null; then
    echo "with_emulators.sh: node is not installed: running without the AWS emulators" >&2
    unset AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_KINESIS
    exec "$@"
fi
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
aws_start "$tmp"
trap 'aws_stop; rm -rf "$tmp"' EXIT
"$@"
