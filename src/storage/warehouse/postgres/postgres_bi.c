/*
 * postgres_bi.c - the BI reads of the "postgres" warehouse: the same
 * questions as sqlite_bi.c over the same rollup tables, each one indexed
 * lookup or range by a prepared statement, so its cost depends on the size
 * of the answer, not on the number of fact rows.
 *
 * read() runs the caller in one REPEATABLE READ, READ ONLY transaction: a BI
 * answer made of several queries sees one snapshot while a sink commits on
 * another connection. A handle serves one read() at a time (its mutex): a
 * libpq connection carries one conversation.
 *
 * A listing (every day of a year) costs a few round trips, not a few per
 * period: the heads of its rankings in one range query, the dimension
 * texts of all its items in one, its invoices in one LATERAL join.
 *
 * Round trips per answer: BEGIN and the positions (sink_offsets) in one,
 * each read of the answer one, COMMIT sent without waiting for its reply
 * (libpq reads it before the connection's next query). The dimension texts
 * are kept per connection while the positions' rows stay the same: a
 * listing then asks only for the texts of items it has not met before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/warehouse/postgres/postgres_int.h"

#define BEGIN_READ "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
#define LOADED     "SELECT to_regclass('bi_sales') IS NOT NULL"
/* xmin: the transaction that wrote the row, new at every load. */
#define OFFSETS                                                                                    \
    "SELECT log_partition, next_offset, xmin::text, encode(next_pos, 'hex') FROM sink_offsets "    \
    "ORDER BY 1"

/* Run sql (statements, the last one a query): its last result, or NULL. */
static PGresult *query(pg_wh *w, const char *sql, sf_error *err)
{
    PGresult *res = PQexec(w->conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    sf_pg_fail(w, res, err, sql);
    PQclear(res);
    return NULL;
}

void sf_pg_dims_reset(pg_wh *w)
{
    for (int i = 0; i < 2; i++) {
        sf_wh_dims_free(&w->dims[i]);
        sf_wh_dims_init(&w->dims[i]);
    }
    sf_buf_free(&w->token);
}

/* Keep the cached dimension texts if the positions' rows are those they
 * were read with, else forget them. */
static int check_token(pg_wh *w, sf_error *err)
{
    sf_buf now = SF_BUF_INIT;
    for (int i = 0; i < PQntuples(w->offsets); i++)
        for (int c = 0; c < 3; c++) {
            sf_buf_add(&now, PQgetvalue(w->offsets, i, c), (size_t)PQgetlength(w->offsets, i, c));
            sf_buf_add(&now, c < 2 ? ":" : ";", 1);
        }
    if (sf_buf_failed(&now))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (now.len != w->token.len || (now.len && memcmp(now.data, w->token.data, now.len) != 0)) {
        sf_pg_dims_reset(w);
        w->token = now;
    } else {
        sf_buf_free(&now);
    }
    return 0;
}

/* Open the read's snapshot and take its positions: one round trip once
 * the tables are known to exist. SF_ENOENT before the first load. */
static int begin(pg_wh *w, sf_error *err)
{
    if (!w->loaded) {
        PGresult *res = query(w, BEGIN_READ LOADED, err);
        if (!res)
            return SF_EIO;
        w->loaded = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!w->loaded)
            return sf_error_set(err, SF_ENOENT, "the warehouse has not been loaded yet");
        w->offsets = query(w, OFFSETS, err);
    } else {
        w->offsets = query(w, BEGIN_READ OFFSETS, err);
    }
    return w->offsets ? check_token(w, err) : SF_EIO;
}

int sf_pg_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
               sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    pthread_mutex_lock(&w->lock);
    int rc;
    if (w->in_txn) { /* a loader's own read, in its transaction */
        PGresult *res = query(w, LOADED, err);
        rc = !res ? SF_EIO
             : strcmp(PQgetvalue(res, 0, 0), "t") == 0
                 ? fn(base, ctx, err)
                 : sf_error_set(err, SF_ENOENT, "the warehouse has not been loaded yet");
        PQclear(res);
        pthread_mutex_unlock(&w->lock);
        return rc;
    }
    rc = begin(w, err);
    if (rc < 0 && PQstatus(w->conn) == CONNECTION_BAD) {
        /* The server restarted or the connection broke (a long-lived
         * reader: serve): connect again, once per answer. */
        rc = sf_pg_reconnect(w, err);
        if (rc == 0)
            rc = begin(w, err);
    }
    if (rc == 0)
        rc = fn(base, ctx, err);
    PQclear(w->offsets);
    w->offsets = NULL;
    /* A read-only transaction has nothing to make durable: its reply is
     * read (and dropped) by libpq before the next query on w->conn. */
    if (PQtransactionStatus(w->conn) != PQTRANS_IDLE)
        PQsendQuery(w->conn, rc == 0 ? "COMMIT" : "ROLLBACK");
    pthread_mutex_unlock(&w->lock);
    return rc;
}

