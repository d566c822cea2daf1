/*
 * sqlite_store.c - the rollup tables of the "sqlite" warehouse, as the store
 * operations the neutral rollup code calls (rollup.h): each is one prepared
 * statement of sqlite.c (ST_*), run at once inside the open transaction.
 * SQLite is in-process, so a statement per key costs microseconds and
 * nothing needs queueing. The loader's writes go through the same
 * statements, recorded first (sf_wh_sqlite_deferred, below) so that its
 * caller thread computes them while its writer thread applies them.
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

/* ---- the rollup writes, recorded by the loader's caller thread and applied
 * by its writer thread (sqlite_load.c) ---- */

enum {
    OP_PRESENCE,
    OP_LIST,
    OP_HEAD,
    OP_SALES,
    OP_INVOICE,
    OP_DIM_PRODUCT,
    OP_DIM_CUSTOMER,
    OP_DIM_DATE
};

/* One store write: its integers, its totals (revenue, units: 128-bit), up
 * to three texts (each followed by a NUL) after it. */
typedef struct op_head {
    uint32_t op, size;
    uint32_t len[3];
    int64_t v[6];
    sf_i128 total[2];
} op_head;

static int record_totals(sqlite_wh *w, uint32_t op, const int64_t v[6], sf_i128 revenue,
                         sf_i128 units, const char *t0, size_t l0, const char *t1, size_t l1,
                         const char *t2, size_t l2, sf_error *err)
{
    static const char zeros[8] = {0};
    op_head h = {op, 0, {(uint32_t)l0, (uint32_t)l1, (uint32_t)l2}, {0}, {revenue, units}};
    memcpy(h.v, v, sizeof h.v);
    size_t body = l0 + l1 + l2 + 3;
    h.size = (uint32_t)((sizeof h + body + 7u) & ~(size_t)7u);
    sf_buf_add(&w->ops, &h, sizeof h);
    sf_buf_add(&w->ops, t0 ? t0 : "", l0);
    sf_buf_add(&w->ops, zeros, 1);
    sf_buf_add(&w->ops, t1 ? t1 : "", l1);
    sf_buf_add(&w->ops, zeros, 1);
    sf_buf_add(&w->ops, t2 ? t2 : "", l2);
    sf_buf_add(&w->ops, zeros, h.size - sizeof h - body + 1);
    return sf_buf_failed(&w->ops) ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

static int record(sqlite_wh *w, uint32_t op, const int64_t v[6], const char *t0, size_t l0,
                  const char *t1, size_t l1, const char *t2, size_t l2, sf_error *err)
{
    return record_totals(w, op, v, 0, 0, t0, l0, t1, l1, t2, l2, err);
}

static int d_presence_get(void *self, const char *invoice,
                          int (*fn)(void *ctx, int32_t customer, const char *hours, size_t len,
                                    sf_error *err),
                          void *ctx, sf_error *err)
{
    return sf_wh_sqlite_store.presence_get(((sqlite_wh *)self)->rd, invoice, fn, ctx, err);
}

static int d_list_get(void *self, bool product, sf_grain g, const char *period, const char **text,
                      size_t *len, sf_error *err)
{
    return sf_wh_sqlite_store.list_get(((sqlite_wh *)self)->rd, product, g, period, text, len, err);
}

static int d_presence_put(void *self, const char *invoice, int32_t customer, const char *hours,
                          size_t len, sf_error *err)
{
    int64_t v[6] = {customer};
    return record(self, OP_PRESENCE, v, invoice, strlen(invoice), hours, len, NULL, 0, err);
}

static int d_list_put(void *self, bool product, sf_grain g, const char *period, int64_t n,
                      const char *a, size_t alen, const char *b, size_t blen, sf_error *err)
{
    int64_t v[6] = {product, g, n};
    return record(self, OP_LIST, v, period, strlen(period), a, alen, b, blen, err);
}

static int d_head_put(void *self, const char *list, sf_grain g, const char *period, int64_t entries,
                      const char *head, size_t len, sf_error *err)
{
    int64_t v[6] = {g, entries};
    return record(self, OP_HEAD, v, list, strlen(list), period, strlen(period), head, len, err);
}

static int d_sales_put(void *self, sf_grain g, const char *period, const sales_val *s,
                       sf_error *err)
{
    int64_t v[6] = {g, s->lines, s->invoices, s->customers};
    return record_totals(self, OP_SALES, v, s->revenue, s->units, period, strlen(period), NULL, 0,
                         NULL, 0, err);
}

static int d_invoice_put(void *self, const char *invoice, int32_t customer, const char *date,
                         sf_i128 revenue, sf_i128 units, int64_t lines, sf_error *err)
{
    int64_t v[6] = {customer, lines};
    return record_totals(self, OP_INVOICE, v, revenue, units, invoice, strlen(invoice), date,
                         strlen(date), NULL, 0, err);
}

static int d_dim_product_put(void *self, const char *code, const char *description, size_t len,
                             bool non_product, const char *seen, sf_error *err)
{
    int64_t v[6] = {non_product};
    return record(self, OP_DIM_PRODUCT, v, code, strlen(code), description, len, seen,
                  SF_TIME_TEXT_LEN, err);
}

static int d_dim_customer_put(void *self, int32_t customer, const char *country, size_t len,
                              const char *seen, sf_error *err)
{
    int64_t v[6] = {customer};
    return record(self, OP_DIM_CUSTOMER, v, country, len, seen, SF_TIME_TEXT_LEN, NULL, 0, err);
}

static int d_dim_date_put(void *self, const char *date_key, int year, int month, int day,
                          int weekday, sf_error *err)
{
    int64_t v[6] = {year, month, day, weekday};
    return record(self, OP_DIM_DATE, v, date_key, strlen(date_key), NULL, 0, NULL, 0, err);
}

const wh_store_ops sf_wh_sqlite_deferred = {
    .presence_get = d_presence_get,
    .presence_put = d_presence_put,
    .list_get = d_list_get,
    .list_put = d_list_put,
    .head_put = d_head_put,
    .sales_put = d_sales_put,
    .invoice_put = d_invoice_put,
    .dim_product_put = d_dim_product_put,
    .dim_customer_put = d_dim_customer_put,
    .dim_date_put = d_dim_date_put,
};

/* Writer: apply one recorded write through the real store. */
static int apply_op(sqlite_wh *w, const op_head *h, sf_error *err)
{
    const wh_store_ops *s = &sf_wh_sqlite_store;
    const char *t0 = (const char *)(h + 1), *t1 = t0 + h->len[0] + 1, *t2 = t1 + h->len[1] + 1;
    const int64_t *v = h->v;
    switch (h->op) {
    case OP_PRESENCE:
        return s->presence_put(w, t0, (int32_t)v[0], t1, h->len[1], err);
    case OP_LIST:
        return s->list_put(w, v[0] != 0, (sf_grain)v[1], t0, v[2], t1, h->len[1], t2, h->len[2],
                           err);
    case OP_HEAD:
        return s->head_put(w, t0, (sf_grain)v[0], t1, v[1], t2, h->len[2], err);
    case OP_SALES: {
        sales_val sv = {h->total[0], h->total[1], v[1], v[2], v[3]};
        return s->sales_put(w, (sf_grain)v[0], t0, &sv, err);
    }
    case OP_INVOICE:
        return s->invoice_put(w, t0, (int32_t)v[0], t1, h->total[0], h->total[1], v[1], err);
    case OP_DIM_PRODUCT:
        return s->dim_product_put(w, t0, t1, h->len[1], v[0] != 0, t2, err);
    case OP_DIM_CUSTOMER:
        return s->dim_customer_put(w, (int32_t)v[0], t0, h->len[0], t1, err);
    case OP_DIM_DATE:
        return s->dim_date_put(w, t0, (int)v[0], (int)v[1], (int)v[2], (int)v[3], err);
    }
    return sf_error_set(err, SF_EFAILED, "warehouse: unknown recorded write %u", h->op);
}

int sf_wh_sqlite_apply_ops(sqlite_wh *w, sf_error *err)
{
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < w->ops.len;) {
        const op_head *h = (const op_head *)(w->ops.data + at);
        rc = apply_op(w, h, err);
        at += h->size;
    }
    return rc;
}
