/*
 * sqlite_bi.c - the BI reads of the "sqlite" warehouse: each question is one
 * indexed range of a rollup table (docs/warehouse.md), so its cost depends
 * on the size of the answer, not on the number of fact rows.
 *
 * A handle serves one read() at a time (its mutex), each in one read
 * transaction, so a BI answer made of several queries sees one snapshot
 * even while the sink commits in another process.
 *
 * Totals are 128-bit, stored as two columns (docs/warehouse.md); reading the
 * high halves' columns with every row cost a quarter more SQLite time per
 * bucket, and they are 0 in every row of any real data. So a read first
 * asks a partial index whether any row has one (an empty index: a probe),
 * and reads the high halves only then.
 *
 * Rankings over many periods (every day of a year) are the large answers:
 * they read the heads of the ranked lists (bi_rank_head) in one range, the
 * whole list only for a period whose head is too short for the limit, and
 * the dimension texts once per listing (kept per handle while the file's
 * data version stays the same), not once per item.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "storage/warehouse/sqlite/sqlite_int.h"

/* Revenue orders as (hi, lo): a 128-bit total's stored form (money.h).
 * HI: the high halves' columns too, or nothing. */
#define TOP_INVOICES(len, HI)                                                                      \
    ("SELECT invoice_no, customer_id, invoice_date, revenue_milli, units, lines" HI                \
     " FROM bi_invoice WHERE substr(invoice_date, 1, " len ") = ?1 "                               \
     "ORDER BY revenue_hi DESC, revenue_milli DESC, invoice_no LIMIT ?2")
#define SALES(HI)                                                                                  \
    ("SELECT period, revenue_milli, units, lines, invoices, customers" HI " FROM bi_sales "        \
     "WHERE grain = ?1 AND period >= ?2 AND period < ?3 ORDER BY period")
#define HIGH_HALVES ", revenue_hi, units_hi"
/* A probe of the partial index of the rows with a high half (sqlite.c). */
#define ANY_WIDE(table)                                                                            \
    "SELECT EXISTS (SELECT 1 FROM " table " WHERE revenue_hi <> 0 OR units_hi <> 0)"

static const char *const queries[NQUERY] = {
    [Q_SALES] = SALES(""),
    [Q_PRODUCTS_UNITS] = "SELECT by_units FROM bi_product WHERE grain = ? AND period = ?",
    [Q_PRODUCTS_REVENUE] = "SELECT by_revenue FROM bi_product WHERE grain = ? AND period = ?",
    [Q_CUSTOMERS] = "SELECT by_revenue FROM bi_customer WHERE grain = ? AND period = ?",
    [Q_HEADS] = ("SELECT period, entries, head FROM bi_rank_head WHERE list = ?1 AND grain = ?2 "
                 "AND period >= ?3 AND period <= ?4 ORDER BY period"),
    [Q_PERIODS] = ("SELECT period FROM bi_sales WHERE grain = ?1 AND period >= ?2 AND period <= ?3 "
                   "ORDER BY period"),
    [Q_DESCRIPTION] = "SELECT stock_code, description FROM dim_product WHERE stock_code = ?",
    [Q_COUNTRY] = "SELECT customer_id, country FROM dim_customer WHERE customer_id = ?",
    [Q_DESCRIPTIONS] = "SELECT stock_code, description FROM dim_product",
    [Q_COUNTRIES] = "SELECT customer_id, country FROM dim_customer",
    [Q_INVOICES_DAY] = TOP_INVOICES("10", ""),
    [Q_INVOICES_MONTH] = TOP_INVOICES("7", ""),
    [Q_INVOICES_YEAR] = TOP_INVOICES("4", ""),
    [Q_SALES_WIDE] = SALES(HIGH_HALVES),
    [Q_INVOICES_DAY_WIDE] = TOP_INVOICES("10", HIGH_HALVES),
    [Q_INVOICES_MONTH_WIDE] = TOP_INVOICES("7", HIGH_HALVES),
    [Q_INVOICES_YEAR_WIDE] = TOP_INVOICES("4", HIGH_HALVES),
    [Q_ANY_WIDE_SALES] = ANY_WIDE("bi_sales"),
    [Q_ANY_WIDE_INVOICE] = ANY_WIDE("bi_invoice"),
};