/* A BIGINT of a binary result; 0 for NULL. */
static int64_t num(const PGresult *res, int row, int col)
{
    if (PQgetlength(res, row, col) != 8)
        return 0;
    const unsigned char *b = (const unsigned char *)PQgetvalue(res, row, col);
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 8 | b[k];
    return (int64_t)v;
}

/* The total whose BIGINT columns are lo and hi (money.h). */
static sf_i128 total(const PGresult *res, int row, int lo, int hi)
{
    return sf_i128_join(num(res, row, hi), num(res, row, lo));
}

int sf_pg_read_sales(sf_warehouse *base, sf_grain g, const char *from, const char *to,
                     sf_wh_sales_fn fn, void *ctx, sf_error *err)
{
    const char *params[] = {sf_grain_name(g), from ? from : "", to ? to : "~"};
    PGresult *res = sf_pg_run((pg_wh *)base, P_SALES, 3, params, err);
    if (!res)
        return SF_EIO;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        sf_wh_sales r = {PQgetvalue(res, i, 0), total(res, i, 1, 6), total(res, i, 2, 7),
                         num(res, i, 3),        num(res, i, 4),      num(res, i, 5)};
        rc = fn(ctx, &r, err);
    }
    PQclear(res);
    return rc;
}

/* The dimension texts of r's entries into d, in one query: a round trip
 * per item (or per period) cost more than the rest of the answer. Each key
 * is asked for once (d remembers it): the top 10 of every day of a year
 * name ~800 products 2,770 times, and the server's time for the query
 * follows the length of the array (2.5 -> 1.15 ms of its CPU). No query
 * when d (a reader's cache) knows them all. */
static int read_dims(pg_wh *w, const wh_ranked *r, bool product, wh_dims *d, sf_error *err)
{
    char(*ids)[24] = calloc(r->n, sizeof *ids);
    const char **keys = calloc(r->n, sizeof *keys);
    sf_buf array = SF_BUF_INIT;
    int rc = ids && keys ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        bool want;
        if ((rc = sf_wh_dims_want(d, &r->e[i], product, &want, err)) < 0 || !want)
            continue;
        const char *key = r->e[i].code;
        if (!product) {
            snprintf(ids[n], sizeof ids[n], "%lld", (long long)r->e[i].id);
            key = ids[n];
        }
        keys[n++] = key;
    }
    bool ask = rc == 0 && n > 0; /* else every text is known already */
    if (ask)
        sf_pg_array(&array, keys, n);
    if (ask && sf_buf_failed(&array))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    const char *param = array.data;
    PGresult *res =
        ask && rc == 0 ? sf_pg_run(w, product ? P_DESCRIPTION : P_COUNTRY, 1, &param, err) : NULL;
    if (ask && rc == 0 && !res)
        rc = SF_EIO;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++)
        rc = sf_wh_dims_put(d, product ? PQgetvalue(res, i, 0) : NULL,
                            product ? 0 : strtoll(PQgetvalue(res, i, 0), NULL, 10),
                            PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), err);
    PQclear(res);
    sf_buf_free(&array);
    free(keys);
    free(ids);
    return rc;
}

/* The whole ranked list of one period (statement which), when its head
 * was too short for the limit asked. */
static int read_whole(pg_wh *w, int which, const sf_wh_top *t, const char *period, bool product,
                      wh_ranked *r, sf_error *err)
{
    const char *params[] = {sf_grain_name(t->grain), period};
    PGresult *res = sf_pg_run(w, which, 2, params, err);
    if (!res)
        return SF_EIO;
    int rc = 0;
    bool short_head; /* never, with the whole list */
    if (PQntuples(res) > 0)
        rc = sf_wh_ranked_take(r, period, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
                               true, 0, t, product, &short_head, err);
    PQclear(res);
    return rc;
}

/* The entries of list (bi_rank_head.list; statement whole for the whole
 * lists) that t asks for, in order, into r: one query for the heads. */
static int read_ranking(pg_wh *w, const sf_wh_top *t, const char *list, int whole, bool product,
                        wh_ranked *r, sf_error *err)
{
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "rankings are by day, month or year");
    const char *params[] = {list, sf_grain_name(t->grain), t->period,
                            t->last ? t->last : t->period};
    /* The tops serve the usual limits without reading (decompressing) the
     * heads; a top too short for t goes to the whole list, as a head. */
    PGresult *res = sf_pg_run(w, t->limit <= SF_PG_TOP ? P_TOPS : P_HEADS, 4, params, err);
    if (!res)
        return SF_EIO;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        const char *period = PQgetvalue(res, i, 0);
        bool short_head;
        rc = sf_wh_ranked_take(r, period, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2),
                               false, num(res, i, 1), t, product, &short_head, err);
        if (rc == 0 && short_head)
            rc = read_whole(w, whole, t, period, product, r, err);
    }
    PQclear(res);
    return rc;
}

