#!/usr/bin/env bash
# The full bundled file into the "postgres" warehouse (a real PostgreSQL
# server started here, tests/support/pg.sh) through `shopflow sink
# warehouse --warehouse postgresql://...`:
#  - 541,909 fact rows and revenue 9,747,747.934, counted by psql;
#  - every table and BI answer equal to the SQLite run of the same log;
#  - with the sink killed (SIGKILL) 10 times, 1-5 s after each start, while
#    the file is being imported (at least two of the runs must commit
#    something, or the kills prove nothing: on a loaded machine up to 10
#    more runs are killed just after their next commit): the same content again (the
#    positions are committed with the facts and rollups, so a restart loads
#    each record once).
#   usage: warehouse_pg_full.sh SHOPFLOW SF_TEST_BI DATA_GZ
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../support/pg.sh"
# shellcheck disable=SC2034 # bi: used by wh_compare (tests/support/pg.sh)
shopflow=$1 bi=$2 data=$3
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; pg_stop; rm -rf "$tmp" || true' EXIT
pg_start_or_skip "$tmp"
psql_at() { "$PG_BIN/psql" -X -At -d "$1" -c "$2"; }

# The reference: the whole log into SQLite, then into PostgreSQL.
"$shopflow" import --data "$tmp/ref" "$data" > /dev/null
"$shopflow" sink warehouse --data "$tmp/ref" --once > /dev/null
"$shopflow" sink warehouse --data "$tmp/ref" --warehouse "$PG_URL" --once > /dev/null
figures=$(psql_at "$PG_URL" "SELECT count(*), to_char(sum(amount_milli) / 1000.0, 'FM9999999.000')
                             FROM fact_sales")
[[ $figures == "541909|9747747.934" ]] || fail "postgres holds $figures"
wh_compare full "$tmp/ref" "$PG_URL"

# The sink killed 10 times while the import runs, into another database.
url=$(pg_new_db crash)
"$shopflow" import --data "$tmp/run" "$data" > /dev/null &
import=$!
sleep 0.3
grew=0 last=0 kills=0
count() { psql_at "$url" "SELECT count(*) FROM fact_sales" 2>/dev/null || echo 0; }
kill_sink() { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; kills=$((kills + 1)); }
for _ in $(seq 10); do
    "$shopflow" sink warehouse --data "$tmp/run" --warehouse "$url" > /dev/null 2>> "$tmp/sinks.log" &
    sleep "$((1 + RANDOM % 4)).$(printf '%03d' $((RANDOM % 1000)))"
    kill_sink $!
    now=$(count)
    [[ $now -gt $last ]] && grew=$((grew + 1))
    last=$now
done
# On a loaded machine the random kills may all land before a commit: then
# kill right after the next commits instead (bounded), so that at least two
# runs die with progress behind them and work still open.
for _ in $(seq 10); do
    [[ $grew -ge 2 || $last -ge 541909 ]] && break
    "$shopflow" sink warehouse --data "$tmp/run" --warehouse "$url" > /dev/null 2>> "$tmp/sinks.log" &
    for _ in $(seq 200); do [[ $(count) -gt $last ]] && break; sleep 0.1; done
    kill_sink $!
    now=$(count)
    [[ $now -gt $last ]] && grew=$((grew + 1))
    last=$now
done
wait $import || fail "the import failed"
"$shopflow" sink warehouse --data "$tmp/run" --warehouse "$url" --once > /dev/null
[[ $grew -ge 2 ]] || fail "the killed sinks committed between kills only $grew times: $(tail -5 "$tmp/sinks.log")"
wh_compare "after $kills kills" "$tmp/ref" "$url"
echo "ok: the full file in PostgreSQL (541,909 rows, 9,747,747.934), equal to SQLite;" \
     "$kills SIGKILLs of the sink ($grew with progress between them) change nothing"
