/*
 * sqlite_store.c - the rollup tables of the "sqlite" warehouse, as the store
 * operations the neutral rollup code calls (rollup.h): each is one prepared
 * statement of sqlite.c (ST_*), run at once inside the open transaction.
 * SQLite is in-process, so a statement per key costs microseconds and
 * nothing needs queueing.
 */
#include <string.h>

#include "core/buf.h"

#include "storage/warehouse/sqlite/sqlite_int.h"

static void bind_period(sqlite3_stmt *s, sf_grain g, const char *period)
{
    const char *grain = sf_grain_name(g);
    sf_wh_text(s, 1, grain, strlen(grain));
    sf_wh_text(s, 2, period, strlen(period));
}

static int presence_get(void *self, const char *invoice,
                        int (*fn)(void *ctx, int32_t customer, const char *hours, size_t len,
                                  sf_error *err),
                        void *ctx, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *q = w->st[ST_PRESENCE_GET];
    sf_wh_text(q, 1, invoice, strlen(invoice));
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        cb = fn(ctx, sqlite3_column_int(q, 0), (const char *)sqlite3_column_text(q, 1),
                (size_t)sqlite3_column_bytes(q, 1), err);
    sqlite3_reset(q);
    if (cb < 0)
        return cb;
    return rc == SQLITE_DONE ? 0 : sf_wh_fail(w, err, "bi_presence");
}

static int presence_put(void *self, const char *invoice, int32_t customer, const char *hours,
                        size_t len, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_PRESENCE_PUT];
    sf_wh_text(s, 1, invoice, strlen(invoice));
    sqlite3_bind_int(s, 2, customer);
    sf_wh_text(s, 3, hours, len);
    return sf_wh_run(w, s, err);
}

static int list_get(void *self, bool product, sf_grain g, const char *period, const char **text,
                    size_t *len, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *q = w->st[product ? ST_PRODUCTS_GET : ST_CUSTOMERS_GET];
    sqlite3_reset(q); /* the previous call's text stayed valid until now */
    bind_period(q, g, period);
    *text = NULL;
    *len = 0;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *text = (const char *)sqlite3_column_text(q, 0);
        *len = (size_t)sqlite3_column_bytes(q, 0);
        return 0;
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? 0 : sf_wh_fail(w, err, "read a ranked list");
}

static int list_put(void *self, bool product, sf_grain g, const char *period, int64_t n,
                    const char *a, size_t alen, const char *b, size_t blen, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_reset(w->st[product ? ST_PRODUCTS_GET : ST_CUSTOMERS_GET]);
    sqlite3_stmt *put = w->st[product ? ST_PRODUCTS_PUT : ST_CUSTOMERS_PUT];
    bind_period(put, g, period);
    sqlite3_bind_int64(put, 3, n);
    sf_wh_text(put, 4, a, alen);
    if (product)
        sf_wh_text(put, 5, b, blen);
    return sf_wh_run(w, put, err);
}

static int head_put(void *self, const char *list, sf_grain g, const char *period, int64_t entries,
                    const char *head, size_t len, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_HEAD_PUT];
    const char *grain = sf_grain_name(g);
    sf_wh_text(s, 1, list, strlen(list));
    sf_wh_text(s, 2, grain, strlen(grain));
    sf_wh_text(s, 3, period, strlen(period));
    sqlite3_bind_int64(s, 4, entries);
    sf_wh_text(s, 5, head, len);
    return sf_wh_run(w, s, err);
}

/* A total as its two columns (money.h), lo at parameter lo_col. */
static void bind_total(sqlite3_stmt *s, int lo_col, int hi_col, sf_i128 v)
{
    int64_t hi, lo;
    sf_i128_split(v, &hi, &lo);
    sqlite3_bind_int64(s, lo_col, lo);
    sqlite3_bind_int64(s, hi_col, hi);
}

static int sales_put(void *self, sf_grain g, const char *period, const sales_val *v, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_SALES];
    bind_period(s, g, period);
    bind_total(s, 3, 8, v->revenue);
    bind_total(s, 4, 9, v->units);
    sqlite3_bind_int64(s, 5, v->lines);
    sqlite3_bind_int64(s, 6, v->invoices);
    sqlite3_bind_int64(s, 7, v->customers);
    return sf_wh_run(w, s, err);
}

