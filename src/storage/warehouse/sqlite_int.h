/*
 * sqlite_int.h - (internal) what the three files of the "sqlite" warehouse
 * share: sqlite.c (connection, schema, facts, transactions), rollup.c (the
 * rollups, aggregated in memory per transaction) and sqlite_bi.c (the BI
 * reads).
 */
#ifndef SF_WAREHOUSE_SQLITE_INT_H
#define SF_WAREHOUSE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "core/aggmap.h"
#include "core/record.h"
#include "core/timefmt.h"
#include "storage/warehouse/warehouse.h"

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
    NSTMT
};

/* Statements of the BI reads (prepared on first use). */
enum {
    Q_SALES,
    Q_PRODUCTS_UNITS,
    Q_PRODUCTS_REVENUE,
    Q_CUSTOMERS,
    Q_DESCRIPTION,
    Q_COUNTRY,
    Q_INVOICES_DAY,
    Q_INVOICES_MONTH,
    Q_INVOICES_YEAR,
    NQUERY
};

/* Keys and values of the in-memory rollups. A period is its text key,
 * NUL-padded; keys are zeroed before filling, so they compare as bytes. */
typedef struct sales_key {
    uint8_t grain;
    char period[15];
} sales_key;
typedef struct sales_val {
    int64_t revenue, units, lines, invoices, customers;
} sales_val;

typedef struct product_key {
    uint8_t grain;
    char period[15];
    char code[SF_STOCK_CODE_MAX + 1];
} product_key;
typedef struct product_val {
    int64_t units, revenue, lines, non_product;
} product_val;

typedef struct customer_key {
    uint8_t grain;
    char period[15];
    int32_t customer;
} customer_key;
typedef struct customer_val {
    int64_t revenue, units, lines, invoices;
} customer_val;

/* The rollups of the open transaction, in memory (rollup.c). */
typedef struct wh_rollup {
    sf_aggmap sales;     /* (grain, period) -> figures; hours while loading */
    sf_aggmap products;  /* (grain, period, stock code); days while loading */
    sf_aggmap customers; /* (grain, period, customer); hours while loading */
    sf_aggmap invoices;  /* invoice -> first date, customer, totals */
    sf_aggmap presence;  /* (invoice, customer, hour) seen */
    sf_aggmap dim_products, dim_customers, dim_dates;
    size_t last[8]; /* the entry the previous line used, per map (+1; 0 none) */
} wh_rollup;

/* Fact rows per multi-row INSERT: one statement (one cursor opened and
 * closed, one VDBE halt) per FACT_ROWS rows instead of per row. */
#define FACT_ROWS 32

typedef struct pending_fact {
    sf_record r;
    uint64_t offset;
    uint32_t partition;
    char date[SF_TIME_TEXT_LEN + 1];
} pending_fact;

typedef struct sqlite_wh {
    sf_warehouse base;
    sqlite3 *db;
    sqlite3_stmt *facts; /* FACT_ROWS rows at once */
    pending_fact pend[FACT_ROWS];
    int npend;
    bool reader;
    bool in_txn;
    pthread_mutex_t lock; /* readers: one read() at a time */
    sqlite3_stmt *st[NSTMT];
    sqlite3_stmt *q[NQUERY];
    wh_rollup roll;
} sqlite_wh;

/* An SF_EIO error with SQLite's message. */
int sf_wh_fail(sqlite_wh *w, sf_error *err, const char *what);

/* Step a write statement to its end and reset it. */
int sf_wh_run(sqlite_wh *w, sqlite3_stmt *s, sf_error *err);

void sf_wh_text(sqlite3_stmt *s, int col, const char *t, size_t n);

/* rollup.c: add one line (date = its "YYYY-MM-DD HH:MM:SS"); write the
 * open transaction's rollups (then forget them); forget them; free. */
int sf_wh_rollup_add(wh_rollup *r, const sf_record *rec, const char *date, sf_error *err);
int sf_wh_rollup_write(sqlite_wh *w, sf_error *err);
void sf_wh_rollup_reset(wh_rollup *r);
void sf_wh_rollup_init(wh_rollup *r);
void sf_wh_rollup_free(wh_rollup *r);

/* The sales entry of (grain g, the bucket of hour), added if absent. */
sales_val *sf_wh_sales_of(wh_rollup *r, int g, const char *hour);

/* ranked.c: merge the open transaction's products and customers into the
 * ranked lists of their periods (and count customers new to a bucket). */
int sf_wh_write_products(sqlite_wh *w, sf_error *err);
int sf_wh_write_customers(sqlite_wh *w, sf_error *err);
size_t sf_wh_period_len(const char *period, size_t cap);

/* One entry of a ranked list: a product (code; units, revenue, lines,
 * non_product) or a customer (id; revenue, units, lines, invoices). */
typedef struct wh_rank_entry {
    char code[SF_STOCK_CODE_MAX + 1];
    int64_t id;
    int64_t v[4];
} wh_rank_entry;

/* Read the next entry of a ranked list's JSON text at *p (< end); false at
 * the end of the list or on text that is not one. */
bool sf_wh_rank_next(const char **p, const char *end, bool product, wh_rank_entry *e);

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
