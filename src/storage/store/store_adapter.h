/*
 * store_adapter.h - what a history store adapter fills (the port:
 * store.h): its ops table, and the first member of its handle. For the
 * port's front (store.c) and the adapters under storage/store/ only;
 * everyone else holds an opaque sf_store.
 *
 * Each operation's contract is the one its sf_store_* function states in
 * store.h, including which exactly-once model the adapter gives and what
 * its readers may see of a unit of work (say both at the top of the
 * adapter). The front checks nothing on the adapter's behalf.
 *
 * To add an adapter (docs/architecture.md, "How to add a backend"): a
 * folder storage/store/NAME/ whose ops table is
 * `const sf_store_ops sf_store_NAME_ops`, one row in store.c's table with
 * its schemes, its files in src/CMakeLists.txt, and one row in the table
 * of tests/unit/test_store.c (the port's contract tests).
 */
#ifndef SF_STORE_ADAPTER_H
#define SF_STORE_ADAPTER_H

#include "core/location.h"
#include "storage/store/store.h"

typedef struct sf_store_ops {
    /* loc->rest is what follows the scheme (the whole path when bare);
     * opts is never NULL. */
    int (*open)(const sf_location *loc, const sf_store_opts *opts, sf_store **out, sf_error *err);
    void (*close)(sf_store *s);
    int (*positions)(sf_store *s, sf_pos *next, uint32_t nparts, sf_error *err);
    int (*apply)(sf_store *s, uint32_t p, const sf_stream_batch *b, sf_error *err);
    int (*set_aside)(sf_store *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                     const char *at, const sf_pos *next, sf_error *err);
    int (*retry)(sf_store *s, uint32_t p, const sf_stream_entry *e, sf_error *err);
    int (*commit)(sf_store *s, sf_error *err);
    void (*rollback)(sf_store *s);
    int (*quarantined)(sf_store *s, sf_store_quarantined_fn fn, void *ctx, sf_error *err);
    int (*invoice)(sf_store *s, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                   sf_store_line_fn on_line, void *ctx, sf_error *err);
    int (*customer_invoices)(sf_store *s, const sf_store_page *q, sf_store_listed_fn fn, void *ctx,
                             bool *more, sf_error *err);
    int (*each_invoice)(sf_store *s, sf_store_header_fn on_header, sf_store_line_fn on_line,
                        void *ctx, sf_error *err);
} sf_store_ops;

/* Every adapter's handle starts with this. */
struct sf_store {
    const sf_store_ops *ops;
};

#endif
