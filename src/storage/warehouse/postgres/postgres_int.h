/*
 * postgres_int.h - (internal) what the files of the "postgres" warehouse
 * share: postgres.c (connection, schema, facts, transactions),
 * postgres_store.c (the staging tables, COPY and the merge, and the rollup
 * store of rollup.h) and postgres_bi.c (the BI reads).
 */
#ifndef SF_WAREHOUSE_POSTGRES_INT_H
#define SF_WAREHOUSE_POSTGRES_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/buf.h"
#include "storage/warehouse/rollup.h"
#include "storage/warehouse/warehouse_adapter.h"

/* The adapter (warehouse.c's table names it). */
extern const sf_warehouse_ops sf_warehouse_postgres_ops;

/* The staging tables (temporary, emptied at each commit): one COPY text
 * buffer each, filled while a transaction loads and commits. */
enum {
    STAGE_FACTS,
    STAGE_OFFSETS,
    STAGE_SALES,
    STAGE_PRODUCT,
    STAGE_CUSTOMER,
    STAGE_INVOICE,
    STAGE_PRESENCE,
    STAGE_DIM_PRODUCT,
    STAGE_DIM_CUSTOMER,
    STAGE_DIM_DATE,
    STAGE_HEAD,
    NSTAGE
};

/* Entries in bi_rank_head.top: the first of each head, enough for the
 * API's default limit (10) with non-products to skip; migration 4 of
 * postgres.c cuts the same number ("{0,19}"). */
#define SF_PG_TOP 20

/* Fill bi_invoice_top for the periods of grain (key of len characters)
 * that `periods` (a query) lists: their first SF_PG_TOP invoices, ranked
 * as the API ranks them (revenue by its stored form (hi, lo), money.h).
 * Used by the load's merge (the periods it touched). */
#define SF_PG_INVOICE_TOP(grain, len, periods)                                                     \
    "INSERT INTO bi_invoice_top SELECT '" grain "', p.period, row_number() OVER (PARTITION BY "    \
    "p.period ORDER BY i.revenue_hi DESC, i.revenue_milli DESC, i.invoice_no), i.* FROM (" periods \
    ") p CROSS JOIN LATERAL (SELECT invoice_no, customer_id, invoice_date, revenue_milli, "        \
    "units, lines, revenue_hi, units_hi FROM bi_invoice WHERE substr(invoice_date, 1, " len ") = " \
    "p.period ORDER BY revenue_hi DESC, revenue_milli DESC, invoice_no LIMIT " SF_PG_STR(          \
        SF_PG_TOP) ") i;"
/* The same as schema 4 had it (before the totals' high halves), for
 * migration 4, which runs on tables of that shape. */
#define SF_PG_INVOICE_TOP_4(grain, len, periods)                                                   \
    "INSERT INTO bi_invoice_top SELECT '" grain "', p.period, row_number() OVER (PARTITION BY "    \
    "p.period ORDER BY i.revenue_milli DESC, i.invoice_no), i.* FROM (" periods ") p CROSS JOIN "  \
    "LATERAL (SELECT invoice_no, customer_id, invoice_date, revenue_milli, units, lines FROM "     \
    "bi_invoice WHERE substr(invoice_date, 1, " len ") = p.period ORDER BY revenue_milli DESC, "   \
    "invoice_no LIMIT " SF_PG_STR(SF_PG_TOP) ") i;"
#define SF_PG_STR(x)  SF_PG_STR_(x)
#define SF_PG_STR_(x) #x

/* Prepared statements, prepared on first use (the tables may appear after
 * a reader connects). */
enum {
    P_PRESENCE,
    P_LIST_PRODUCTS,
    P_LIST_CUSTOMERS,
    P_SALES,
    P_PRODUCTS_REVENUE,
    P_DESCRIPTION,
    P_COUNTRY,
    P_INVOICES_DAY,
    P_INVOICES_MONTH,
    P_INVOICES_YEAR,
    P_HEADS,
    P_TOPS,
    P_INVOICES_TOP,
    NPREPARED
};

