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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/warehouse/postgres_int.h"

static bool loaded(pg_wh *w)
{
    PGresult *res = PQexec(w->conn, "SELECT to_regclass('bi_sales') IS NOT NULL");
    bool yes = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return yes;
}

int sf_pg_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
               sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    pthread_mutex_lock(&w->lock);
    bool own_txn = !w->in_txn;
    int rc = 0;
    if (own_txn)
        rc = sf_pg_exec(w, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    if (own_txn && rc < 0 && PQstatus(w->conn) == CONNECTION_BAD) {
        /* The server restarted or the connection broke (a long-lived
         * reader: serve): connect again, once per answer. */
        rc = sf_pg_reconnect(w, err);
        if (rc == 0)
            rc = sf_pg_exec(w, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
    }
    if (rc == 0 && !loaded(w))
        rc = sf_error_set(err, SF_ENOENT, "the warehouse has not been loaded yet");
    if (rc == 0)
        rc = fn(base, ctx, err);
    if (own_txn)
        PQclear(PQexec(w->conn, rc == 0 ? "COMMIT" : "ROLLBACK"));
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static int64_t num(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
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
        sf_wh_sales r = {PQgetvalue(res, i, 0), num(res, i, 1), num(res, i, 2),
                         num(res, i, 3),        num(res, i, 4), num(res, i, 5)};
        rc = fn(ctx, &r, err);
    }
    PQclear(res);
    return rc;
}

/* A walk over a ranked list: the handle, the caller's callback, context
 * and error, and the head of the list, collected before its dimension
 * texts are fetched in one query (a round trip per item cost ten times the
 * rest of the answer). */
typedef struct walk {
    pg_wh *w;
    union {
        sf_wh_product_fn product;
        sf_wh_customer_fn customer;
    } fn;
    void *ctx;
    sf_error *err;
    wh_rank_entry *e;
    size_t n;
} walk;

static int collect(void *arg, const wh_rank_entry *e)
{
    walk *k = arg;
    k->e[k->n++] = *e;
    return 0;
}

/* The key of entry e as text (a product's code, a customer's id). */
static const char *key_of(const wh_rank_entry *e, bool product, char *buf, size_t cap)
{
    if (product)
        return e->code;
    snprintf(buf, cap, "%lld", (long long)e->id);
    return buf;
}

/* Fetch the dimension texts of the collected entries (statement which:
 * key, text) and hand each entry with its text ("" if unknown) on. */
static int deliver(walk *k, bool product)
{
    char(*ids)[24] = calloc(k->n ? k->n : 1, sizeof *ids);
    const char **keys = calloc(k->n ? k->n : 1, sizeof *keys);
    sf_buf array = SF_BUF_INIT;
    int rc = ids && keys ? 0 : sf_error_set(k->err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k->n; i++)
        keys[i] = key_of(&k->e[i], product, ids[i], sizeof ids[i]);
    if (rc == 0)
        sf_pg_array(&array, keys, k->n);
    if (rc == 0 && sf_buf_failed(&array))
        rc = sf_error_set(k->err, SF_ENOMEM, "out of memory");
    const char *param = array.data;
    PGresult *res =
        rc == 0 ? sf_pg_run(k->w, product ? P_DESCRIPTION : P_COUNTRY, 1, &param, k->err) : NULL;
    if (rc == 0 && !res)
        rc = SF_EIO;
    for (size_t i = 0; rc == 0 && i < k->n; i++) {
        const wh_rank_entry *e = &k->e[i];
        const char *text = "";
        for (int r = 0; r < PQntuples(res); r++)
            if (strcmp(PQgetvalue(res, r, 0), keys[i]) == 0)
                text = PQgetvalue(res, r, 1);
        if (product) {
            sf_wh_product row = {e->code, text, e->v[0], e->v[1], e->v[3] != 0};
            rc = k->fn.product(k->ctx, &row, k->err);
        } else {
            sf_wh_customer row = {(int32_t)e->id, text, e->v[0], e->v[3]};
            rc = k->fn.customer(k->ctx, &row, k->err);
        }
    }
    PQclear(res);
    sf_buf_free(&array);
    free(keys);
    free(ids);
    return rc;
}

/* Walk the head of the ranked list of t's period (statement which). */
static int walk_list(walk *k, int which, const sf_wh_top *t, bool product)
{
    const char *params[] = {sf_grain_name(t->grain), t->period};
    PGresult *res = sf_pg_run(k->w, which, 2, params, k->err);
    if (!res)
        return SF_EIO;
    k->e = calloc(t->limit ? t->limit : 1, sizeof *k->e);
    k->n = 0;
    int rc = k->e ? 0 : sf_error_set(k->err, SF_ENOMEM, "out of memory");
    if (rc == 0 && PQntuples(res) > 0)
        rc = sf_wh_rank_walk(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), t, product,
                             collect, k);
    PQclear(res);
    if (rc == 0 && k->n > 0)
        rc = deliver(k, product);
    free(k->e);
    return rc;
}

int sf_pg_read_products(sf_warehouse *base, const sf_wh_top *t, sf_wh_product_fn fn, void *ctx,
                        sf_error *err)
{
    walk k = {(pg_wh *)base, {.product = fn}, ctx, err, NULL, 0};
    return walk_list(&k, t->by_revenue ? P_PRODUCTS_REVENUE : P_LIST_PRODUCTS, t, true);
}

int sf_pg_read_customers(sf_warehouse *base, const sf_wh_top *t, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err)
{
    walk k = {(pg_wh *)base, {.customer = fn}, ctx, err, NULL, 0};
    return walk_list(&k, P_LIST_CUSTOMERS, t, false);
}

int sf_pg_read_invoices(sf_warehouse *base, const sf_wh_top *t, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err)
{
    if (t->grain == SF_GRAIN_HOUR)
        return sf_error_set(err, SF_EINVAL, "invoices are ranked by day, month or year");
    int which = t->grain == SF_GRAIN_DAY     ? P_INVOICES_DAY
                : t->grain == SF_GRAIN_MONTH ? P_INVOICES_MONTH
                                             : P_INVOICES_YEAR;
    char limit[16];
    snprintf(limit, sizeof limit, "%u", t->limit);
    const char *params[] = {t->period, limit};
    PGresult *res = sf_pg_run((pg_wh *)base, which, 2, params, err);
    if (!res)
        return SF_EIO;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        sf_wh_invoice r = {PQgetvalue(res, i, 0),
                           PQgetisnull(res, i, 1) ? SF_NO_CUSTOMER : (int32_t)num(res, i, 1),
                           PQgetvalue(res, i, 2),
                           num(res, i, 3),
                           num(res, i, 4),
                           num(res, i, 5)};
        rc = fn(ctx, &r, err);
    }
    PQclear(res);
    return rc;
}
