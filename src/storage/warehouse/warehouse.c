/*
 * warehouse.c - the warehouse port's front: the adapter table and the
 * wrappers every caller goes through (warehouse.h). The adapters are chosen
 * here only, so the sinks, serve, status and report take any of them
 * through --warehouse.
 */
#include "storage/warehouse/warehouse_adapter.h"

extern const sf_warehouse_ops sf_warehouse_sqlite_ops;
extern const sf_warehouse_ops sf_warehouse_postgres_ops;

/* The adapters and their schemes; the first is the default (a bare path). */
static const sf_adapter adapters[] = {
    {{"sqlite"}, &sf_warehouse_sqlite_ops},
    {{"postgres", "postgresql"}, &sf_warehouse_postgres_ops},
};

int sf_warehouse_open(const char *location, const sf_warehouse_opts *opts, sf_warehouse **out,
                      sf_error *err)
{
    static const sf_warehouse_opts defaults;
    const void *ops;
    sf_location loc;
    int rc = sf_location_pick("warehouse", adapters, sizeof adapters / sizeof adapters[0], location,
                              &ops, &loc, err);
    return rc < 0 ? rc
                  : ((const sf_warehouse_ops *)ops)->open(&loc, opts ? opts : &defaults, out, err);
}

void sf_warehouse_close(sf_warehouse *w)
{
    if (w)
        w->ops->close(w);
}

int sf_warehouse_positions(sf_warehouse *w, sf_pos *next, uint32_t nparts, sf_error *err)
{
    return w->ops->positions(w, next, nparts, err);
}

int sf_warehouse_load(sf_warehouse *w, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    return w->ops->load(w, p, b, err);
}

int sf_warehouse_commit(sf_warehouse *w, sf_error *err)
{
    return w->ops->commit(w, err);
}

int sf_warehouse_commit_later(sf_warehouse *w, sf_error *err)
{
    return (w->ops->commit_later ? w->ops->commit_later : w->ops->commit)(w, err);
}

void sf_warehouse_committed(sf_warehouse *w, uint64_t *records, uint64_t *quarantined)
{
    w->ops->committed(w, records, quarantined);
}

int sf_warehouse_quarantine(sf_warehouse *w, uint32_t p, const sf_stream_entry *e,
                            const char *reason, const char *at, const sf_pos *next, sf_error *err)
{
    return w->ops->quarantine(w, p, e, reason, at, next, err);
}

int sf_warehouse_retry(sf_warehouse *w, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    return w->ops->retry(w, p, e, err);
}

int sf_warehouse_quarantined(sf_warehouse *w, sf_wh_quarantined_fn fn, void *ctx, sf_error *err)
{
    return w->ops->quarantined(w, fn, ctx, err);
}

int sf_warehouse_read(sf_warehouse *w, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err),
                      void *ctx, sf_error *err)
{
    return w->ops->read(w, fn, ctx, err);
}

int sf_warehouse_sales(sf_warehouse *w, sf_grain g, const char *from, const char *to,
                       sf_wh_sales_fn fn, void *ctx, sf_error *err)
{
    return w->ops->sales(w, g, from, to, fn, ctx, err);
}

int sf_warehouse_top_products(sf_warehouse *w, const sf_wh_top *q, sf_wh_product_fn fn, void *ctx,
                              sf_error *err)
{
    return w->ops->top_products(w, q, fn, ctx, err);
}

int sf_warehouse_top_customers(sf_warehouse *w, const sf_wh_top *q, sf_wh_customer_fn fn, void *ctx,
                               sf_error *err)
{
    return w->ops->top_customers(w, q, fn, ctx, err);
}

int sf_warehouse_top_invoices(sf_warehouse *w, const sf_wh_top *q, sf_wh_invoice_fn fn, void *ctx,
                              sf_error *err)
{
    return w->ops->top_invoices(w, q, fn, ctx, err);
}
