/*
 * warehouse.h - the analytics warehouse port (Redshift's role): a star
 * schema loaded batch by batch, with the rollups the BI questions read
 * (docs/warehouse.md).
 *
 * Guarantees every adapter gives:
 *  - load() adds a batch of one partition, and that partition's new
 *    position, to the open transaction; commit() makes everything loaded
 *    since the last commit durable and visible at once (facts, rollups,
 *    positions), or none of it: the warehouse and its positions never
 *    disagree, so a sink resuming from positions() loads each record once;
 *  - the content after loading a set of records does not depend on how they
 *    were split into batches and transactions, nor on the order partitions
 *    were loaded in (rollups are sums and exact distinct counts; dimension
 *    rows take their latest line's values, ties broken by the text);
 *  - the BI reads (sales, top_*) run inside read(), which gives them one
 *    consistent snapshot and serialises callers: one sf_warehouse opened
 *    with SF_WH_READER may be shared by several threads, as long as they
 *    call positions() too only from inside read() (sf_bi_answer does).
 *
 * Periods are text keys, the same in every adapter: hour "2011-11-05 08",
 * day "2011-11-05", month "2011-11", year "2011" (shop time, no zone).
 *
 * Totals (revenue, units) are 128-bit (money.h: no number of lines within
 * the per-line limits can wrap one); counts (lines, invoices, customers)
 * are int64: each counts stored records.
 *
 * Exactly-once (DESIGN §3a): every adapter gives the first model, one
 * transaction holding the effects and the positions (above). An adapter
 * that cannot (a store without multi-statement transactions) does not
 * belong behind this port as it is: it would need the second model's
 * idempotent loads and a checkpoint written last, which these operations
 * do not describe.
 *
 * Adapters (warehouse.c's table; each a folder under storage/warehouse/,
 * sharing the rollup code of rollup.h):
 *   sqlite    "sqlite:FILE" or a bare path                    (sqlite/)
 *   postgres  "postgres://…", "postgresql://…" (a libpq URI),  (postgres/)
 *             "postgres:CONNINFO" (libpq keywords; the PG*
 *             variables fill what is left out)
 * The handle is opaque; callers use only the functions below.
 */
#ifndef SF_WAREHOUSE_H
#define SF_WAREHOUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/money.h"

typedef struct sf_warehouse sf_warehouse;

typedef enum sf_grain {
    SF_GRAIN_HOUR = 0,
    SF_GRAIN_DAY = 1,
    SF_GRAIN_MONTH = 2,
    SF_GRAIN_YEAR = 3,
} sf_grain;
#define SF_GRAINS 4

/* Length of a period key of grain g: 13, 10, 7, 4. */
int sf_grain_key_len(sf_grain g);
/* "hour", "day", "month", "year". */
const char *sf_grain_name(sf_grain g);

/* One bucket of sales (rollup bi_sales). */
typedef struct sf_wh_sales {
    const char *period;
    sf_i128 revenue_milli, units;
    int64_t lines;
    int64_t invoices, customers; /* distinct, in this bucket */
} sf_wh_sales;

/* A product's figures in a period (rollup bi_product). */
typedef struct sf_wh_product {
    const char *stock_code, *description; /* description of its latest line */
    sf_i128 units, revenue_milli;
    bool non_product;
    const char *period; /* the period ranked */
} sf_wh_product;

/* A customer's figures in a period (rollup bi_customer). */
typedef struct sf_wh_customer {
    int32_t customer_id;
    const char *country; /* of the customer's latest line */
    sf_i128 revenue_milli;
    int64_t invoices;
    const char *period; /* the period ranked */
} sf_wh_customer;

/* An invoice (rollup bi_invoice): dated by its first line. */
typedef struct sf_wh_invoice {
    const char *invoice_no;
    int32_t customer_id; /* SF_NO_CUSTOMER when none */
    const char *date;    /* "YYYY-MM-DD HH:MM:SS" */
    sf_i128 revenue_milli, units;
    int64_t lines;
    const char *period; /* the period ranked */
} sf_wh_invoice;

/* Row callbacks: pointers are valid during the call only. Return 0 to go
 * on, or a negative SF_E* code (with err filled) to stop with it. */
typedef int (*sf_wh_sales_fn)(void *ctx, const sf_wh_sales *row, sf_error *err);
typedef int (*sf_wh_product_fn)(void *ctx, const sf_wh_product *row, sf_error *err);
typedef int (*sf_wh_customer_fn)(void *ctx, const sf_wh_customer *row, sf_error *err);
typedef int (*sf_wh_invoice_fn)(void *ctx, const sf_wh_invoice *row, sf_error *err);

/* An entry set aside (sink_quarantine): pointers valid during the call. */
typedef int (*sf_wh_quarantined_fn)(void *ctx, uint32_t p, const sf_pos *pos, const char *reason,
                                    const char *at, const uint8_t *data, size_t len);

/* What a top_* query asks for: the first `limit` of each period of grain
 * (day, month or year) from `period` to `last`, both included: one call
 * for a whole listing, so an adapter reads it in a query or two rather
 * than a few per period. */
typedef struct sf_wh_top {
    sf_grain grain;
    const char *period; /* a key of that grain: the first period */
    const char *last;   /* the last period; NULL: period alone */
    uint32_t limit;
    bool by_revenue;           /* products: by revenue, else by units */
    bool include_non_products; /* products: keep postage, fees, ... */
} sf_wh_top;

