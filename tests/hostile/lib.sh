# shellcheck shell=bash
# Shared helpers of the hostile suite (sourced, not run).
#
# Builds on tests/integration/lib.sh (fail, start_server, stop_server, post),
# which it sources. A script of the suite reads:
#
#   source "$(dirname "$0")/lib.sh"
#   hostile_init "$@"            # shopflow=$1, data_gz=$2, $tmp, cleanup on exit
#   make_keys "$tmp/data"        # $INGEST $ANALYST $ADMIN, $TOKEN (customer 17850)
#   start_server "$tmp/data"     # $PORT, $SERVER_PID
#   expect_error "$(req "" POST /v1/transactions)" 401 unauthorized "no key"
#   ...
#   hostile_done inputs          # "inputs: ok, N cases (X expected to fail)"
#
# Every expect_* is one case, counted. A case that fails on today's code for
# a defect not fixed yet is written `xfail WHY CHECK...` (see xfail): the
# script passes, says XFAIL, and README.md lists it for the lead.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

# hostile_init SHOPFLOW [DATA_GZ]: the script's variables and its cleanup:
# on exit the server and every pid in EXTRA_PIDS are killed, every mount in
# MOUNTS is unmounted, and $tmp is removed (kept, and named, after a failure
# when HOSTILE_KEEP=1 is in the environment: the data folder to look into).
hostile_init() {
    shopflow=$1
    data_gz=${2:-}
    tmp=$(mktemp -d)
    SERVER_PID=
    EXTRA_PIDS=()
    MOUNTS=()
    CASES=0 XFAILS=0 XPASSES=0
    trap hostile_cleanup EXIT
}

