/*
 * postgres_store.c - how the "postgres" warehouse writes: staging tables
 * filled by COPY, merged into the real tables by one upsert each at commit,
 * and the rollup store of rollup.h over them.
 *
 * Why staged: a network round trip costs more than writing a row, so the
 * rollup writes (one per key) are appended to COPY text buffers instead of
 * sent, and each table gets one INSERT ... SELECT ... ON CONFLICT from its
 * staging table. The upserts carry the same rules as the SQLite adapter's
 * statements (sums add, invoices keep the smallest customer and earliest
 * date, dimensions their latest line), so both hold the same rows. The
 * staging tables are temporary (ON COMMIT DELETE ROWS): private to the
 * session and emptied by the commit or rollback that ends the load.
 *
 * The only reads while loading are per key (an invoice's stored hours, a
 * period's stored ranked list), done by prepared statements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/warehouse/postgres/postgres_int.h"

static const char *const stage_name[NSTAGE] = {
    [STAGE_FACTS] = "fact_sales",
    [STAGE_OFFSETS] = "sink_offsets",
    [STAGE_SALES] = "bi_sales",
    [STAGE_PRODUCT] = "bi_product",
    [STAGE_CUSTOMER] = "bi_customer",
    [STAGE_INVOICE] = "bi_invoice",
    [STAGE_PRESENCE] = "bi_presence",
    [STAGE_DIM_PRODUCT] = "dim_product",
    [STAGE_DIM_CUSTOMER] = "dim_customer",
    [STAGE_DIM_DATE] = "dim_date",
    [STAGE_HEAD] = "bi_rank_head",
};

#define TOUCHED_TOPS_OF(g, len)                                                                    \
    SF_PG_INVOICE_TOP(g, len, "SELECT period FROM stage_touched WHERE grain = '" g "'")
#define TOUCHED_TOPS                                                                               \
    TOUCHED_TOPS_OF("day", "10") TOUCHED_TOPS_OF("month", "7") TOUCHED_TOPS_OF("year", "4")

/* A total's two columns (money.h: v = hi x 10^18 + lo, lo with v's sign)
 * after adding the stored row's and the staged one's: in numeric, whose
 * div() and mod() truncate toward zero as sf_i128_split does. */
#define E18 "1000000000000000000"
#define PG_SUM(lo, hi)                                                                             \
    "(t." hi "::numeric * " E18 " + t." lo " + excluded." hi "::numeric * " E18 " + excluded." lo  \
    ")"
#define PG_LO(lo, hi)     "mod(" PG_SUM(lo, hi) ", " E18 ")::bigint"
#define PG_HI(lo, hi)     "div(" PG_SUM(lo, hi) ", " E18 ")::bigint"
#define ADD_TOTAL(lo, hi) lo " = " PG_LO(lo, hi) ", " hi " = " PG_HI(lo, hi)
#define ADD_TOTALS        ADD_TOTAL("revenue_milli", "revenue_hi") ", " ADD_TOTAL("units", "units_hi")

/* Each staging table into its table, in the order of the tables' meaning
 * (all in one transaction, so the order matters only for clarity). */
