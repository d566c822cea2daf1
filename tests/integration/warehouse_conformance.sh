#!/usr/bin/env bash
# Conformance of the warehouse adapters: the same records loaded into the
# "sqlite" adapter (a file) and the "postgres" adapter (a real PostgreSQL
# server started here, tests/support/pg.sh) give
#  - the same rows in every table (facts, dimensions, positions, rollups),
#    dumped by the sqlite3 and psql tools, not by shopflow;
#  - byte-identical BI answers: `shopflow report` in every format and period,
#    and sf_test_bi (sf_bi_answer, what the /v1/bi routes call) for every
#    question, with bounds, limits, ties, non-products and bad parameters.
# Two data sets: a fixture with awkward text (backslash, quotes, tab, which
# COPY must escape) and 60,000 lines of the bundled file loaded in two halves
# by `shopflow serve`'s sink with a PostgreSQL restart between them. serve's
# /v1/bi routes and `shopflow status` are checked over PostgreSQL too.
#   usage: warehouse_conformance.sh SHOPFLOW SF_TEST_BI DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
shopflow=$1 bi=$2 data=$3
tmp=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"

# 1. The fixture: ties, non-products, an invoice across two hours, text COPY escapes.
{ cat "$(dirname "$0")/bi_fixture.csv"
  echo '1008,D4,"back\slash ""quoted"" \N	tab",2,2011-02-01 09:00:00,3.0,400.0,"Korea, Republic of"'
} > "$tmp/f.csv"
"$shopflow" import --data "$tmp/f" "$tmp/f.csv" > /dev/null
"$shopflow" sink warehouse --data "$tmp/f" --once > /dev/null
url=$(pg_new_db fixture)
"$shopflow" sink warehouse --data "$tmp/f" --warehouse "$url" --once > /dev/null
wh_compare fixture "$tmp/f" "$url"
grep -q 'back\\slash' <("$PG_BIN/psql" -X -At -d "$url" -c "SELECT description FROM fact_sales") ||
    fail "the backslash did not survive COPY"

# `shopflow serve --warehouse postgresql://...`: the /v1/bi routes answer from PostgreSQL
# (.warehouse, the positions, is left out: the gateway sizes it by the log's partitions).
key=$("$shopflow" keys create --data "$tmp/f" --role analyst | tail -1)
ingest=$("$shopflow" keys create --data "$tmp/f" --role ingest | tail -1)
start_server "$tmp/f" --warehouse "$url" --sinks warehouse
for q in "top-products?period=month&limit=3" "sales?granularity=hour" "top-invoices?period=day"; do
    curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/v1/bi/$q" |
        jq -c 'del(.warehouse)' > "$tmp/http.json"
    # shellcheck disable=SC2046
    "$bi" "$tmp/f/warehouse.db" "${q%%\?*}" $(tr '&' ' ' <<< "${q#*\?}") |
        jq -c 'del(.warehouse)' > "$tmp/s.json"
    cmp -s "$tmp/http.json" "$tmp/s.json" ||
        fail "GET /v1/bi/$q differs from sqlite's answer: $(cat "$tmp/http.json" "$tmp/s.json")"
done
# The reader keeps the texts it read (per connection) only while nothing is
# loaded: a later line renames product A1 and moves customer 100.
bi_year() {
    curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/v1/bi/top-products?period=year"
    curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/v1/bi/top-customers?period=year"
}
year=$(bi_year)
grep -q '"apple"' <<< "$year" && grep -q '"Germany"' <<< "$year" || fail "year: $year"
{ head -1 "$tmp/f.csv"; echo "1009,A1,apple renamed,1,2011-03-01 08:00:00,2.0,100.0,Norway"; } \
    > "$tmp/more.csv"
[[ $(post "$ingest" "text/csv; charset=utf-8" "$tmp/more.csv") == 200 ]] ||
    fail "POST more.csv: $(cat "$tmp/resp")"