hostile_cleanup() {
    local rc=$? p m
    for p in ${SERVER_PID:-} "${EXTRA_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    for m in "${MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if [[ $rc -ne 0 && ${HOSTILE_KEEP:-} == 1 ]]; then
        echo "kept: $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}

# hostile_done NAME: the closing line, with the count of cases.
hostile_done() {
    local x="$XFAILS expected to fail"
    ((XPASSES == 0)) || x+=", $XPASSES marked so but passing"
    echo "$1: ok, $CASES cases ($x)"
}

# make_keys DIR: an ingest, an analyst and an admin key, and a token of
# customer 17850, in $INGEST $ANALYST $ADMIN $TOKEN.
make_keys() {
    INGEST=$("$shopflow" keys create --data "$1" --role ingest --name ingest | tail -1)
    ANALYST=$("$shopflow" keys create --data "$1" --role analyst --name analyst | tail -1)
    ADMIN=$("$shopflow" keys create --data "$1" --role admin --name admin | tail -1)
    TOKEN=$("$shopflow" token --data "$1" --customer 17850 | tail -1)
}

# req CREDENTIAL METHOD PATH [CURL_ARGS...] -> the status (000: no answer).
# The body is left in $tmp/resp, the headers in $tmp/head. An empty
# CREDENTIAL sends no Authorization header. The path is sent as it is
# (--path-as-is: no ../ folding by curl).
req() {
    local cred=$1 method=$2 path=$3
    shift 3
    local args=(-s --path-as-is -m 20 -o "$tmp/resp" -D "$tmp/head" -w '%{http_code}')
    [[ -n "$cred" ]] && args+=(-H "Authorization: Bearer $cred")
    [[ $method == HEAD ]] && args+=(-I) || args+=(-X "$method")
    : > "$tmp/resp"
    curl "${args[@]}" "$@" "http://127.0.0.1:$PORT$path" || true
}

# post_as CREDENTIAL CONTENT_TYPE TEXT -> the status of POST /v1/transactions
# with TEXT as the body (byte-exact: printf '%s').
post_as() {
    printf '%s' "$3" > "$tmp/body"
    req "$1" POST /v1/transactions -H "Content-Type: $2" --data-binary "@$tmp/body"
}

# holds FILTER [FILE [JQ_ARGS...]]: FILE (default: the last answer's body) is
# one JSON value and FILTER is true of it. (jq -e alone is true of an empty
# file: a body-less answer must not pass a check.)
holds() {
    jq -se "${@:3}" "length == 1 and (.[0] | ($1))" "${2:-$tmp/resp}" > /dev/null 2>&1
}

# The body of the last answer, shortened for a message.
answer() { head -c 600 "$tmp/resp"; }

# expect GOT WANT WHAT: one case: the status is WANT.
expect() {
    CASES=$((CASES + 1))
    [[ "$1" == "$2" ]] || fail "$3: got $1, expected $2; body: $(answer)"
}

# expect_json GOT WANT JQ_FILTER WHAT: the status, and JQ_FILTER is true of
# the body.
expect_json() {
    expect "$1" "$2" "$4"
    holds "$3" || fail "$4: $3 is not true of: $(answer)"
}

# is_error_shape [CODE]: the last body is the documented error shape,
# {"error":{"code":CODE,"message":TEXT,...}} and nothing else, served as
# application/json (CODE empty: any code).
is_error_shape() {
    holds 'keys == ["error"] and (.error | type == "object")
        and (.error.code | type == "string" and length > 0)
        and (.error.message | type == "string" and length > 0)
        and ($c == "" or .error.code == $c)' "$tmp/resp" --arg c "${1:-}" &&
        grep -qi '^content-type: application/json' "$tmp/head"
}

# expect_error GOT WANT CODE WHAT: the status, and the body is the JSON error
# shape with that code (CODE empty: any code).
expect_error() {
    expect "$1" "$2" "$4"
    is_error_shape "$3" || fail "$4: not the JSON error shape${3:+ with code $3}: $(answer)"
}

# expect_invalid GOT INDEX FIELD WHAT: a 400 invalid_records whose first
# error names record INDEX and FIELD (a body that cannot be read to its end
# is expect_unreadable's).
expect_invalid() {
    expect_error "$1" 400 invalid_records "$4"
    holds '.error.errors[0] | .index == $i and .field == $f
        and (.reason | type == "string" and length > 0)' "$tmp/resp" --argjson i "$2" --arg f "$3" ||
        fail "$4: expected record $2's $3 to be named: $(answer)"
}

# expect_unreadable GOT LINE RECORDS_BEFORE WHAT: a 400 unreadable_body
# (docs/api.md: the body could not be read to its end) saying where: its
# line, the records read before it, and a last error that is the fatal one,
# at that line, with no index and no field (LINE or RECORDS_BEFORE "-": any).
expect_unreadable() {
    expect_error "$1" 400 unreadable_body "$4"
    holds '.error as $e | ($e.line | type == "number" and . >= 1)
        and ($e.records_before | type == "number")
        and ($l == "-" or $e.line == ($l | tonumber))
        and ($r == "-" or $e.records_before == ($r | tonumber))
        and ($e.errors[-1] | .fatal == true and .line == $e.line
            and (has("index") or has("field") | not) and (.reason | length > 0))
        and ($e.message | contains("at line \($e.line) ") and contains("nothing was appended"))' \
        "$tmp/resp" --arg l "$2" --arg r "$3" ||
        fail "$4: expected line $2 with $3 records before, the fatal error last: $(answer)"
}

# xfail WHY COMMAND [ARGS...]: a case that fails on today's code, for a defect
# reported to the lead (README.md lists each). COMMAND runs in a subshell:
# its failure prints XFAIL and lets the script go on; if it passes, XPASS
# says the defect looks fixed and the mark should go.
xfail() {
    local why=$1
    shift
    CASES=$((CASES + 1))
    if ("$@") > "$tmp/xfail.out" 2>&1; then
        XPASSES=$((XPASSES + 1))
        echo "XPASS ($why): this case passes now; remove its xfail mark"
    else
        XFAILS=$((XFAILS + 1))
        echo "XFAIL ($why): $(grep -m1 '^FAIL' "$tmp/xfail.out" | cut -c1-300)"
    fi
}

# rec [FIELD RAW_JSON]... -> one record as a JSON object on one line: a valid
# row of invoice 536365 with each FIELD given as RAW_JSON (its JSON text as
# sent, e.g. '"abc"', 1e3, null); RAW_JSON "-" leaves the field out. Fields
# other than the eight and event_id are added after them.
rec() {
    local -A v=([InvoiceNo]='"536365"' [StockCode]='"85123A"' [Description]='"WHITE HANGING HEART"'
        [Quantity]=6 [InvoiceDate]='"2010-12-01 08:26:00"' [UnitPrice]=2.55 [CustomerID]=17850
        [Country]='"United Kingdom"')
    local order=(InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID Country
        event_id)
    while (($# >= 2)); do
        [[ -n ${v[$1]+x} || $1 == event_id ]] || order+=("$1")
        v[$1]=$2
        shift 2
    done
    local out="" f
    for f in "${order[@]}"; do
        [[ -n ${v[$f]+x} && ${v[$f]} != - ]] || continue
        out+="${out:+,}\"$f\":${v[$f]}"
    done
    printf '{%s}' "$out"
}

# records DIR -> how many records the log of DIR holds.
records() { "$shopflow" log stat --data "$1" --json | jq .records; }

# raw_http FILE -> the status of the answer to FILE's bytes sent as they are
# on a new connection (FILE should say Connection: close); the whole answer
# is left in $tmp/raw, its body in $tmp/resp and its headers in $tmp/head.
raw_http() {
    local fd
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    cat "$1" 1>&"$fd" 2>/dev/null || true
    timeout 10 cat <&"$fd" > "$tmp/raw" 2>/dev/null || true
    exec {fd}>&-
    tr -d '\r' < "$tmp/raw" | sed -n '1,/^$/p' > "$tmp/head"
    tr -d '\r' < "$tmp/raw" | sed '1,/^$/d' > "$tmp/resp"
    sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' "$tmp/head"
}


# wait_caught_up SECONDS STATUS_ARGS...: until the three sinks of the running
# server report a lag of 0 in /metrics and `shopflow status STATUS_ARGS`
# (--data DIR, and --objects/--store/--warehouse when elsewhere) finds their
# stored positions at the log's end too (both count what a sink's store
# holds; asking both checks that they agree).
wait_caught_up() {
    local i limit=$1
    shift
    for ((i = 0; i < limit * 10; i++)); do
        curl -s -m 10 "http://127.0.0.1:$PORT/metrics" > "$tmp/metrics" || true
        if [[ $(grep -c '^shopflow_sink_lag_records{sink="[a-z]*"} 0$' "$tmp/metrics") == 3 ]] &&
            "$shopflow" status "$@" --json > "$tmp/status" 2> /dev/null &&
            holds '[.sinks[].lag] | length == 3 and all(. == 0)' "$tmp/status"; then
            return 0
        fi
        sleep 0.1
    done
    fail "the sinks did not catch up: $(grep '^shopflow_sink_' "$tmp/metrics"); $(cat "$tmp/status")"
}

# The description of every record a store of DIR holds, one a line, sorted:
# the tests that count records per store put a unique id in Description.
log_descs() { "$shopflow" log dump --data "$1" | jq -r .description | sort; }
archive_descs() {
    find "$1/archive" -name '*.ndjson.gz' -exec gzip -dc {} + | jq -r .description | sort
}
warehouse_descs() { sqlite3 "$1/warehouse.db" 'SELECT description FROM fact_sales' | sort; }
# history_descs INVOICE_LIST_FILE -> through the running server (GET
# /v1/invoices/NO with $ANALYST), the lines of each invoice listed.
history_descs() {
    local urls=() no
    while read -r no; do urls+=("http://127.0.0.1:$PORT/v1/invoices/$no"); done < "$1"
    ((${#urls[@]})) || return 0
    curl -s -m 60 -H "Authorization: Bearer $ANALYST" "${urls[@]}" |
        jq -r 'select(.lines) | .lines[].description' | sort
}

# same_records WHAT WANT_FILE GOT_FILE: the two sorted lists are equal; else
# fail saying what is missing and what is extra (or doubled).
same_records() {
    CASES=$((CASES + 1))
    cmp -s "$2" "$3" && return 0
    local missing extra
    missing=$(comm -23 "$2" "$3" | wc -l)
    extra=$(comm -13 "$2" "$3" | wc -l)
    fail "$1: $missing records missing (e.g. $(comm -23 "$2" "$3" | head -3 | tr '\n' ' ')), $extra" \
        "extra or doubled (e.g. $(comm -13 "$2" "$3" | head -3 | tr '\n' ' '))"
}