/* Read t's ranking and hand each entry on with its dimension text. The
 * entries go through w->ranked, kept from one read to the next (ranked.c). */
static int rank(pg_wh *w, const sf_wh_top *t, bool product, sf_wh_product_fn pfn,
                sf_wh_customer_fn cfn, void *ctx, sf_error *err)
{
    wh_ranked *r = &w->ranked;
    wh_dims local; /* a loader's read: no positions to vouch for a cache */
    sf_wh_dims_init(&local);
    wh_dims *d = w->offsets ? &w->dims[product] : &local;
    const char *list = !product ? "customer" : t->by_revenue ? "product_revenue" : "product_units";
    int whole = !product ? P_LIST_CUSTOMERS : t->by_revenue ? P_PRODUCTS_REVENUE : P_LIST_PRODUCTS;
    int rc = read_ranking(w, t, list, whole, product, r, err);
    if (rc == 0 && r->n > 0)
        rc = read_dims(w, r, product, d, err);
    if (rc < 0 && d != &local)
        sf_pg_dims_reset(w); /* keys asked for but perhaps never filled in */
    if (rc == 0)
        rc = sf_wh_ranked_deliver(r, d, product, pfn, cfn, ctx, err);
    sf_wh_ranked_reset(r);
    sf_wh_dims_free(&local);
    return rc;
}

int sf_pg_read_products(sf_warehouse *base, const sf_wh_top *t, sf_wh_product_fn fn, void *ctx,
                        sf_error *err)
{
    return rank((pg_wh *)base, t, true, fn, NULL, ctx, err);
}

int sf_pg_read_customers(sf_warehouse *base, const sf_wh_top *t, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err)
{
    return rank((pg_wh *)base, t, false, NULL, fn, ctx, err);
}

/* Rows of a top-invoices result, in ranking order: by period, revenue
 * descending, invoice number (bytes). */
typedef struct invoice_at {
    const char *period, *invoice_no;
    sf_i128 revenue;
    int row;
} invoice_at;

static int invoice_order(const void *a, const void *b)
{
    const invoice_at *x = a, *y = b;
    int c = strcmp(x->period, y->period);
    if (c == 0)
        c = sf_i128_cmp(y->revenue, x->revenue);
    return c ? c : strcmp(x->invoice_no, y->invoice_no);
}

/* Every period of t with sales and its first invoices, in one query. */
int sf_pg_read_invoices(sf_warehouse *base, const sf_wh_top *t, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err)
{
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "invoices are ranked by day, month or year");
    /* Up to SF_PG_TOP: bi_invoice_top, one index range; past it, each
     * period's first invoices by bi_invoice's index of its grain. */
    int which = t->limit <= SF_PG_TOP        ? P_INVOICES_TOP
                : t->grain == SF_GRAIN_DAY   ? P_INVOICES_DAY
                : t->grain == SF_GRAIN_MONTH ? P_INVOICES_MONTH
                                             : P_INVOICES_YEAR;
    char limit[16];
    snprintf(limit, sizeof limit, "%u", t->limit);
    const char *params[] = {t->period, t->last ? t->last : t->period, limit,
                            sf_grain_name(t->grain)};
    PGresult *res = sf_pg_run((pg_wh *)base, which, which == P_INVOICES_TOP ? 4 : 3, params, err);
    if (!res)
        return SF_EIO;
    int n = PQntuples(res), rc = 0;
    invoice_at *at = calloc(n > 0 ? (size_t)n : 1, sizeof *at);
    if (!at)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    bool sorted = true;
    for (int i = 0; rc == 0 && i < n; i++) {
        at[i] = (invoice_at){PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), total(res, i, 4, 7), i};
        sorted = sorted && (i == 0 || invoice_order(&at[i - 1], &at[i]) < 0);
    }
    if (rc == 0 && !sorted)
        qsort(at, (size_t)n, sizeof *at, invoice_order);
    for (int k = 0; rc == 0 && k < n; k++) {
        int i = at[k].row;
        sf_wh_invoice r = {PQgetvalue(res, i, 1),
                           PQgetisnull(res, i, 2) ? SF_NO_CUSTOMER : (int32_t)num(res, i, 2),
                           PQgetvalue(res, i, 3),
                           total(res, i, 4, 7),
                           total(res, i, 5, 8),
                           num(res, i, 6),
                           PQgetvalue(res, i, 0)};
        rc = fn(ctx, &r, err);
    }
    free(at);
    PQclear(res);
    return rc;
}