for _ in $(seq 300); do
    [[ $("$PG_BIN/psql" -X -At -d "$url" -c "SELECT count(*) FROM fact_sales") == 12 ]] && break
    sleep 0.2
done
year=$(bi_year)
grep -q '"apple renamed"' <<< "$year" && grep -q '"Norway"' <<< "$year" ||
    fail "the cached texts outlived a load: $year"
stop_server
"$shopflow" status --data "$tmp/f" --warehouse "$url" | grep "^warehouse lag: 0 records" > /dev/null ||
    fail "status: $("$shopflow" status --data "$tmp/f" --warehouse "$url")"
"$shopflow" status --data "$tmp/f" --warehouse "$(pg_new_db unloaded)" |
    grep -q "^warehouse lag: 12 records" || fail "status of a database never loaded"

# Errors name the problem: no server, no tables yet, another schema version.
rc=0
"$shopflow" report --warehouse "postgresql:///x?host=$tmp/none&port=1" > /dev/null 2> "$tmp/err" ||
    rc=$?
[[ $rc -eq 1 ]] && grep -q "warehouse postgres: connect:" "$tmp/err" || fail "no server: $(cat "$tmp/err")"
empty=$(pg_new_db empty)
rc=0
"$bi" "$empty" sales > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -eq 4 ]] && grep -q "no shopflow tables yet" "$tmp/err" || fail "empty: $rc $(cat "$tmp/err")"
"$PG_BIN/psql" -X -q -d "$url" -c "UPDATE shopflow_schema SET version = 8"
for cmd in "report --warehouse $url" "sink warehouse --data $tmp/f --once --warehouse $url"; do
    rc=0
    # shellcheck disable=SC2086
    "$shopflow" $cmd > /dev/null 2> "$tmp/err" || rc=$?
    [[ $rc -ne 0 ]] && grep -q "has schema version 8, newer" "$tmp/err" || fail "$cmd: $(cat "$tmp/err")"
done

# 2. A slice of the bundled file: the first half imported and loaded by serve's
# sink into PostgreSQL; then PostgreSQL restarts, the second half comes in
# through the gateway and the sink (connecting again) merges it into what the
# first stored. SQLite gets the whole log in one load afterwards.
gzip -dc "$data" > "$tmp/all.csv"
{ head -1 "$tmp/all.csv"; sed -n '2,30001p' "$tmp/all.csv"; } > "$tmp/a.csv"
{ head -1 "$tmp/all.csv"; sed -n '30002,60001p' "$tmp/all.csv"; } > "$tmp/b.csv"
url=$(pg_new_db slice)
count() { "$PG_BIN/psql" -X -At -d "$url" -c "SELECT count(*) FROM fact_sales" 2> /dev/null; }
wait_rows() { # N: until PostgreSQL holds N fact rows (at most a minute)
    for _ in $(seq 300); do
        [[ $(count) == "$1" ]] && return 0
        kill -0 "$SERVER_PID" 2> /dev/null || fail "the server stopped: $(cat "$tmp/s.server.log")"
        sleep 0.2
    done
    fail "PostgreSQL holds $(count) fact rows, expected $1: $(tail -3 "$tmp/s.server.log")"
}
"$shopflow" import --data "$tmp/s" "$tmp/a.csv" > /dev/null
ingest=$("$shopflow" keys create --data "$tmp/s" --role ingest | tail -1)
key=$("$shopflow" keys create --data "$tmp/s" --role analyst | tail -1)
start_server "$tmp/s" --warehouse "$url" --sinks warehouse
wait_rows 30000
# The server restarts: the sink's and the read routes' connections break;
# both connect again, the sink resuming from its stored positions.
pg_restart
tail -n +2 "$tmp/b.csv" | split -l 5000 - "$tmp/b."
for part in "$tmp"/b.??; do
    { head -1 "$tmp/all.csv"; cat "$part"; } > "$part.csv"
    [[ $(post "$ingest" "text/csv; charset=utf-8" "$part.csv") == 200 ]] ||
        fail "POST $part: $(cat "$tmp/resp")"
