#!/usr/bin/env bash
# `shopflow check` on the bundled dataset reports the published figures, and
# the same figures as sqlite3 computes from the CSV on its own.
#   usage: check_bundled.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

actual=$("$shopflow" check --json "$data") || fail "check exited $?"

# The figures published with the dataset (data/README.md).
published='{"rows":541909,"invalid":0,"invoices":25900,"stock_codes":4070,"descriptions":4223,
  "customers":4372,"countries":38,"days":305,"first":"2010-12-01 08:26:00",
  "last":"2011-12-09 12:50:00","quantity":5176450,"revenue":"9747747.934",
  "cancellation_rows":9288,"adjustment_rows":3,"negative_quantity_rows":10624,
  "no_customer_rows":135080,"duplicate_rows":5268,"zero_price_rows":2515}'
same_figures "$published" "$actual" || fail "figures differ from the published ones"

gzip -dc "$data" > "$tmp/data.csv"
expected=$(sqlite_figures "$tmp/data.csv")
same_figures "$expected" "$actual" || fail "figures differ from sqlite3's"
echo "ok: check matches the published figures and sqlite3 ($(jq -c '{rows, revenue}' <<<"$actual"))"