static const char merge_sql[] =
    ("INSERT INTO fact_sales SELECT * FROM stage_fact_sales;"
     "INSERT INTO sink_offsets SELECT * FROM stage_sink_offsets ON CONFLICT (log_partition) "
     "  DO UPDATE SET next_offset = excluded.next_offset, next_pos = excluded.next_pos,"
     "  ordinal = excluded.ordinal;"
     "INSERT INTO bi_sales AS t SELECT * FROM stage_bi_sales ON CONFLICT (grain, period) DO UPDATE "
     "  SET " ADD_TOTALS ", lines = t.lines + excluded.lines,"
     "  invoices = t.invoices + excluded.invoices, customers = t.customers + excluded.customers;"
     "INSERT INTO bi_product SELECT * FROM stage_bi_product ON CONFLICT (grain, period) DO UPDATE "
     "  SET products = excluded.products, by_units = excluded.by_units,"
     "  by_revenue = excluded.by_revenue;"
     "INSERT INTO bi_customer SELECT * FROM stage_bi_customer ON CONFLICT (grain, period) "
     "  DO UPDATE SET customers = excluded.customers, by_revenue = excluded.by_revenue;"
     "INSERT INTO bi_rank_head SELECT * FROM stage_bi_rank_head ON CONFLICT (list, grain, period)"
     "  DO UPDATE SET entries = excluded.entries, head = excluded.head, top = excluded.top;"
     /* The periods whose first invoices may change: those of the
      * transaction's invoices, before (an earlier line moves an invoice)
      * and after the merge. */
     "INSERT INTO stage_touched SELECT DISTINCT v.grain, substr(x.d, 1, v.len) FROM"
     "  (SELECT invoice_date AS d FROM stage_bi_invoice UNION ALL SELECT i.invoice_date"
     "  FROM bi_invoice i JOIN stage_bi_invoice USING (invoice_no)) x"
     "  CROSS JOIN (VALUES ('day', 10), ('month', 7), ('year', 4)) v (grain, len);"
     /* least() skips NULLs: the smallest customer id among the lines. */
     "INSERT INTO bi_invoice AS t SELECT * FROM stage_bi_invoice ON CONFLICT (invoice_no) "
     "  DO UPDATE SET customer_id = least(t.customer_id, excluded.customer_id),"
     "  invoice_date = least(t.invoice_date, excluded.invoice_date),"
     "  " ADD_TOTALS ", lines = t.lines + excluded.lines;"
     "DELETE FROM bi_invoice_top t USING stage_touched s"
     "  WHERE t.grain = s.grain AND t.period = s.period;" TOUCHED_TOPS
     "INSERT INTO bi_presence SELECT * FROM stage_bi_presence"
     "  ON CONFLICT (invoice_no, customer_id) DO UPDATE SET hours = excluded.hours;"
     "INSERT INTO dim_product AS t SELECT * FROM stage_dim_product ON CONFLICT (stock_code) "
     "  DO UPDATE SET description = excluded.description, last_seen = excluded.last_seen"
     "  WHERE (excluded.last_seen, excluded.description) > (t.last_seen, t.description);"
     "INSERT INTO dim_customer AS t SELECT * FROM stage_dim_customer ON CONFLICT (customer_id) "
     "  DO UPDATE SET country = excluded.country, last_seen = excluded.last_seen"
     "  WHERE (excluded.last_seen, excluded.country) > (t.last_seen, t.country);"
     "INSERT INTO dim_date SELECT * FROM stage_dim_date ON CONFLICT DO NOTHING");

/* what: the statement (its first words) or the step that failed. */
int sf_pg_fail(pg_wh *w, const PGresult *res, sf_error *err, const char *what)
{
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!*msg)
        msg = PQerrorMessage(w->conn);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--; /* libpq ends its messages with a newline */
    return sf_error_set(err, SF_EIO, "warehouse postgres: %.48s: %.*s", what, (int)n, msg);
}

