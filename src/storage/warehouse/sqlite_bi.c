/*
 * sqlite_bi.c - the BI reads of the "sqlite" warehouse: each question is one
 * indexed range of a rollup table (docs/warehouse.md), so its cost depends
 * on the size of the answer, not on the number of fact rows.
 *
 * A handle serves one read() at a time (its mutex), each in one read
 * transaction, so a BI answer made of several queries sees one snapshot
 * even while the sink commits in another process.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "storage/warehouse/sqlite_int.h"

#define TOP_INVOICES(len)                                                                          \
    ("SELECT invoice_no, customer_id, invoice_date, revenue_milli, units, lines FROM bi_invoice "  \
     "WHERE substr(invoice_date, 1, " len ") = ?1 ORDER BY revenue_milli DESC, invoice_no "        \
     "LIMIT ?2")

static const char *const queries[NQUERY] = {
    [Q_SALES] = ("SELECT period, revenue_milli, units, lines, invoices, customers FROM bi_sales "
                 "WHERE grain = ?1 AND period >= ?2 AND period < ?3 ORDER BY period"),
    [Q_PRODUCTS_UNITS] = "SELECT by_units FROM bi_product WHERE grain = ? AND period = ?",
    [Q_PRODUCTS_REVENUE] = "SELECT by_revenue FROM bi_product WHERE grain = ? AND period = ?",
    [Q_CUSTOMERS] = "SELECT by_revenue FROM bi_customer WHERE grain = ? AND period = ?",
    [Q_DESCRIPTION] = "SELECT description FROM dim_product WHERE stock_code = ?",
    [Q_COUNTRY] = "SELECT country FROM dim_customer WHERE customer_id = ?",
    [Q_INVOICES_DAY] = TOP_INVOICES("10"),
    [Q_INVOICES_MONTH] = TOP_INVOICES("7"),
    [Q_INVOICES_YEAR] = TOP_INVOICES("4"),
};

void sf_wh_queries_free(sqlite_wh *w)
{
    for (int i = 0; i < NQUERY; i++) {
        sqlite3_finalize(w->q[i]);
        w->q[i] = NULL;
    }
}

/* Query i, prepared on first use (the tables may appear after open). */
static sqlite3_stmt *query(sqlite_wh *w, int i, sf_error *err)
{
    if (!w->q[i] && sqlite3_prepare_v3(w->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT, &w->q[i],
                                       NULL) != SQLITE_OK) {
        sf_wh_fail(w, err, "prepare a BI query");
        return NULL;
    }
    return w->q[i];
}

static bool loaded(sqlite_wh *w)
{
    sqlite3_stmt *q;
    bool yes = false;
    if (sqlite3_prepare_v2(w->db, "SELECT 1 FROM sqlite_master WHERE name = 'bi_sales'", -1, &q,
                           NULL) == SQLITE_OK)
        yes = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    return yes;
}