done
wait_rows 60000
grep -q "event=sink_failed sink=warehouse" "$tmp/s.server.log" ||
    fail "the sink never saw its connection break (was PostgreSQL restarted?)"
curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/v1/bi/sales" > /dev/null ||
    fail "no BI answer after PostgreSQL restarted"
stop_server
"$shopflow" sink warehouse --data "$tmp/s" --once > /dev/null
[[ $("$PG_BIN/psql" -X -At -d "$url" -c "SELECT count(*) FROM fact_sales") == 60000 ]] ||
    fail "expected 60,000 fact rows in PostgreSQL"
wh_compare slice "$tmp/s" "$url"

# 3. A schema 3 warehouse: PostgreSQL before bi_rank_head.top, bi_invoice_top
# and the totals' high halves, SQLite before the high halves (its version 3),
# both as the previous shopflow left them (the high halves' columns gone, the
# invoice indexes without them). The next sink migrates each: the tops
# PostgreSQL makes in SQL are those loading wrote, commit after commit, and
# both adapters hold the same rows again.
pg_tops="SELECT list, grain, period, top FROM bi_rank_head ORDER BY 1, 2, 3"
pg_invoice_tops="SELECT * FROM bi_invoice_top ORDER BY 1, 2, 3"
"$PG_BIN/psql" -X -At -d "$url" -c "$pg_tops" -c "$pg_invoice_tops" > "$tmp/tops"
grep -q '^customer|day|.*|\[\[' "$tmp/tops" || fail "no tops: $(head -3 "$tmp/tops")"
grep -q '^day|2011-01-04|20|' "$tmp/tops" || fail "no invoice tops: $(tail -3 "$tmp/tops")"
# old_indexes SQL INCLUDE: the invoice indexes of schema 3 (SQLite: its
# columns as keys; PostgreSQL: INCLUDE), or of schema 2 without INCLUDE
old_indexes() {
    local g sql=""
    for g in day:10 month:7 year:4; do
        sql+="DROP INDEX bi_invoice_${g%:*}; CREATE INDEX bi_invoice_${g%:*} ON bi_invoice"
        sql+=" (substr(invoice_date, 1, ${g#*:}), revenue_milli DESC, invoice_no$1);"
    done
    echo "$sql"
}
# (and before wide stream positions: sink_offsets' next_pos and ordinal)
no_positions_sqlite="ALTER TABLE sink_offsets DROP COLUMN next_pos;
    ALTER TABLE sink_offsets DROP COLUMN ordinal;"
no_positions_pg="ALTER TABLE sink_offsets DROP COLUMN next_pos, DROP COLUMN ordinal;"
no_high_halves="DROP INDEX IF EXISTS bi_sales_wide; DROP INDEX IF EXISTS bi_invoice_wide;
    ALTER TABLE bi_sales DROP COLUMN revenue_hi; ALTER TABLE bi_sales DROP COLUMN units_hi;
    ALTER TABLE bi_invoice DROP COLUMN revenue_hi; ALTER TABLE bi_invoice DROP COLUMN units_hi;"
"$PG_BIN/psql" -X -q -d "$url" -v ON_ERROR_STOP=1 -c "ALTER TABLE bi_rank_head DROP COLUMN top;
    DROP TABLE bi_invoice_top; DROP TABLE sink_quarantine; $no_positions_pg
    $(old_indexes ") INCLUDE (customer_id, invoice_date, units, lines") $no_high_halves
    DELETE FROM shopflow_schema WHERE version >= 4"
sqlite3 -batch "$tmp/s/warehouse.db" \
    "$(old_indexes ", customer_id, invoice_date, units, lines") $no_high_halves
     DROP TABLE sink_quarantine; $no_positions_sqlite PRAGMA user_version = 3"
rc=0
"$shopflow" report --warehouse "$url" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -ne 0 ]] && grep -q "schema version 3.*once to migrate it" "$tmp/err" ||
    fail "a reader of a schema 3 database: $(cat "$tmp/err")"
