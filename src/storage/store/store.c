/*
 * store.c - the history store port's front: the adapter table and the
 * wrappers every caller goes through (store.h).
 */
#include "storage/store/store_adapter.h"

extern const sf_store_ops sf_store_lmdb_ops;
extern const sf_store_ops sf_store_dynamodb_ops;

/* The adapters and their schemes; the first is the default (a bare path). */
static const sf_adapter adapters[] = {
    {{"lmdb"}, &sf_store_lmdb_ops},
    {{"dynamodb"}, &sf_store_dynamodb_ops},
};

int sf_store_open(const char *location, const sf_store_opts *opts, sf_store **out, sf_error *err)
{
    static const sf_store_opts defaults;
    const void *ops;
    sf_location loc;
    int rc = sf_location_pick("store", adapters, sizeof adapters / sizeof adapters[0], location,
                              &ops, &loc, err);
    return rc < 0 ? rc : ((const sf_store_ops *)ops)->open(&loc, opts ? opts : &defaults, out, err);
}

void sf_store_close(sf_store *s)
{
    if (s)
        s->ops->close(s);
}

int sf_store_positions(sf_store *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    return s->ops->positions(s, next, nparts, err);
}

int sf_store_apply(sf_store *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    return s->ops->apply(s, p, b, err);
}

int sf_store_set_aside(sf_store *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                       const char *at, const sf_pos *next, sf_error *err)
{
    return s->ops->set_aside(s, p, e, reason, at, next, err);
}

int sf_store_retry(sf_store *s, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    return s->ops->retry(s, p, e, err);
}

int sf_store_commit(sf_store *s, sf_error *err)
{
    return s->ops->commit(s, err);
}

void sf_store_rollback(sf_store *s)
{
    s->ops->rollback(s);
}

int sf_store_quarantined(sf_store *s, sf_store_quarantined_fn fn, void *ctx, sf_error *err)
{
    return s->ops->quarantined(s, fn, ctx, err);
}

int sf_store_invoice(sf_store *s, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                     sf_store_line_fn on_line, void *ctx, sf_error *err)
{
    return s->ops->invoice(s, invoice_no, len, on_header, on_line, ctx, err);
}

int sf_store_customer_invoices(sf_store *s, const sf_store_page *q, sf_store_listed_fn fn,
                               void *ctx, bool *more, sf_error *err)
{
    return s->ops->customer_invoices(s, q, fn, ctx, more, err);
}

int sf_store_each_invoice(sf_store *s, sf_store_header_fn on_header, sf_store_line_fn on_line,
                          void *ctx, sf_error *err)
{
    return s->ops->each_invoice(s, on_header, on_line, ctx, err);
}