int sf_wh_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
               sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    bool own_txn = !w->in_txn;
    if (own_txn && sqlite3_exec(w->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = sf_wh_fail(w, err, "begin a read");
    if (rc == 0 && !loaded(w))
        rc = sf_error_set(err, SF_ENOENT, "the warehouse has not been loaded yet");
    if (rc == 0)
        rc = fn(base, ctx, err);
    if (own_txn)
        sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* Step q to its end, calling row() for each row; reset it. */
static int each_row(sqlite_wh *w, sqlite3_stmt *q, int (*row)(sqlite3_stmt *q, void *arg),
                    void *arg, sf_error *err)
{
    int rc, cb = 0;
    while (cb == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        cb = row(q, arg);
    if (cb == 0 && rc != SQLITE_DONE)
        cb = sf_wh_fail(w, err, "BI query");
    sqlite3_reset(q);
    return cb;
}

static const char *text(sqlite3_stmt *q, int col)
{
    const char *t = (const char *)sqlite3_column_text(q, col);
    return t ? t : "";
}

/* A caller's row callback, its context and error. */
typedef struct call {
    union {
        sf_wh_sales_fn sales;
        sf_wh_product_fn product;
        sf_wh_customer_fn customer;
        sf_wh_invoice_fn invoice;
    } fn;
    void *ctx;
    sf_error *err;
} call;

static int sales_row(sqlite3_stmt *q, void *arg)
{
    call *c = arg;
    sf_wh_sales r = {text(q, 0),
                     sqlite3_column_int64(q, 1),
                     sqlite3_column_int64(q, 2),
                     sqlite3_column_int64(q, 3),
                     sqlite3_column_int64(q, 4),
                     sqlite3_column_int64(q, 5)};
    return c->fn.sales(c->ctx, &r, c->err);
}

int sf_wh_read_sales(sf_warehouse *base, sf_grain g, const char *from, const char *to,
                     sf_wh_sales_fn fn, void *ctx, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    sqlite3_stmt *q = query(w, Q_SALES, err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, sf_grain_name(g), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, from ? from : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, to ? to : "~", -1, SQLITE_TRANSIENT);
    call c = {.fn.sales = fn, .ctx = ctx, .err = err};
    return each_row(w, q, sales_row, &c, err);
}

/* The text of a dimension (a product's description, a customer's country)
 * into out; "" when unknown. */
static int dimension_text(sqlite_wh *w, int which, const wh_rank_entry *e, sf_buf *out,
                          sf_error *err)
{
    sqlite3_stmt *q = query(w, which, err);
    if (!q)
        return SF_EIO;
    if (which == Q_DESCRIPTION)
        sqlite3_bind_text(q, 1, e->code, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(q, 1, e->id);
    sf_buf_reset(out);
    sf_buf_add(out, "", 0);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        sf_buf_add(out, sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0));
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sf_wh_fail(w, err, "read a dimension");
    return sf_buf_failed(out) ? sf_error_set(err, SF_ENOMEM, "out of memory") : 0;
}

/* What a walk hands each entry: the handle, the caller, a scratch text. */
typedef struct walk {
    sqlite_wh *w;
    call *c;
    sf_buf text;
    int (*row)(sqlite_wh *w, const wh_rank_entry *e, call *c, sf_buf *text);
} walk;

static int walk_row(void *arg, const wh_rank_entry *e)
{
    walk *k = arg;
    return k->row(k->w, e, k->c, &k->text);
}

/* Walk the head of the ranked list of t's period (query which), handing
 * each entry that counts to row() until t->limit of them did. */
static int walk_list(sqlite_wh *w, int which, const sf_wh_top *t, bool product,
                     int (*row)(sqlite_wh *w, const wh_rank_entry *e, call *c, sf_buf *text),
                     call *c)
{
    sqlite3_stmt *q = query(w, which, c->err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, sf_grain_name(t->grain), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, t->period, -1, SQLITE_TRANSIENT);
    walk k = {w, c, SF_BUF_INIT, row};
    int step = sqlite3_step(q), rc = 0;
    if (step == SQLITE_ROW)
        rc = sf_wh_rank_walk((const char *)sqlite3_column_text(q, 0),
                             (size_t)sqlite3_column_bytes(q, 0), t, product, walk_row, &k);
    else if (step != SQLITE_DONE)
        rc = sf_wh_fail(w, c->err, "read a ranked list");
    sqlite3_reset(q);
    sf_buf_free(&k.text);
    return rc;
}

static int product_row(sqlite_wh *w, const wh_rank_entry *e, call *c, sf_buf *text)
{
    int rc = dimension_text(w, Q_DESCRIPTION, e, text, c->err);
    sf_wh_product r = {e->code, text->data, e->v[0], e->v[1], e->v[3] != 0};
    return rc < 0 ? rc : c->fn.product(c->ctx, &r, c->err);
}

int sf_wh_read_products(sf_warehouse *base, const sf_wh_top *t, sf_wh_product_fn fn, void *ctx,
                        sf_error *err)
{
    call c = {.fn.product = fn, .ctx = ctx, .err = err};
    return walk_list((sqlite_wh *)base, t->by_revenue ? Q_PRODUCTS_REVENUE : Q_PRODUCTS_UNITS, t,
                     true, product_row, &c);
}

static int customer_row(sqlite_wh *w, const wh_rank_entry *e, call *c, sf_buf *text)
{
    int rc = dimension_text(w, Q_COUNTRY, e, text, c->err);
    sf_wh_customer r = {(int32_t)e->id, text->data, e->v[0], e->v[3]};
    return rc < 0 ? rc : c->fn.customer(c->ctx, &r, c->err);
}

int sf_wh_read_customers(sf_warehouse *base, const sf_wh_top *t, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err)
{
    call c = {.fn.customer = fn, .ctx = ctx, .err = err};
    return walk_list((sqlite_wh *)base, Q_CUSTOMERS, t, false, customer_row, &c);
}

static int invoice_row(sqlite3_stmt *q, void *arg)
{
    call *c = arg;
    sf_wh_invoice r = {text(q, 0),
                       sqlite3_column_type(q, 1) == SQLITE_NULL ? SF_NO_CUSTOMER
                                                                : sqlite3_column_int(q, 1),
                       text(q, 2),
                       sqlite3_column_int64(q, 3),
                       sqlite3_column_int64(q, 4),
                       sqlite3_column_int64(q, 5)};
    return c->fn.invoice(c->ctx, &r, c->err);
}

int sf_wh_read_invoices(sf_warehouse *base, const sf_wh_top *t, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "invoices are ranked by day, month or year");
    int which = t->grain == SF_GRAIN_DAY     ? Q_INVOICES_DAY
                : t->grain == SF_GRAIN_MONTH ? Q_INVOICES_MONTH
                                             : Q_INVOICES_YEAR;
    sqlite3_stmt *q = query(w, which, err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, t->period, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, t->limit);
    call c = {.fn.invoice = fn, .ctx = ctx, .err = err};
    return each_row(w, q, invoice_row, &c, err);
}