int sf_pg_exec(pg_wh *w, const char *sql, sf_error *err)
{
    PGresult *res = PQexec(w->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : sf_pg_fail(w, res, err, sql);
    PQclear(res);
    return rc;
}

/* Each period of grain (its key of len characters) from $1 to $2 with
 * sales, and its first $3 invoices by the index of that length. Ordered
 * by period only: a full ORDER BY made PostgreSQL sort the 2,850 rows of a
 * year's days again (14 of 18 ms); postgres_bi.c checks the order within
 * each period and sorts there if need be. */
#define TOP_INVOICES(grain, len)                                                                   \
    ("SELECT s.period, i.invoice_no, i.customer_id, i.invoice_date, i.revenue_milli, i.units, "    \
     "i.lines, i.revenue_hi, i.units_hi FROM bi_sales s CROSS JOIN LATERAL (SELECT * FROM "        \
     "bi_invoice WHERE substr(invoice_date, 1, " len ") = s.period ORDER BY revenue_hi DESC, "     \
     "revenue_milli DESC, invoice_no LIMIT $3) i WHERE s.grain = '" grain "' AND s.period >= $1 "  \
     "AND s.period <= $2 ORDER BY s.period")

static const char *const prepared_sql[NPREPARED] = {
    [P_PRESENCE] = "SELECT invoice_no, customer_id, hours FROM bi_presence WHERE invoice_no = $1",
    [P_LIST_PRODUCTS] = "SELECT by_units FROM bi_product WHERE grain = $1 AND period = $2",
    [P_LIST_CUSTOMERS] = "SELECT by_revenue FROM bi_customer WHERE grain = $1 AND period = $2",
    [P_SALES] = ("SELECT period, revenue_milli, units, lines, invoices, customers, revenue_hi, "
                 "units_hi FROM bi_sales WHERE grain = $1 AND period >= $2 AND period < $3 "
                 "ORDER BY period"),
    [P_PRODUCTS_REVENUE] = "SELECT by_revenue FROM bi_product WHERE grain = $1 AND period = $2",
    [P_DESCRIPTION] = ("SELECT stock_code, description FROM dim_product "
                       "WHERE stock_code = ANY ($1::text[])"),
    [P_COUNTRY] = ("SELECT customer_id::text, country FROM dim_customer "
                   "WHERE customer_id = ANY ($1::bigint[])"),
    [P_INVOICES_DAY] = TOP_INVOICES("day", "10"),
    [P_INVOICES_MONTH] = TOP_INVOICES("month", "7"),
    [P_INVOICES_YEAR] = TOP_INVOICES("year", "4"),
    [P_HEADS] = ("SELECT period, entries, head FROM bi_rank_head WHERE list = $1 AND grain = $2 "
                 "AND period >= $3 AND period <= $4 ORDER BY period"),
    [P_TOPS] = ("SELECT period, entries, top FROM bi_rank_head WHERE list = $1 AND grain = $2 "
                "AND period >= $3 AND period <= $4 ORDER BY period"),
    [P_INVOICES_TOP] = ("SELECT period, invoice_no, customer_id, invoice_date, revenue_milli, "
                        "units, lines, revenue_hi, units_hi FROM bi_invoice_top WHERE grain = $4 "
                        "AND period >= $1 AND period <= $2 AND rank <= $3 ORDER BY period, rank"),
};

/* The BI reads whose integers come back binary (8 bytes, big-endian): a
 * listing's ~3,000 rows of 3-5 integers cost the server's int8out and our
 * strtoll (15 % of the client's CPU for top-invoices by day) in text. */
static const bool binary[NPREPARED] = {
    [P_SALES] = true,        [P_HEADS] = true,          [P_TOPS] = true,
    [P_INVOICES_DAY] = true, [P_INVOICES_MONTH] = true, [P_INVOICES_YEAR] = true,
    [P_INVOICES_TOP] = true,
};

PGresult *sf_pg_run(pg_wh *w, int i, int n, const char *const *params, sf_error *err)
{
    char name[16];
    snprintf(name, sizeof name, "sf%d", i);
    if (!w->prepared[i]) {
        PGresult *res = PQprepare(w->conn, name, prepared_sql[i], 0, NULL);
        int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : sf_pg_fail(w, res, err, "prepare");
        PQclear(res);
        if (rc < 0)
            return NULL;
        w->prepared[i] = true;
    }
    PGresult *res = PQexecPrepared(w->conn, name, n, params, NULL, NULL, binary[i]);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    sf_pg_fail(w, res, err, "query");
    PQclear(res);
    return NULL;
}

void sf_pg_text(sf_buf *b, const char *t, size_t n, bool first)
{
    if (!first)
        sf_buf_add(b, "\t", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\t' ? "\\t"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                                      : NULL;
        if (esc) {
            sf_buf_add(b, t + from, i - from);
            sf_buf_add(b, esc, 2);
            from = i + 1;
        }
    }
    sf_buf_add(b, t + from, n - from);
}

void sf_pg_int(sf_buf *b, int64_t v, bool first)
{
    if (!first)
        sf_buf_add(b, "\t", 1);
    sf_wh_put_int(b, v, false);
}

void sf_pg_null(sf_buf *b)
{
    sf_buf_add(b, "\t\\N", 3);
}

void sf_pg_end_row(sf_buf *b)
{
    sf_buf_add(b, "\n", 1);
}

int sf_pg_stage_create(pg_wh *w, sf_error *err)
{
    /* Filled and read by the merge only (bi_invoice_top's periods). */
    int rc = sf_pg_exec(w,
                        "CREATE TEMP TABLE stage_touched (grain TEXT COLLATE \"C\","
                        "  period TEXT COLLATE \"C\") ON COMMIT DELETE ROWS",
                        err);
    for (int i = 0; rc == 0 && i < NSTAGE; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "CREATE TEMP TABLE stage_%s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                 stage_name[i], stage_name[i]);
        rc = sf_pg_exec(w, sql, err);
    }
    return rc;
}

int sf_pg_flush(pg_wh *w, int i, sf_error *err)
{
    sf_buf *b = &w->stage[i];
    if (sf_buf_failed(b))
        return sf_error_set(err, SF_ENOMEM, "out of memory staging %s", stage_name[i]);
    if (b->len == 0)
        return 0;
    char sql[80];
    snprintf(sql, sizeof sql, "COPY stage_%s FROM STDIN", stage_name[i]);
    PGresult *res = PQexec(w->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COPY_IN ? 0 : sf_pg_fail(w, res, err, sql);
    PQclear(res);
    if (rc < 0)
        return rc;
    /* PQputCopyData takes an int: send the buffer in pieces. */
    for (size_t at = 0; rc == 0 && at < b->len; at += 1u << 20) {
        size_t n = b->len - at < (1u << 20) ? b->len - at : 1u << 20;
        if (PQputCopyData(w->conn, b->data + at, (int)n) != 1)
            rc = sf_pg_fail(w, NULL, err, sql);
    }
    if (PQputCopyEnd(w->conn, rc == 0 ? NULL : "shopflow gave up") != 1 && rc == 0)
        rc = sf_pg_fail(w, NULL, err, sql);
    while ((res = PQgetResult(w->conn))) {
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = sf_pg_fail(w, res, err, sql);
        PQclear(res);
    }
    sf_buf_reset(b);
    return rc;
}

int sf_pg_merge(pg_wh *w, sf_error *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < NSTAGE; i++)
        rc = sf_pg_flush(w, i, err);
    return rc == 0 ? sf_pg_exec(w, merge_sql, err) : rc;
}

/* The store of rollup.h: reads by prepared statement, writes staged. */

void sf_pg_array(sf_buf *b, const char *const *items, size_t n)
{
    sf_buf_add(b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        sf_buf_add(b, i ? ",\"" : "\"", i ? 2 : 1);
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                sf_buf_add(b, "\\", 1);
            sf_buf_add(b, c, 1);
        }
        sf_buf_add(b, "\"", 1);
    }
    sf_buf_add(b, "}", 1);
}

