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
 * and error. */
typedef struct walk {
    pg_wh *w;
    union {
        sf_wh_product_fn product;
        sf_wh_customer_fn customer;
    } fn;
    void *ctx;
    sf_error *err;
} walk;

/* The text of a dimension (a product's description, a customer's country)
 * by key: a result to PQclear, its value "" when unknown; NULL on error. */
static PGresult *dimension(pg_wh *w, int which, const char *key, const char **text, sf_error *err)
{
    PGresult *res = sf_pg_run(w, which, 1, &key, err);
    if (res)
        *text = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "";
    return res;
}

static int product_row(void *arg, const wh_rank_entry *e)
{
    walk *k = arg;
    const char *description;
    PGresult *res = dimension(k->w, P_DESCRIPTION, e->code, &description, k->err);
    if (!res)
        return SF_EIO;
    sf_wh_product r = {e->code, description, e->v[0], e->v[1], e->v[3] != 0};
    int rc = k->fn.product(k->ctx, &r, k->err);
    PQclear(res);
    return rc;
}

static int customer_row(void *arg, const wh_rank_entry *e)
{
    walk *k = arg;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)e->id);
    const char *country;
    PGresult *res = dimension(k->w, P_COUNTRY, id, &country, k->err);
    if (!res)
        return SF_EIO;
    sf_wh_customer r = {(int32_t)e->id, country, e->v[0], e->v[3]};
    int rc = k->fn.customer(k->ctx, &r, k->err);
    PQclear(res);
    return rc;
}

/* Walk the head of the ranked list of t's period (statement which). */
static int walk_list(walk *k, int which, const sf_wh_top *t, bool product,
                     int (*row)(void *arg, const wh_rank_entry *e))
{
    const char *params[] = {sf_grain_name(t->grain), t->period};
    PGresult *res = sf_pg_run(k->w, which, 2, params, k->err);
    if (!res)
        return SF_EIO;
    int rc = 0;
    if (PQntuples(res) > 0)
        rc = sf_wh_rank_walk(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), t, product, row,
                             k);
    PQclear(res);
    return rc;
}

int sf_pg_read_products(sf_warehouse *base, const sf_wh_top *t, sf_wh_product_fn fn, void *ctx,
                        sf_error *err)
{
    walk k = {(pg_wh *)base, {.product = fn}, ctx, err};
    return walk_list(&k, t->by_revenue ? P_PRODUCTS_REVENUE : P_LIST_PRODUCTS, t, true,
                     product_row);
}

int sf_pg_read_customers(sf_warehouse *base, const sf_wh_top *t, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err)
{
    walk k = {(pg_wh *)base, {.customer = fn}, ctx, err};
    return walk_list(&k, P_LIST_CUSTOMERS, t, false, customer_row);
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