void sf_wh_queries_free(sqlite_wh *w)
{
    for (int i = 0; i < NQUERY; i++) {
        sqlite3_finalize(w->q[i]);
        w->q[i] = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (w->dims_cached[i])
            sf_wh_dims_free(&w->dims[i]);
    memset(w->dims_cached, 0, sizeof w->dims_cached);
    sf_wh_ranked_free(&w->ranked);
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
    bool wide; /* the rows have the high halves' columns (HIGH_HALVES) */
} call;

/* Whether a row of the table of probe (Q_ANY_WIDE_*) has a total past
 * 10^18 (a high half); true when the probe fails: the wide read is always
 * right, the narrow one only without such rows. */
static bool any_wide(sqlite_wh *w, int probe, sf_error *err)
{
    sqlite3_stmt *q = query(w, probe, err);
    bool wide = !q || sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 0;
    if (q)
        sqlite3_reset(q);
    return wide;
}

/* The total whose columns are lo and hi (money.h); hi 0 when the row has
 * no such column. */
static sf_i128 total(sqlite3_stmt *q, bool wide, int lo, int hi)
{
    return sf_i128_join(wide ? sqlite3_column_int64(q, hi) : 0, sqlite3_column_int64(q, lo));
}

static int sales_row(sqlite3_stmt *q, void *arg)
{
    call *c = arg;
    sf_wh_sales r = {text(q, 0),
                     total(q, c->wide, 1, 6),
                     total(q, c->wide, 2, 7),
                     sqlite3_column_int64(q, 3),
                     sqlite3_column_int64(q, 4),
                     sqlite3_column_int64(q, 5)};
    return c->fn.sales(c->ctx, &r, c->err);
}

int sf_wh_read_sales(sf_warehouse *base, sf_grain g, const char *from, const char *to,
                     sf_wh_sales_fn fn, void *ctx, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    bool wide = any_wide(w, Q_ANY_WIDE_SALES, err);
    sqlite3_stmt *q = query(w, wide ? Q_SALES_WIDE : Q_SALES, err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, sf_grain_name(g), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, from ? from : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, to ? to : "~", -1, SQLITE_TRANSIENT);
    call c = {.fn.sales = fn, .ctx = ctx, .err = err, .wide = wide};
    return each_row(w, q, sales_row, &c, err);
}

/* Above this many entries a listing reads the whole dimension table once
 * (~4,000 rows, sequentially) rather than one indexed lookup per entry. */
#define DIMS_SCAN_MIN 200

/* Put the rows of dimension query q (key, text), stepped to its end, into d. */
static int dims_from(sqlite_wh *w, sqlite3_stmt *q, bool product, wh_dims *d, sf_error *err)
{
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW)
        rc = sf_wh_dims_put(d, product ? (const char *)sqlite3_column_text(q, 0) : NULL,
                            product ? 0 : sqlite3_column_int64(q, 0),
                            (const char *)sqlite3_column_text(q, 1),
                            (size_t)sqlite3_column_bytes(q, 1), err);
    sqlite3_reset(q);
    if (rc < 0)
        return rc;
    return step == SQLITE_DONE ? 0 : sf_wh_fail(w, err, "read a dimension");
}

/*
 * The dimension texts of r's entries: *out is local (one lookup per entry)
 * for a short ranking; for a listing, the whole table kept in w and read
 * again only when the file's data version moved (another connection, or
 * this one, committed since): answers asked while the sink is idle skip
 * the scan. Not inside a load's open transaction (its own writes are not
 * versioned until it commits).
 */
static int read_dims(sqlite_wh *w, const wh_ranked *r, bool product, wh_dims *local, wh_dims **out,
                     sf_error *err)
{
    unsigned version = 0;
    bool cache = !w->in_txn && sqlite3_file_control(w->db, "main", SQLITE_FCNTL_DATA_VERSION,
                                                    &version) == SQLITE_OK;
    int k = product ? 0 : 1, rc = 0;
    if (cache && w->dims_cached[k] && w->dims_version[k] == version) {
        *out = &w->dims[k];
        return 0;
    }
    *out = local;
    if (r->n <= DIMS_SCAN_MIN) {
        sqlite3_stmt *q = query(w, product ? Q_DESCRIPTION : Q_COUNTRY, err);
        for (size_t i = 0; q && rc == 0 && i < r->n; i++) {
            if (product)
                sqlite3_bind_text(q, 1, r->e[i].code, -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(q, 1, r->e[i].id);
            rc = dims_from(w, q, product, local, err);
        }
        return q ? rc : SF_EIO;
    }
    sqlite3_stmt *q = query(w, product ? Q_DESCRIPTIONS : Q_COUNTRIES, err);
    if (!q)
        return SF_EIO;
    if (cache) {
        if (w->dims_cached[k])
            sf_wh_dims_free(&w->dims[k]);
        sf_wh_dims_init(&w->dims[k]);
        w->dims_cached[k] = true;
        w->dims_version[k] = version;
        *out = &w->dims[k];
    }
    rc = dims_from(w, q, product, *out, err);
    if (rc < 0 && cache) { /* not whole: forget it */
        sf_wh_dims_free(&w->dims[k]);
        w->dims_cached[k] = false;
    }
    return rc;
}

/* The whole ranked list of one period (query which), when its head was
 * too short for the limit asked. */
static int read_whole(sqlite_wh *w, int which, const sf_wh_top *t, const char *period, bool product,
                      wh_ranked *r, sf_error *err)
{
    sqlite3_stmt *q = query(w, which, err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, sf_grain_name(t->grain), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, period, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q), rc = 0;
    bool short_head; /* never, with the whole list */
    if (step == SQLITE_ROW)
        rc = sf_wh_ranked_take(r, period, (const char *)sqlite3_column_text(q, 0),
                               (size_t)sqlite3_column_bytes(q, 0), true, 0, t, product, &short_head,
                               err);
    else if (step != SQLITE_DONE)
        rc = sf_wh_fail(w, err, "read a ranked list");
    sqlite3_reset(q);
    return rc;
}

/* The entries of list (bi_rank_head.list; query whole for the whole
 * lists) that t asks for, in order, into r. */
static int read_ranking(sqlite_wh *w, const sf_wh_top *t, const char *list, int whole, bool product,
                        wh_ranked *r, sf_error *err)
{
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "rankings are by day, month or year");
    sqlite3_stmt *q = query(w, Q_HEADS, err);
    if (!q)
        return SF_EIO;
    sqlite3_bind_text(q, 1, list, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, sf_grain_name(t->grain), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, t->period, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 4, t->last ? t->last : t->period, -1, SQLITE_TRANSIENT);
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *period = text(q, 0);
        bool short_head;
        rc = sf_wh_ranked_take(r, period, text(q, 2), (size_t)sqlite3_column_bytes(q, 2), false,
                               sqlite3_column_int64(q, 1), t, product, &short_head, err);
        if (rc == 0 && short_head)
            rc = read_whole(w, whole, t, period, product, r, err);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sf_wh_fail(w, err, "read the heads of rankings");
    sqlite3_reset(q);
    return rc;
}

