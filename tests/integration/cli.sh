#!/usr/bin/env bash
# The shopflow command line: help, version, exit statuses, error messages on
# stderr, JSON output, and demo's help.
#   usage: cli.sh SHOPFLOW DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
shopflow=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run EXPECTED_STATUS ARGS...: run shopflow, keep stdout/stderr in $tmp.
run() {
    local want=$1
    shift
    set +e
    "$shopflow" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    set -e
    [[ $rc -eq $want ]] || fail "shopflow $*: exit $rc, expected $want; stderr: $(head -5 "$tmp/err")"
}
has() { grep -q -- "$2" "$tmp/$1" || fail "expected '$2' in $1: $(head -5 "$tmp/$1")"; }

run 0 --version;            has out '^shopflow [0-9]\+\.[0-9]\+\.[0-9]\+$'
run 0 help;                 has out 'check'; has out 'demo'
run 0 help check;           has out 'usage: shopflow check FILE'
run 0 check --help;         has out 'usage: shopflow check FILE'
run 2 help nosuch;          has err "no command named 'nosuch'"
run 2;                      has err 'usage: shopflow COMMAND'
run 2 nosuch;               has err "no command named 'nosuch'"
run 2 check;                has err 'no FILE given'
run 2 check --format xml x; has err "unknown --format 'xml'"
run 1 check "$tmp/missing.csv"; has err 'missing.csv: No such file or directory'

# Invalid rows: exit 1, each on stderr as file:line: field: reason.
cat > "$tmp/bad.csv" <<'CSV'
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom
536365,71053,WHITE METAL LANTERN,abc,2010-12-01 08:26:00,3.39,17850.0,United Kingdom
536366,22633,HAND WARMER UNION JACK,6,2010-13-01 08:28:00,1.85,17850.0,United Kingdom
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00,1.6901,13047.0,United Kingdom
CSV
run 1 check "$tmp/bad.csv"
has err "bad.csv:3: Quantity: \"abc\" is not an integer"
has err "bad.csv:4: InvoiceDate: \"2010-13-01 08:28:00\" month is out of range"
has err "bad.csv:5: UnitPrice: \"1.6901\" has more than 3 decimals"
has out 'invalid rows *3'
run 1 check --json "$tmp/bad.csv"
[[ $(jq '.rows, .invalid, .revenue' "$tmp/out" | tr '\n' ' ') == '4 3 "15.30" ' ]] ||
    fail "json figures of bad.csv: $(cat "$tmp/out")"

# --max-errors limits what is printed, not what is counted.
run 1 check --max-errors 1 "$tmp/bad.csv"
[[ $(grep -c 'bad.csv:' "$tmp/err") -eq 1 ]] || fail "max-errors 1 printed more"
has err '... and 2 more invalid rows'

# A missing column is fatal for that file and named.
printf 'InvoiceNo,StockCode,Quantity,InvoiceDate,CustomerID,Country\n' > "$tmp/nocol.csv"
run 1 check "$tmp/nocol.csv"; has err 'nocol.csv:line 1: header has no UnitPrice column'

# A truncated gzip file is an error, not a short success.
head -c 100000 "$data" > "$tmp/trunc.csv.gz"
run 1 check "$tmp/trunc.csv.gz"; has err 'trunc.csv.gz: unexpected end of file'

# Standard input, NDJSON.
printf '{"InvoiceNo":"C536379","StockCode":"D","Description":"Discount","Quantity":-1,"InvoiceDate":1291193460000,"UnitPrice":27.5,"CustomerID":14527.0,"Country":"United Kingdom"}\n' |
    "$shopflow" check --json - > "$tmp/out" || fail "stdin json"
[[ $(jq -c '[.rows, .cancellation_rows, .non_product_rows, .revenue, .first]' "$tmp/out") == \
   '[1,1,1,"-27.50","2010-12-01 08:51:00"]' ]] || fail "stdin ndjson: $(cat "$tmp/out")"

# A data folder is made with its parents; a file in its way is a clear error.
printf 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n' > "$tmp/one.csv"
run 0 import "$tmp/one.csv" --data "$tmp/new/nested/data"; has out '1 imported'
run 0 keys create --data "$tmp/new2/a/b" --role ingest; has out '^sfk_'
: > "$tmp/plain"
for cmd in "import $tmp/one.csv" "sink all --once" "serve --listen 127.0.0.1:0" "keys create --role ingest" \
           "token --customer 1" "demo --exit --listen 127.0.0.1:0"; do
    run 1 $cmd --data "$tmp/plain/d"; has err "cannot make the data folder $tmp/plain/d: Not a directory"
done

# The ports: a location's scheme picks the adapter; an unknown one is refused
# naming the known ones; --objects-opt, --store-opt, --warehouse-opt reach
# the adapter, which refuses what it does not take.
d=$tmp/new/nested/data
run 1 sink history --data "$d" --once --store "nosuch:$tmp/h"
has err "store: no adapter for 'nosuch:' in 'nosuch:$tmp/h' (known: lmdb, dynamodb)"
run 1 status --data "$d" --objects "gcs://bucket/prefix"; has err "(known: file, s3)"
# S3 without credentials is refused at start, saying where it looked.
(
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE
    export HOME=$tmp AWS_REGION=us-east-1
    run 1 status --data "$d" --objects "s3://bucket/prefix"
)
has err "no AWS credentials for S3: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
run 0 sink history --data "$d" --once --store "lmdb:$tmp/h"; has out '1 records applied'
run 1 status --data "$d" --store "$tmp/h" --store-opt mapsize=1G
has err "$tmp/h: an LMDB store takes no store option ('mapsize=1G')"
run 1 sink archive --data "$d" --once --objects-opt a=1; has err 'a file object store takes no objects option'
run 2 report --data "$d" --warehouse-opt @/no/such/file; has err 'warehouse-opt @/no/such/file: cannot read it'
printf '# settings\nmode=x\n' > "$tmp/wh.opts"
run 1 report --data "$d" --warehouse-opt "@$tmp/wh.opts"
has err "a SQLite warehouse takes no warehouse option ('mode=x')"
run 2 status --data "$d" --objects-opt novalue; has err "objects-opt 'novalue': say KEY=VALUE"

# demo says what it does (demo.sh runs it).
run 0 help demo;            has out 'replays the bundled'
run 2 demo --no-such-flag
echo "ok: cli"
