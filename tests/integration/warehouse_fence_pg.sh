#!/usr/bin/env bash
# The warehouse sink's fence on PostgreSQL (a real server started here,
# tests/support/pg.sh): unit.fence's warehouse checks (a batch refused, with
# its whole open transaction, unless it starts at the stored position; the
# rows counted through libpq) run against an empty database.
#   usage: warehouse_fence_pg.sh TEST_FENCE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
test_fence=$1
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"
SF_TEST_PG_URL=$(pg_new_db fence) "$test_fence"