typedef struct sf_warehouse_opts {
    /* Open for reading only (BI answers, status), beside a sink loading it
     * in another process or thread: SF_ENOENT when there is no warehouse
     * yet (the SQLite file does not exist). Such a handle is thread-safe:
     * read() serialises its callers. */
    bool read_only;
    /* Adapter settings as "key=value" strings (borrowed for the open;
     * --warehouse-opt). Neither adapter takes any yet (SF_EUSAGE). */
    const char *const *extra;
    size_t nextra;
} sf_warehouse_opts;

/* Open the warehouse at location (opts NULL: for loading, created if
 * absent). SF_EUSAGE for a scheme no adapter has or a setting the adapter
 * does not take. Close with sf_warehouse_close. */
int sf_warehouse_open(const char *location, const sf_warehouse_opts *opts, sf_warehouse **out,
                      sf_error *err);

/* Close the handle (a commit_later still running is finished first).
 * NULL is fine. */
void sf_warehouse_close(sf_warehouse *w);

/* ---- loading (a handle opened for it, one thread at a time) ---- */

/* next[0..nparts): where each partition resumes (0 if never loaded), as
 * committed. */
int sf_warehouse_positions(sf_warehouse *w, sf_pos *next, uint32_t nparts, sf_error *err);

/* Add batch b of partition p (entries follow on from its position) and p's
 * new position (b->next) to the open transaction (begun by the first
 * load after a commit). Fenced: a batch whose first entry is not at p's
 * stored position is refused, SF_ESTALE (another loader moved it). On
 * failure the whole open transaction is rolled back. Nothing is visible to
 * readers before commit. */
int sf_warehouse_load(sf_warehouse *w, uint32_t p, const sf_stream_batch *b, sf_error *err);

/* Write the rollups of what was loaded and commit: facts, rollups and
 * positions durable and visible together when it returns 0. A no-op when
 * nothing is open. On failure nothing since the last commit stays. */
int sf_warehouse_commit(sf_warehouse *w, sf_error *err);

/* Like commit, but it may return before the transaction is durable, so
 * that the caller goes on loading meanwhile (an adapter without it
 * commits). It stays all or nothing with its positions; if it fails, the
 * failure is returned by the next load, commit or positions, and
 * everything since the last durable commit is gone. commit() returns once
 * all is durable. */
int sf_warehouse_commit_later(sf_warehouse *w, sf_error *err);

/* Records loaded and entries set aside by the transactions this handle has
 * committed (never one rolled back). */
void sf_warehouse_committed(sf_warehouse *w, uint64_t *records, uint64_t *quarantined);

/* The quarantine (table sink_quarantine): entries of the log that are not
 * records, set aside by the sink (sinks/quarantine.h). */

/* Add entry e of partition p (reason: why it is not a record; at: the
 * time, text) and p's new position next to the open transaction, fenced as
 * a load: e must be at p's position. */
int sf_warehouse_quarantine(sf_warehouse *w, uint32_t p, const sf_stream_entry *e,
                            const char *reason, const char *at, const sf_pos *next, sf_error *err);

/* Add the record packed in e as the entry set aside at (p, e->pos), and
 * that entry's removal, to the open transaction; positions stay. If no
 * such entry is set aside, the transaction fails (SF_ENOENT), now or at its
 * commit. */
int sf_warehouse_retry(sf_warehouse *w, uint32_t p, const sf_stream_entry *e, sf_error *err);

/* fn for each entry set aside, by partition and position, until it returns
 * nonzero (returned). On a loader, call it with no transaction open. */
int sf_warehouse_quarantined(sf_warehouse *w, sf_wh_quarantined_fn fn, void *ctx, sf_error *err);

/* ---- BI reads ---- */

/* Run fn(w, ctx, err) in one read snapshot, holding w's lock; the reads
 * below (and positions, on a shared reader) are called only from inside
 * fn. SF_ENOENT when the warehouse was never loaded (no schema yet). */
int sf_warehouse_read(sf_warehouse *w, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err),
                      void *ctx, sf_error *err);

/* Buckets of grain g with sales, from <= period < to (NULL = open), in
 * period order. */
int sf_warehouse_sales(sf_warehouse *w, sf_grain g, const char *from, const char *to,
                       sf_wh_sales_fn fn, void *ctx, sf_error *err);

/* The first q->limit of each period of q with a ranking, in period order
 * (each row says its period): products by units (or revenue) descending,
 * then stock_code; customers (with one) by revenue descending, then
 * customer_id; invoices dated in the period by revenue descending, then
 * invoice_no. Text compares as bytes. SF_EINVAL for hours (rankings are by
 * day, month or year). */
int sf_warehouse_top_products(sf_warehouse *w, const sf_wh_top *q, sf_wh_product_fn fn, void *ctx,
                              sf_error *err);
int sf_warehouse_top_customers(sf_warehouse *w, const sf_wh_top *q, sf_wh_customer_fn fn, void *ctx,
                               sf_error *err);
int sf_warehouse_top_invoices(sf_warehouse *w, const sf_wh_top *q, sf_wh_invoice_fn fn, void *ctx,
                              sf_error *err);

#endif
