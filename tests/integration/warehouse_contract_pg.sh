#!/usr/bin/env bash
# The warehouse port's contract on PostgreSQL (a real server started here,
# tests/support/pg.sh): unit.warehouse's tests, which skip the postgres
# adapter without a server, run against it too, each in a new database.
#   usage: warehouse_contract_pg.sh TEST_WAREHOUSE
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
test_warehouse=$1
tmp=$(mktemp -d)
trap 'pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"
out=$(SF_TEST_PG_URL=$PG_URL "$test_warehouse" 2>&1) || { echo "$out"; fail "the contract failed"; }
grep -q 'SKIPPED' <<<"$out" && { echo "$out"; fail "a test was skipped with a server there"; }
echo "ok: the warehouse contract holds on both adapters"