/* Read t's ranking and hand each entry on with its dimension text. The
 * entries go through w->ranked, kept from one read to the next (ranked.c). */
static int rank(sqlite_wh *w, const sf_wh_top *t, bool product, call *c)
{
    wh_ranked *r = &w->ranked;
    wh_dims local, *d = &local;
    sf_wh_dims_init(&local);
    const char *list = !product ? "customer" : t->by_revenue ? "product_revenue" : "product_units";
    int whole = !product ? Q_CUSTOMERS : t->by_revenue ? Q_PRODUCTS_REVENUE : Q_PRODUCTS_UNITS;
    int rc = read_ranking(w, t, list, whole, product, r, c->err);
    if (rc == 0 && r->n > 0)
        rc = read_dims(w, r, product, &local, &d, c->err);
    if (rc == 0)
        rc = sf_wh_ranked_deliver(r, d, product, c->fn.product, c->fn.customer, c->ctx, c->err);
    sf_wh_ranked_reset(r);
    sf_wh_dims_free(&local);
    return rc;
}

int sf_wh_read_products(sf_warehouse *base, const sf_wh_top *t, sf_wh_product_fn fn, void *ctx,
                        sf_error *err)
{
    call c = {.fn.product = fn, .ctx = ctx, .err = err};
    return rank((sqlite_wh *)base, t, true, &c);
}

int sf_wh_read_customers(sf_warehouse *base, const sf_wh_top *t, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err)
{
    call c = {.fn.customer = fn, .ctx = ctx, .err = err};
    return rank((sqlite_wh *)base, t, false, &c);
}

/* A caller's invoice callback and the period being ranked. */
typedef struct invoice_call {
    call c;
    const char *period;
} invoice_call;

static int invoice_row(sqlite3_stmt *q, void *arg)
{
    invoice_call *k = arg;
    sf_wh_invoice r = {text(q, 0),
                       sqlite3_column_type(q, 1) == SQLITE_NULL ? SF_NO_CUSTOMER
                                                                : sqlite3_column_int(q, 1),
                       text(q, 2),
                       total(q, k->c.wide, 3, 6),
                       total(q, k->c.wide, 4, 7),
                       sqlite3_column_int64(q, 5),
                       k->period};
    return k->c.fn.invoice(k->c.ctx, &r, k->c.err);
}

/* Each period of t with sales (bi_sales), then its invoices by the index
 * of its grain: ~10 rows per period, an index seek each. */
int sf_wh_read_invoices(sf_warehouse *base, const sf_wh_top *t, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "invoices are ranked by day, month or year");
    bool wide = any_wide(w, Q_ANY_WIDE_INVOICE, err);
    int which = t->grain == SF_GRAIN_DAY     ? Q_INVOICES_DAY
                : t->grain == SF_GRAIN_MONTH ? Q_INVOICES_MONTH
                                             : Q_INVOICES_YEAR;
    which += wide ? Q_INVOICES_DAY_WIDE - Q_INVOICES_DAY : 0;
    sqlite3_stmt *q = query(w, which, err), *p = query(w, Q_PERIODS, err);
    if (!q || !p)
        return SF_EIO;
    sqlite3_bind_text(p, 1, sf_grain_name(t->grain), -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 2, t->period, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(p, 3, t->last ? t->last : t->period, -1, SQLITE_TRANSIENT);
    invoice_call k = {{.fn.invoice = fn, .ctx = ctx, .err = err, .wide = wide}, NULL};
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(p)) == SQLITE_ROW) {
        k.period = text(p, 0);
        sqlite3_bind_text(q, 1, k.period, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, t->limit);
        rc = each_row(w, q, invoice_row, &k, err);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sf_wh_fail(w, err, "read the periods");
    sqlite3_reset(p);
    return rc;
}