typedef struct pg_wh {
    sf_warehouse base;
    PGconn *conn;
    bool reader;
    bool in_txn;
    pthread_mutex_t lock; /* readers: one read() at a time */
    bool prepared[NPREPARED];
    wh_rollup roll;
    sf_buf stage[NSTAGE];
    /* Per partition, in the open transaction: its sink_offsets row, read
     * (FOR UPDATE) at its first load and moved by each. */
    struct pg_part {
        bool known, stored, moved; /* read; a row (or a load) gave a position; to write */
        sf_pos next;
        uint64_t ordinal; /* records of the partition loaded: the next fact_id's */
    } * part;
    uint32_t npart;
    /* Records loaded and entries set aside in the open transaction; and,
     * added when it commits, all so far. */
    uint64_t txn_records, txn_quarantined;
    _Atomic uint64_t committed_records, committed_quarantined;
    PGresult *held;     /* the last list_get's row, valid until the next */
    PGresult *presence; /* the prefetched bi_presence rows, by invoice_no */
    /* Readers (postgres_bi.c): */
    bool loaded;       /* bi_sales was seen: tables are never dropped */
    PGresult *offsets; /* the open read's sink_offsets rows, or NULL */
    /* The dimension texts read so far ([0] customers, [1] products), as of
     * the sink_offsets rows `token`: every load rewrites those rows, so the
     * texts hold while a read sees the same token. */
    wh_dims dims[2];
    sf_buf token;
    wh_ranked ranked; /* a ranking's entries, kept between reads (ranked.c) */
} pg_wh;

/* An SF_EIO error with the server's message (res's, else the connection's). */
int sf_pg_fail(pg_wh *w, const PGresult *res, sf_error *err, const char *what);

/* After the connection broke: connect again (a loader takes its lock and
 * creates its staging tables again). */
int sf_pg_reconnect(pg_wh *w, sf_error *err);

/* Run sql (one or more statements, no parameters); 0 or SF_EIO. */
int sf_pg_exec(pg_wh *w, const char *sql, sf_error *err);

/* Run prepared statement i with n text parameters; the result (rows) to
 * PQclear, or NULL with err filled. The BI reads' results are binary
 * (postgres_store.c's list): BIGINT columns 8 bytes big-endian, text as
 * text. */
PGresult *sf_pg_run(pg_wh *w, int i, int n, const char *const *params, sf_error *err);

/* COPY text: a field (escaped), an integer, NULL; each after a tab unless
 * first, and the end of a row. */
void sf_pg_text(sf_buf *b, const char *t, size_t n, bool first);
void sf_pg_int(sf_buf *b, int64_t v, bool first);
void sf_pg_null(sf_buf *b);
void sf_pg_end_row(sf_buf *b);

/* A PostgreSQL array literal of items[0..n) (quoted, escaped) into b. */
void sf_pg_array(sf_buf *b, const char *const *items, size_t n);

/* postgres_store.c: COPY stage i's buffer into its table; create the
 * staging tables (writer open); copy every stage and merge them into the
 * tables (commit). */
int sf_pg_flush(pg_wh *w, int i, sf_error *err);
int sf_pg_stage_create(pg_wh *w, sf_error *err);
int sf_pg_merge(pg_wh *w, sf_error *err);
extern const wh_store_ops sf_pg_store;

/* postgres_bi.c: the read ops; forget a reader's cached dimension texts
 * (closing, or after connecting again). */
void sf_pg_dims_reset(pg_wh *w);
int sf_pg_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err), void *ctx,
               sf_error *err);
int sf_pg_read_sales(sf_warehouse *base, sf_grain g, const char *from, const char *to,
                     sf_wh_sales_fn fn, void *ctx, sf_error *err);
int sf_pg_read_products(sf_warehouse *base, const sf_wh_top *q, sf_wh_product_fn fn, void *ctx,
                        sf_error *err);
int sf_pg_read_customers(sf_warehouse *base, const sf_wh_top *q, sf_wh_customer_fn fn, void *ctx,
                         sf_error *err);
int sf_pg_read_invoices(sf_warehouse *base, const sf_wh_top *q, sf_wh_invoice_fn fn, void *ctx,
                        sf_error *err);

#endif