rc=0
"$shopflow" report --data "$tmp/s" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -ne 0 ]] && grep -q "schema version 3.*once to upgrade it" "$tmp/err" ||
    fail "a reader of a schema 3 file: $(cat "$tmp/err")"
"$shopflow" sink warehouse --data "$tmp/s" --once --warehouse "$url" 2> "$tmp/err" > /dev/null
grep -q "event=warehouse_upgraded .*from=3 to=7" "$tmp/err" || fail "migration 3 to 7: $(cat "$tmp/err")"
"$shopflow" sink warehouse --data "$tmp/s" --once 2> "$tmp/err" > /dev/null
grep -q "event=warehouse_upgraded .*from=3 to=6" "$tmp/err" || fail "upgrade 3 to 6: $(cat "$tmp/err")"
[[ $(sqlite3 -batch "$tmp/s/warehouse.db" "PRAGMA user_version") == 6 ]] || fail "user_version"
"$PG_BIN/psql" -X -At -d "$url" -c "$pg_tops" -c "$pg_invoice_tops" | cmp -s - "$tmp/tops" ||
    fail "the tops made by migration 4 differ from the loaded ones"
wh_compare "schema 3 migrated" "$tmp/s" "$url"

# 4. A schema 2 warehouse (before bi_rank_head, the covering invoice indexes
# and the totals' high halves) is upgraded in place by the next sink: each
# adapter cuts the same heads from its stored lists as loading writes them.
# Readers refuse it until then.
sqlite3 -batch "$tmp/s/warehouse.db" "SELECT * FROM bi_rank_head ORDER BY 1, 2, 3" > "$tmp/heads"
[[ $(wc -l < "$tmp/heads") -gt 100 ]] || fail "too few ranking heads: $(wc -l < "$tmp/heads")"
sqlite3 -batch "$tmp/s/warehouse.db" \
    "DROP TABLE bi_rank_head; DROP TABLE sink_quarantine; $(old_indexes "") $no_high_halves
     $no_positions_sqlite PRAGMA user_version = 2"
"$PG_BIN/psql" -X -q -d "$url" -v ON_ERROR_STOP=1 \
    -c "DROP TABLE bi_rank_head; DROP TABLE bi_invoice_top; DROP TABLE sink_quarantine;
        $no_positions_pg $(old_indexes "") $no_high_halves DELETE FROM shopflow_schema WHERE version >= 3"
rc=0
"$shopflow" report --data "$tmp/s" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -ne 0 ]] && grep -q "schema version 2.*once to upgrade it" "$tmp/err" ||
    fail "a reader of a schema 2 file: $(cat "$tmp/err")"
rc=0
"$shopflow" report --warehouse "$url" > /dev/null 2> "$tmp/err" || rc=$?
[[ $rc -ne 0 ]] && grep -q "schema version 2.*once to migrate it" "$tmp/err" ||
    fail "a reader of a schema 2 database: $(cat "$tmp/err")"
"$shopflow" sink warehouse --data "$tmp/s" --once > /dev/null
"$shopflow" sink warehouse --data "$tmp/s" --once --warehouse "$url" > /dev/null
sqlite3 -batch "$tmp/s/warehouse.db" "SELECT * FROM bi_rank_head ORDER BY 1, 2, 3" |
    cmp -s - "$tmp/heads" || fail "the upgraded SQLite file's heads differ from the loaded ones"
[[ $(sqlite3 -batch "$tmp/s/warehouse.db" "PRAGMA user_version") == 6 ]] || fail "user_version"
sqlite3 -batch "$tmp/s/warehouse.db" "SELECT count(*) FROM sink_quarantine" > /dev/null ||
    fail "no sink_quarantine after the upgrade"
"$PG_BIN/psql" -X -At -d "$url" -c "$pg_tops" -c "$pg_invoice_tops" | cmp -s - "$tmp/tops" ||
    fail "the tops after migrations 3 to 7 differ from the loaded ones"
wh_compare upgraded "$tmp/s" "$url"
echo "ok: the sqlite and postgres adapters hold the same rows and give the same answers"
