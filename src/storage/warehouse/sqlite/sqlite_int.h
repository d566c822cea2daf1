/*
 * sqlite_int.h - (internal) what the files of the "sqlite" warehouse share:
 * sqlite.c (connection, schema, facts, transactions), sqlite_store.c (the
 * rollup tables, written by the neutral rollup.c/ranked.c) and sqlite_bi.c
 * (the BI reads).
 */
#ifndef SF_WAREHOUSE_SQLITE_INT_H
#define SF_WAREHOUSE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "storage/warehouse/rollup.h"
#include "storage/warehouse/warehouse_adapter.h"

/* The adapter (warehouse.c's table names it). */
extern const sf_warehouse_ops sf_warehouse_sqlite_ops;

/* Statements of the loader (prepared at open, writer only). */
enum {
    ST_FACT,
    ST_OFFSET,
    ST_SALES,
    ST_PRODUCTS_GET,
    ST_PRODUCTS_PUT,
    ST_CUSTOMERS_GET,
    ST_CUSTOMERS_PUT,
    ST_INVOICE,
    ST_PRESENCE_GET,
    ST_PRESENCE_PUT,
    ST_DIM_PRODUCT,
    ST_DIM_CUSTOMER,
    ST_DIM_DATE,
    ST_HEAD_PUT,
    ST_POSITION,
    ST_QUARANTINE,
    ST_UNQUARANTINE,
    NSTMT
};

/* Statements of the BI reads (prepared on first use). */
enum {
    Q_SALES,
    Q_PRODUCTS_UNITS,
    Q_PRODUCTS_REVENUE,
    Q_CUSTOMERS,
    Q_HEADS,
    Q_PERIODS,
    Q_DESCRIPTION,
    Q_COUNTRY,
    Q_DESCRIPTIONS,
    Q_COUNTRIES,
    Q_INVOICES_DAY,
    Q_INVOICES_MONTH,
    Q_INVOICES_YEAR,
    /* With the totals' high halves (sqlite_bi.c: only when a row has one). */
    Q_SALES_WIDE,
    Q_INVOICES_DAY_WIDE,
    Q_INVOICES_MONTH_WIDE,
    Q_INVOICES_YEAR_WIDE,
    Q_ANY_WIDE_SALES,
    Q_ANY_WIDE_INVOICE,
    NQUERY
};

/* Fact rows per multi-row INSERT: one statement (one cursor opened and
 * closed, one VDBE halt) per FACT_ROWS rows instead of per row. */
#define FACT_ROWS 32

typedef struct wh_pipe wh_pipe; /* sqlite_load.c: the writer thread */

typedef struct sqlite_wh {
    sf_warehouse base;
    sqlite3 *db;
    sqlite3_stmt *facts; /* FACT_ROWS rows at once */
    bool reader;
    int64_t version; /* the file's schema version (a reader may read the one before) */
    bool in_txn;     /* loader: the writer thread's (it alone uses db while running) */
    bool open;       /* loader: batches loaded since the last commit (the caller's side) */
    bool unsynced;   /* loader: a commit_later() since the last sync of the WAL (caller's side) */
    /* loader, the writer thread's: records loaded and entries set aside in
     * its open transaction; and, added when it commits, all so far. */
    uint64_t txn_records, txn_quarantined;
    _Atomic uint64_t committed_records, committed_quarantined;
    wh_pipe *pipe;
    struct sqlite_wh *rd; /* loader: a read-only connection for the rollups' reads */
    sf_buf ops;           /* loader: the rollup writes of the transaction being committed */
    pthread_mutex_t lock; /* readers: one read() at a time */
    sqlite3_stmt *st[NSTMT];
    sqlite3_stmt *q[NQUERY];
    wh_rollup roll;
    /* sqlite_bi.c: the dimension texts of the last listing (products,
     * customers), whole tables, and the data version they were read at. */
    wh_dims dims[2];
    unsigned dims_version[2];
    bool dims_cached[2];
    wh_ranked ranked; /* sqlite_bi.c: a ranking's entries, kept between reads */
} sqlite_wh;

/* An SF_EIO error with SQLite's message. */
int sf_wh_fail(sqlite_wh *w, sf_error *err, const char *what);

/* Step a write statement to its end and reset it. */
int sf_wh_run(sqlite_wh *w, sqlite3_stmt *s, sf_error *err);

void sf_wh_text(sqlite3_stmt *s, int col, const char *t, size_t n);

/* sqlite_store.c: the rollup tables for rollup.c (statements ST_*). */
extern const wh_store_ops sf_wh_sqlite_store;

/* Upgrading a schema 2 file (sqlite.c), inside its transaction: fill the
 * new bi_rank_head with the heads of the stored ranked lists, cut from them
 * as loading writes them (sqlite_store.c). */
int sf_wh_sqlite_fill_heads(sqlite_wh *w, sf_error *err);

/* sqlite_load.c: the loader's two threads. The rollups of w->roll go through
 * sf_wh_sqlite_deferred (self: w): reads on w->rd, writes recorded in w->ops
 * and applied by the writer thread. start: the writer thread over w->db (and
 * w->facts, w->st); stop: it finishes what is queued and ends. load/commit
 * are the port's (commit: wait for durability or not); sync waits until the
 * writer is idle and returns its failure, if any. */
extern const wh_store_ops sf_wh_sqlite_deferred; /* in sqlite_store.c */
/* The writer: apply the writes recorded in w->ops (sqlite_store.c). */
int sf_wh_sqlite_apply_ops(sqlite_wh *w, sf_error *err);
int sf_wh_pipe_start(sqlite_wh *w, sf_error *err);
void sf_wh_pipe_stop(sqlite_wh *w);
int sf_wh_pipe_load(sqlite_wh *w, uint32_t p, const sf_stream_batch *b, sf_error *err);
/* The port's quarantine and retry (warehouse.h), through the writer like a load. */
int sf_wh_pipe_quarantine(sqlite_wh *w, uint32_t p, const sf_stream_entry *e, const char *reason,
                          const char *at, const sf_pos *next, sf_error *err);
int sf_wh_pipe_retry(sqlite_wh *w, uint32_t p, const sf_stream_entry *e, sf_error *err);
int sf_wh_pipe_commit(sqlite_wh *w, bool wait, sf_error *err);
int sf_wh_pipe_sync(sqlite_wh *w, sf_error *err);

/* sqlite_bi.c: the read ops. */
int sf_wh_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
               sf_error *err);
int sf_wh_read_sales(sf_warehouse *base, sf_grain g, const char *from, const char *to,
                     sf_wh_sales_fn fn, void *ctx, sf_error *err);
int sf_wh_read_products(sf_warehouse *base, const sf_wh_top *q, sf_wh_product_fn fn, void *ctx,
                        sf_error *err);
int sf_wh_read_customers(sf_warehouse *base, const sf_wh_top *q, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err);
int sf_wh_read_invoices(sf_warehouse *base, const sf_wh_top *q, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err);
void sf_wh_queries_free(sqlite_wh *w);

#endif
