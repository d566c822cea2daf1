# Shared helpers for the integration tests (sourced, not run).
#
# The expected figures are computed here by the sqlite3 command-line tool
# straight from the CSV text, independently of shopflow's code: if shopflow's
# decoder, money or date handling were wrong, the two would disagree.
set -euo pipefail

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# sqlite_figures CSV -> one JSON object with the keys of `shopflow check --json`.
# CSV must be UTF-8 with ISO dates (the bundled file's form).
sqlite_figures() {
    sqlite3 -batch :memory: <<SQL
.mode csv
.import '$1' t
.mode list
WITH v AS (
  SELECT InvoiceNo AS inv, StockCode AS sc, Description AS d,
         CAST(Quantity AS INTEGER) AS q, InvoiceDate AS dt,
         CAST(round(CAST(UnitPrice AS REAL) * 1000) AS INTEGER) AS pm,
         CustomerID AS c, Country AS co
  FROM t),
r AS (SELECT sum(q * pm) AS m FROM v)
SELECT json_object(
  'rows', (SELECT count(*) FROM v),
  'invalid', 0,
  'invoices', (SELECT count(DISTINCT inv) FROM v),
  'stock_codes', (SELECT count(DISTINCT sc) FROM v),
  'descriptions', (SELECT count(DISTINCT d) FROM v WHERE d <> ''),
  'customers', (SELECT count(DISTINCT c) FROM v WHERE c <> ''),
  'countries', (SELECT count(DISTINCT co) FROM v),
  'days', (SELECT count(DISTINCT substr(dt, 1, 10)) FROM v),
  'first', (SELECT min(dt) FROM v),
  'last', (SELECT max(dt) FROM v),
  'quantity', (SELECT sum(q) FROM v),
  'revenue', (SELECT printf('%s%d.%03d', CASE WHEN m < 0 THEN '-' ELSE '' END,
                            abs(m) / 1000, abs(m) % 1000) FROM r),
  'cancellation_rows', (SELECT count(*) FROM v WHERE inv GLOB 'C*'),
  'adjustment_rows', (SELECT count(*) FROM v WHERE inv GLOB 'A*'),
  'negative_quantity_rows', (SELECT count(*) FROM v WHERE q < 0),
  'no_customer_rows', (SELECT count(*) FROM v WHERE c = ''),
  'duplicate_rows', (SELECT count(*) FROM t) - (SELECT count(*) FROM (SELECT DISTINCT * FROM t)),
  'zero_price_rows', (SELECT count(*) FROM v WHERE pm = 0),
  'non_product_rows', (SELECT count(*) FROM v WHERE sc IN ('POST', 'DOT', 'M', 'm', 'D', 'C2',
        'S', 'B', 'CRUK', 'PADS', 'AMAZONFEE', 'BANK CHARGES')
        OR sc GLOB 'gift_0001_*' OR sc GLOB 'DCGS*'));
SQL
}

# same_figures EXPECTED_JSON ACTUAL_JSON: every key of EXPECTED equal in ACTUAL.
same_figures() {
    local diff
    diff=$(jq -n --argjson e "$1" --argjson a "$2" \
        '[$e | keys[] as $k | select($e[$k] != $a[$k]) |
          "\($k): expected \($e[$k]), shopflow says \($a[$k])"] | .[]' -r)
    if [[ -n "$diff" ]]; then
        echo "$diff" >&2
        return 1
    fi
}

# start_server DATA_DIR [ARGS...]: run `shopflow serve` on a free loopback
# port; sets SERVER_PID and PORT, logs to DATA_DIR.server.log. It may take
# SERVER_START_SECONDS (10) to listen.
start_server() {
    local dir=$1
    shift
    local log="$dir.server.log"
    : > "$log"
    "$shopflow" serve --data "$dir" --listen 127.0.0.1:0 "$@" 2>>"$log" &
    SERVER_PID=$!
    for _ in $(seq $((${SERVER_START_SECONDS:-10} * 20))); do
        PORT=$(sed -n 's/.*event=server_started .*port=\([0-9]*\).*/\1/p' "$log" | tail -1)
        [[ -n "$PORT" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "server did not start: $(cat "$log")"
        sleep 0.05
    done
    fail "server did not start in ${SERVER_START_SECONDS:-10} s: $(cat "$log")"
}

# metric NAME: its value in the running server's /metrics (NAME with its
# labels, as the exposition writes it); empty when absent.
metric() { curl -s -m 10 "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# wait_for METRIC VALUE: until the server's METRIC is VALUE (60 s at most;
# failing at once when the server is gone).
wait_for() {
    for _ in $(seq 600); do
        [[ "$(metric "$1")" == "$2" ]] && return 0
        [[ -z ${SERVER_PID:-} ]] || kill -0 "$SERVER_PID" 2> /dev/null || fail "the server stopped"
        sleep 0.1
    done
    fail "$1 is $(metric "$1"), expected $2"
}

# stop_server: SIGTERM, and the server must exit 0.
stop_server() {
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    [[ $rc -eq 0 ]] || fail "server exited $rc on SIGTERM"
}

# post KEY CONTENT_TYPE BODY_FILE: POST to /v1/transactions; prints the
# status code; the body is left in $tmp/resp.
post() {
    curl -s -o "$tmp/resp" -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/transactions" \
        ${1:+-H "Authorization: Bearer $1"} -H "Content-Type: $2" --data-binary "@$3"
}

# stores_content DIR HISTORY_QUERY -> one line per sink's store: the archive's
# records (sorted), the history store's digest (tests/support/history_query.c)
# and the warehouse's rows, rollups included: for comparing two runs.
stores_content() {
    find "$1/archive" -name '*.ndjson.gz' -exec cat {} + | gzip -dc | sort | md5sum
    "$2" "$1/history" 536365 17850
    sqlite3 "$1/warehouse.db" "SELECT * FROM fact_sales ORDER BY log_partition, log_offset;
        SELECT * FROM dim_product ORDER BY 1; SELECT * FROM dim_customer ORDER BY 1;
        SELECT * FROM dim_date ORDER BY 1; SELECT * FROM sink_offsets ORDER BY 1;
        SELECT * FROM bi_sales ORDER BY 1, 2; SELECT * FROM bi_product ORDER BY 1, 2;
        SELECT * FROM bi_customer ORDER BY 1, 2; SELECT * FROM bi_invoice ORDER BY 1;
        SELECT * FROM bi_presence ORDER BY 1, 2" | md5sum
}