/* One query for the stored hours of every invoice of the transaction
 * (an invoice at a time, the round trips cost more than the rest of the
 * rollups). */
static int presence_prefetch(void *self, const char *const *invoices, size_t n, sf_error *err)
{
    pg_wh *w = self;
    sf_buf array = SF_BUF_INIT;
    sf_pg_array(&array, invoices, n);
    if (sf_buf_failed(&array))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    const char *param = array.data;
    PQclear(w->presence);
    w->presence = PQexecParams(w->conn,
                               "SELECT invoice_no, customer_id, hours FROM bi_presence "
                               "WHERE invoice_no = ANY ($1::text[]) ORDER BY invoice_no",
                               1, NULL, &param, NULL, NULL, 0);
    sf_buf_free(&array);
    if (PQresultStatus(w->presence) == PGRES_TUPLES_OK)
        return 0;
    int rc = sf_pg_fail(w, w->presence, err, "bi_presence");
    PQclear(w->presence);
    w->presence = NULL;
    return rc;
}

static int presence_get(void *self, const char *invoice,
                        int (*fn)(void *ctx, int32_t customer, const char *hours, size_t len,
                                  sf_error *err),
                        void *ctx, sf_error *err)
{
    pg_wh *w = self;
    PGresult *res = w->presence;
    int lo = 0, hi = 0;
    if (res) { /* the prefetched rows, sorted as bytes: the first of invoice */
        hi = PQntuples(res);
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (strcmp(PQgetvalue(res, mid, 0), invoice) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    } else if (!(res = sf_pg_run(w, P_PRESENCE, 1, &invoice, err))) {
        return SF_EIO;
    }
    int rc = 0;
    for (int i = lo; rc == 0 && i < PQntuples(res) && strcmp(PQgetvalue(res, i, 0), invoice) == 0;
         i++)
        rc = fn(ctx, (int32_t)strtol(PQgetvalue(res, i, 1), NULL, 10), PQgetvalue(res, i, 2),
                (size_t)PQgetlength(res, i, 2), err);
    if (res != w->presence)
        PQclear(res);
    return rc;
}

static int presence_put(void *self, const char *invoice, int32_t customer, const char *hours,
                        size_t len, sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_PRESENCE];
    (void)err;
    sf_pg_text(b, invoice, strlen(invoice), true);
    sf_pg_int(b, customer, false);
    sf_pg_text(b, hours, len, false);
    sf_pg_end_row(b);
    return 0;
}