static int invoice_put(void *self, const char *invoice, int32_t customer, const char *date,
                       sf_i128 revenue, sf_i128 units, int64_t lines, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_INVOICE];
    sf_wh_text(s, 1, invoice, strlen(invoice));
    if (customer == SF_NO_CUSTOMER)
        sqlite3_bind_null(s, 2);
    else
        sqlite3_bind_int(s, 2, customer);
    sf_wh_text(s, 3, date, SF_TIME_TEXT_LEN);
    bind_total(s, 4, 7, revenue);
    bind_total(s, 5, 8, units);
    sqlite3_bind_int64(s, 6, lines);
    return sf_wh_run(w, s, err);
}

static int dim_product_put(void *self, const char *code, const char *description, size_t len,
                           bool non_product, const char *seen, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_DIM_PRODUCT];
    sf_wh_text(s, 1, code, strlen(code));
    sf_wh_text(s, 2, description, len);
    sqlite3_bind_int(s, 3, non_product);
    sf_wh_text(s, 4, seen, SF_TIME_TEXT_LEN);
    return sf_wh_run(w, s, err);
}

static int dim_customer_put(void *self, int32_t customer, const char *country, size_t len,
                            const char *seen, sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_DIM_CUSTOMER];
    sqlite3_bind_int(s, 1, customer);
    sf_wh_text(s, 2, country, len);
    sf_wh_text(s, 3, seen, SF_TIME_TEXT_LEN);
    return sf_wh_run(w, s, err);
}

static int dim_date_put(void *self, const char *date_key, int year, int month, int day, int weekday,
                        sf_error *err)
{
    sqlite_wh *w = self;
    sqlite3_stmt *s = w->st[ST_DIM_DATE];
    sf_wh_text(s, 1, date_key, strlen(date_key));
    sqlite3_bind_int(s, 2, year);
    sqlite3_bind_int(s, 3, month);
    sqlite3_bind_int(s, 4, day);
    sqlite3_bind_int(s, 5, weekday);
    return sf_wh_run(w, s, err);
}

/* Schema 2 -> 3: bi_rank_head is filled from the stored lists. */
int sf_wh_sqlite_fill_heads(sqlite_wh *w, sf_error *err)
{
    static const char *const lists[][2] = {
        {"product_units", "SELECT grain, period, products, by_units FROM bi_product"},
        {"product_revenue", "SELECT grain, period, products, by_revenue FROM bi_product"},
        {"customer", "SELECT grain, period, customers, by_revenue FROM bi_customer"},
    };
    sqlite3_stmt *put = NULL, *q = NULL;
    int rc = sqlite3_prepare_v2(w->db, "INSERT INTO bi_rank_head VALUES (?,?,?,?,?)", -1, &put,
                                NULL) == SQLITE_OK
                 ? 0
                 : sf_wh_fail(w, err, "upgrade the schema");
    for (int i = 0; rc == 0 && i < 3; i++) {
        if (sqlite3_prepare_v2(w->db, lists[i][1], -1, &q, NULL) != SQLITE_OK) {
            rc = sf_wh_fail(w, err, "upgrade the schema");
            break;
        }
        int step;
        while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
            const char *grain = (const char *)sqlite3_column_text(q, 0);
            if (strcmp(grain, "hour") == 0)
                continue; /* rankings are by day, month or year */
            const char *text = (const char *)sqlite3_column_text(q, 3);
            size_t len = (size_t)sqlite3_column_bytes(q, 3);
            size_t n = sf_wh_head_len(text, len, i < 2, SF_WH_HEAD);
            sf_buf head = SF_BUF_INIT;
            sf_buf_add(&head, text, n);
            sf_buf_add(&head, "]", 1);
            sf_wh_text(put, 1, lists[i][0], strlen(lists[i][0]));
            sf_wh_text(put, 2, grain, strlen(grain));
            sqlite3_bind_value(put, 3, sqlite3_column_value(q, 1));
            sqlite3_bind_int64(put, 4, sqlite3_column_int64(q, 2));
            sf_wh_text(put, 5, head.data, head.len);
            rc = sf_buf_failed(&head) ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                      : sf_wh_run(w, put, err);
            sf_buf_free(&head);
        }
        if (rc == 0 && step != SQLITE_DONE)
            rc = sf_wh_fail(w, err, "upgrade the schema");
        sqlite3_finalize(q);
    }
    sqlite3_finalize(put);
    return rc;
}

const wh_store_ops sf_wh_sqlite_store = {
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
