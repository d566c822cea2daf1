#!/usr/bin/env bash
# The same data written the way the widely shared data.csv export writes it
# (M/D/YYYY H:MM dates, integer CustomerID, ISO-8859-1 text, CRLF line ends)
# gives the same figures as the bundled file, computed by sqlite3.
#   usage: check_datacsv.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

gzip -dc "$data" > "$tmp/data.csv"
# Dates: 2010-12-01 08:26:00 -> 12/1/2010 8:26; CustomerID 17850.0 -> 17850
# (it is the next-to-last column, and Country never holds a comma).
perl -pe 's{(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):00}{sprintf("%d/%d/%d %d:%s", $2, $3, $1, $4, $5)}e;
          s{,(\d+)\.0,([^,\n]*)$}{,$1,$2}; s{\n}{\r\n}' "$tmp/data.csv" |
    iconv -f UTF-8 -t ISO-8859-1 > "$tmp/latin1.csv"

# The transformation really happened.
grep -q $'\r$' "$tmp/latin1.csv" || fail "no CRLF"
LC_ALL=C grep -q $'\xa3' "$tmp/latin1.csv" || fail "no Latin-1 pound sign"
LC_ALL=C grep -q $'\xc2\xa3' "$tmp/latin1.csv" && fail "UTF-8 pound sign left"
grep -q '^536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom' \
    "$tmp/latin1.csv" || fail "first row not in data.csv form"

expected=$(sqlite_figures "$tmp/data.csv")
actual=$("$shopflow" check --json "$tmp/latin1.csv") || fail "check exited $?"
same_figures "$expected" "$actual" || fail "data.csv-style figures differ"

# Gzip-compressed, and with --encoding latin1 forced, the same again.
gzip -c "$tmp/latin1.csv" > "$tmp/latin1.csv.gz"
actual=$("$shopflow" check --json --encoding latin1 "$tmp/latin1.csv.gz") || fail "gz exited $?"
same_figures "$expected" "$actual" || fail "gzip latin1 figures differ"
# Under --encoding utf-8 the Latin-1 rows are errors, named by line and field.
set +e
"$shopflow" check --encoding utf-8 "$tmp/latin1.csv" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "utf-8 on Latin-1 text: exit $rc, expected 1"
grep -q 'latin1.csv:[0-9]*: Description: is not valid UTF-8' "$tmp/err" || fail "no utf-8 error: $(head -3 "$tmp/err")"
echo "ok: data.csv-style export gives the same figures"
