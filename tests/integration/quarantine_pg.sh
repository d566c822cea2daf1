#!/usr/bin/env bash
# The warehouse's quarantine on PostgreSQL (a real server started here,
# tests/support/pg.sh): unit.quarantine's warehouse checks (a stop at an
# entry that is not a record, the entry set aside once in the transaction
# that moves the position, also after a crash, a retry applied once) run
# against an empty database, counted through libpq.
#   usage: quarantine_pg.sh TEST_QUARANTINE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
test_quarantine=$1
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"
# Each test starts from an empty database (the schema is made by the first).
SF_TEST_PG_URL=$(pg_new_db quarantine) "$test_quarantine"