static int list_get(void *self, bool product, sf_grain g, const char *period, const char **text,
                    size_t *len, sf_error *err)
{
    pg_wh *w = self;
    const char *params[] = {sf_grain_name(g), period};
    PQclear(w->held);
    w->held = sf_pg_run(w, product ? P_LIST_PRODUCTS : P_LIST_CUSTOMERS, 2, params, err);
    if (!w->held)
        return SF_EIO;
    bool found = PQntuples(w->held) > 0;
    *text = found ? PQgetvalue(w->held, 0, 0) : NULL;
    *len = found ? (size_t)PQgetlength(w->held, 0, 0) : 0;
    return 0;
}

/* (grain, period) as the first two COPY fields. */
static void period_fields(sf_buf *b, sf_grain g, const char *period)
{
    const char *grain = sf_grain_name(g);
    sf_pg_text(b, grain, strlen(grain), true);
    sf_pg_text(b, period, strlen(period), false);
}

static int list_put(void *self, bool product, sf_grain g, const char *period, int64_t n,
                    const char *a, size_t alen, const char *b, size_t blen, sf_error *err)
{
    sf_buf *s = &((pg_wh *)self)->stage[product ? STAGE_PRODUCT : STAGE_CUSTOMER];
    (void)err;
    period_fields(s, g, period);
    sf_pg_int(s, n, false);
    sf_pg_text(s, a, alen, false);
    if (product)
        sf_pg_text(s, b, blen, false);
    sf_pg_end_row(s);
    return 0;
}

/* The head and its top (the first SF_PG_TOP entries, cut as migration 4
 * cuts them in SQL). */
