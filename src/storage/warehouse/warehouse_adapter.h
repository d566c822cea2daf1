/*
 * warehouse_adapter.h - what a warehouse adapter fills (the port:
 * warehouse.h): its ops table, and the first member of its handle. For the
 * port's front (warehouse.c) and the adapters under storage/warehouse/
 * only; everyone else holds an opaque sf_warehouse.
 *
 * Each operation's contract is the one its sf_warehouse_* function states
 * in warehouse.h. The front stands in for commit_later when it is NULL
 * (commit).
 *
 * To add an adapter: a folder storage/warehouse/NAME/ whose ops table is
 * `const sf_warehouse_ops sf_warehouse_NAME_ops`, one row in warehouse.c's
 * table with its schemes, and its files in src/CMakeLists.txt.
 */
#ifndef SF_WAREHOUSE_ADAPTER_H
#define SF_WAREHOUSE_ADAPTER_H

#include "core/location.h"
#include "storage/warehouse/warehouse.h"

typedef struct sf_warehouse_ops {
    /* loc: the location taken apart (rest: what follows the scheme); opts
     * is never NULL. */
    int (*open)(const sf_location *loc, const sf_warehouse_opts *opts, sf_warehouse **out,
                sf_error *err);
    int (*positions)(sf_warehouse *w, sf_pos *next, uint32_t nparts, sf_error *err);
    int (*load)(sf_warehouse *w, uint32_t p, const sf_stream_batch *b, sf_error *err);
    int (*commit)(sf_warehouse *w, sf_error *err);
    int (*read)(sf_warehouse *w, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
                sf_error *err);
    int (*sales)(sf_warehouse *w, sf_grain g, const char *from, const char *to, sf_wh_sales_fn fn,
                 void *ctx, sf_error *err);
    int (*top_products)(sf_warehouse *w, const sf_wh_top *q, sf_wh_product_fn fn, void *ctx,
                        sf_error *err);
    int (*top_customers)(sf_warehouse *w, const sf_wh_top *q, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err);
    int (*top_invoices)(sf_warehouse *w, const sf_wh_top *q, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err);
    void (*close)(sf_warehouse *w);
    /* Optional (NULL: commit). */
    int (*commit_later)(sf_warehouse *w, sf_error *err);
    int (*quarantine)(sf_warehouse *w, uint32_t p, const sf_stream_entry *e, const char *reason,
                      const char *at, const sf_pos *next, sf_error *err);
    int (*retry)(sf_warehouse *w, uint32_t p, const sf_stream_entry *e, sf_error *err);
    int (*quarantined)(sf_warehouse *w, sf_wh_quarantined_fn fn, void *ctx, sf_error *err);
    void (*committed)(sf_warehouse *w, uint64_t *records, uint64_t *quarantined);
} sf_warehouse_ops;

/* Every adapter's handle starts with this. */
struct sf_warehouse {
    const sf_warehouse_ops *ops;
};

#endif
