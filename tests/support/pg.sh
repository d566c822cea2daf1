# PostgreSQL for the tests (sourced): a throwaway server in a temporary
# folder, listening only on a unix socket there, on a random port number.
#
#   pg_start DIR   initdb + pg_ctl start in DIR/pg; sets PG_URL (a
#                  postgresql:// location with database "shopflow") and
#                  PG_PSQL (a psql command line for that database)
#   pg_stop        stop it (trap this)
#   pg_new_db NAME another empty database; echoes its location
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

pg_new_db() {
    "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres \
        -c "CREATE DATABASE $1" > /dev/null
    echo "postgresql:///$1?host=$PG_DIR&port=$PG_PORT&user=postgres"
}

pg_stop() {
    [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop > /dev/null 2>&1 || true
}
