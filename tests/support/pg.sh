# shellcheck shell=bash disable=SC2034,SC2154
# (sourced: sets PG_* for the caller, and wh_compare uses its $shopflow, $bi, $tmp)
# PostgreSQL for the tests (sourced): a throwaway server in a temporary
# folder, listening only on a unix socket there, on a random port number.
#
#   pg_start_or_skip DIR   the same, exiting 77 (skip) when PostgreSQL is
#                  not installed
#   pg_start DIR   initdb + pg_ctl start in DIR/pg; sets PG_URL (a
#                  postgresql:// location with database "shopflow") and
#                  PG_PSQL (a psql command line for that database)
#   pg_stop        stop it (trap this)
#   pg_new_db NAME another empty database; echoes its location
#   pg_restart     restart the server (every session is closed)
#
# PostgreSQL refuses to run as root: as root, the server runs as the user
# "nobody" (runuser), and DIR/pg belongs to it. Returns 77 (the tests' skip
# code) when the server's programs are not installed.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

pg_as() { # run a server program as its owner
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    local dir=$1/pg
    [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || return 77
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chmod 755 "$1"
        chown nobody "$dir"
    fi
    PG_DIR=$dir
    PG_PORT=$((20000 + RANDOM % 40000))
    pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -p $PG_PORT -c fsync=on" \
        start > /dev/null || { cat "$dir/server.log" >&2; return 1; }
    PG_PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$PG_PORT" -U postgres)
    "${PG_PSQL[@]}" -d postgres -c "CREATE DATABASE shopflow" > /dev/null
    PG_URL="postgresql:///shopflow?host=$dir&port=$PG_PORT&user=postgres"
    PG_PSQL+=(-d shopflow)
}

pg_start_or_skip() { # DIR: pg_start, or exit 77 (skip) without a server, 1 on failure
    local rc=0
    pg_start "$1" || rc=$?
    [[ $rc -eq 77 ]] && { echo "skip: no PostgreSQL server programs in $PG_BIN"; exit 77; }
    [[ $rc -eq 0 ]] || { echo "FAIL: could not start PostgreSQL" >&2; exit 1; }
}

pg_new_db() {
    "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres \
        -c "CREATE DATABASE $1" > /dev/null
    echo "postgresql:///$1?host=$PG_DIR&port=$PG_PORT&user=postgres"
}

pg_restart() { # closes every session, as a server restart in production does
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w restart -l "$PG_DIR/server.log" \
        -o "-c listen_addresses='' -c unix_socket_directories='$PG_DIR' -p $PG_PORT" > /dev/null
}

pg_stop() {
    [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop > /dev/null 2>&1 || true
}

# The tables of the warehouse (with the order that makes a dump canonical)
# and the BI questions the adapters must answer alike.
wh_tables=("fact_sales ORDER BY fact_id" "dim_product ORDER BY 1" "dim_customer ORDER BY 1"
           "dim_date ORDER BY 1" "sink_offsets ORDER BY 1" "bi_sales ORDER BY 1, 2"
           "bi_product ORDER BY 1, 2" "bi_customer ORDER BY 1, 2" "bi_invoice ORDER BY 1"
           "bi_presence ORDER BY 1, 2"
           "(SELECT list, grain, period, entries, head FROM bi_rank_head) bi_rank_head ORDER BY 1, 2, 3")
wh_questions=("sales granularity=hour" "sales granularity=day" "sales granularity=month"
           "sales granularity=year" "sales granularity=day from=2010-12-05 to=2010-12-20"
           "sales granularity=hour from=2011-01-03 to=2011-01-03"
           "profile by=weekday" "profile by=hour"
           "top-products period=day" "top-products period=month by=revenue limit=20"
           "top-products period=year include_non_products=true limit=50"
           "top-products period=day at=2011-01-05" "top-products period=day at=2011-01-03 by=revenue"
           "top-customers period=day" "top-customers period=day limit=21"
           "top-customers period=month limit=100" "top-customers period=year"
           "top-invoices period=day limit=7" "top-invoices period=month" "top-invoices period=year limit=30"
           "top-invoices at=2011-01-03 limit=3" "top-products period=month limit=250"
           "top-products period=day by=revenue limit=120 from=2011-01-04 to=2011-01-12"
           "top-customers period=month limit=300 from=2011-01"
           "sales granularity=week" "top-products limit=0"
           "top-sellers")

# wh_compare NAME DIR PG_URL: every table and BI answer of DIR/warehouse.db
# equals PG_URL's. Uses $shopflow, $bi (sf_test_bi) and $tmp of the caller.
wh_compare() {
    local name=$1 dir=$2 url=$3 n=0 q a b
    # (bi_rank_head by its columns: PostgreSQL's has one more, top)
    for t in "${wh_tables[@]}"; do
        sqlite3 -batch "$dir/warehouse.db" "SELECT * FROM $t" > "$tmp/s.rows"
        "$PG_BIN/psql" -X -At -F '|' -d "$url" -c "SELECT * FROM $t" > "$tmp/p.rows"
        diff "$tmp/s.rows" "$tmp/p.rows" > "$tmp/diff" ||
            { head -5 "$tmp/diff" >&2; fail "$name: table ${t%% *} differs"; }
        [[ ${t%% *} == dim_date || -s "$tmp/s.rows" ]] || fail "$name: ${t%% *} is empty"
    done
    for period in day month year; do
        for format in json csv text; do
            "$shopflow" report --data "$dir" --period "$period" --limit 10 --format $format \
                > "$tmp/s.out"
            "$shopflow" report --warehouse "$url" --period "$period" --limit 10 --format $format \
                > "$tmp/p.out"
            cmp -s "$tmp/s.out" "$tmp/p.out" || fail "$name: report --period $period --format $format"
            n=$((n + 1))
        done
    done
    for q in "${wh_questions[@]}"; do
        a=0 b=0
        # shellcheck disable=SC2086
        "$bi" "$dir/warehouse.db" $q > "$tmp/s.out" 2> "$tmp/s.err" || a=$?
        # shellcheck disable=SC2086
        "$bi" "$url" $q > "$tmp/p.out" 2> "$tmp/p.err" || b=$?
        [[ $a -eq $b ]] || fail "$name: $q: exit $a on sqlite, $b on postgres: $(cat "$tmp/p.err")"
        cmp -s "$tmp/s.out" "$tmp/p.out" || fail "$name: $q: answers differ"
        cmp -s "$tmp/s.err" "$tmp/p.err" || fail "$name: $q: errors differ"
        n=$((n + 1))
    done
    echo "$name: ${#wh_tables[@]} tables and $n answers identical"
}