static int head_put(void *self, const char *list, sf_grain g, const char *period, int64_t entries,
                    const char *head, size_t len, sf_error *err)
{
    sf_buf *s = &((pg_wh *)self)->stage[STAGE_HEAD];
    (void)err;
    bool product = strcmp(list, "customer") != 0;
    sf_pg_text(s, list, strlen(list), true);
    sf_pg_text(s, sf_grain_name(g), strlen(sf_grain_name(g)), false);
    sf_pg_text(s, period, strlen(period), false);
    sf_pg_int(s, entries, false);
    sf_pg_text(s, head, len, false);
    sf_pg_text(s, head, sf_wh_head_len(head, len, product, SF_PG_TOP), false);
    sf_buf_add(s, "]", 1);
    sf_pg_end_row(s);
    return 0;
}

static int sales_put(void *self, sf_grain g, const char *period, const sales_val *v, sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_SALES];
    (void)err;
    int64_t revenue_hi, revenue, units_hi, units;
    sf_i128_split(v->revenue, &revenue_hi, &revenue);
    sf_i128_split(v->units, &units_hi, &units);
    period_fields(b, g, period);
    const int64_t vals[] = {revenue,      units,      v->lines, v->invoices,
                            v->customers, revenue_hi, units_hi};
    for (int i = 0; i < 7; i++)
        sf_pg_int(b, vals[i], false);
    sf_pg_end_row(b);
    return 0;
}

static int invoice_put(void *self, const char *invoice, int32_t customer, const char *date,
                       sf_i128 revenue, sf_i128 units, int64_t lines, sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_INVOICE];
    (void)err;
    sf_pg_text(b, invoice, strlen(invoice), true);
    if (customer == SF_NO_CUSTOMER)
        sf_pg_null(b);
    else
        sf_pg_int(b, customer, false);
    sf_pg_text(b, date, SF_TIME_TEXT_LEN, false);
    int64_t revenue_hi, revenue_lo, units_hi, units_lo;
    sf_i128_split(revenue, &revenue_hi, &revenue_lo);
    sf_i128_split(units, &units_hi, &units_lo);
    const int64_t vals[] = {revenue_lo, units_lo, lines, revenue_hi, units_hi};
    for (int i = 0; i < 5; i++)
        sf_pg_int(b, vals[i], false);
    sf_pg_end_row(b);
    return 0;
}

static int dim_product_put(void *self, const char *code, const char *description, size_t len,
                           bool non_product, const char *seen, sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_DIM_PRODUCT];
    (void)err;
    sf_pg_text(b, code, strlen(code), true);
    sf_pg_text(b, description, len, false);
    sf_pg_int(b, non_product, false);
    sf_pg_text(b, seen, SF_TIME_TEXT_LEN, false);
    sf_pg_end_row(b);
    return 0;
}

static int dim_customer_put(void *self, int32_t customer, const char *country, size_t len,
                            const char *seen, sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_DIM_CUSTOMER];
    (void)err;
    sf_pg_int(b, customer, true);
    sf_pg_text(b, country, len, false);
    sf_pg_text(b, seen, SF_TIME_TEXT_LEN, false);
    sf_pg_end_row(b);
    return 0;
}

static int dim_date_put(void *self, const char *date_key, int year, int month, int day, int weekday,
                        sf_error *err)
{
    sf_buf *b = &((pg_wh *)self)->stage[STAGE_DIM_DATE];
    (void)err;
    sf_pg_text(b, date_key, strlen(date_key), true);
    const int64_t vals[] = {year, month, day, weekday};
    for (int i = 0; i < 4; i++)
        sf_pg_int(b, vals[i], false);
    sf_pg_end_row(b);
    return 0;
}

const wh_store_ops sf_pg_store = {
    .presence_prefetch = presence_prefetch,
    .presence_get = presence_get,
    .presence_put = presence_put,
    .list_get = list_get,
    .list_put = list_put,
    .head_put = head_put,
    .sales_put = sales_put,
    .invoice_put = invoice_put,
    .dim_product_put = dim_product_put,
    .dim_customer_put = dim_customer_put,
    .dim_date_put = dim_date_put,
};
