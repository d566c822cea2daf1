/*
 * rollup.h - (internal) the adapter-neutral half of a warehouse loader: the
 * BI rollups of a transaction aggregated in memory (rollup.c), the ranked
 * lists merged and encoded (ranked.c), and the few table operations an
 * adapter gives them (wh_store_ops) to read what is stored and write the
 * result. The "sqlite" and "postgres" adapters share it, so both compute the
 * same rows from the same records (docs/warehouse.md).
 *
 * Reads through the store see what was committed before the open
 * transaction plus nothing of its own writes: each key is read at most once
 * per transaction, before it is written, so an adapter may queue the writes
 * and apply them at commit (postgres.c does, through COPY).
 */
#ifndef SF_WAREHOUSE_ROLLUP_H
#define SF_WAREHOUSE_ROLLUP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/aggmap.h"
#include "core/batch.h"
#include "core/buf.h"
#include "core/record.h"
#include "core/timefmt.h"
#include "storage/warehouse/warehouse.h"

/* Keys and values of the in-memory rollups. A period is its text key,
 * NUL-padded; keys are zeroed before filling, so they compare as bytes. */
typedef struct sales_key {
    uint8_t grain;
    char period[15];
} sales_key;
typedef struct sales_val {
    sf_i128 revenue, units;
    int64_t lines, invoices, customers;
} sales_val;

typedef struct product_key {
    uint8_t grain;
    char period[15];
    char code[SF_STOCK_CODE_MAX + 1];
} product_key;
typedef struct product_val {
    sf_i128 units, revenue;
    int64_t lines, non_product;
} product_val;

typedef struct customer_key {
    uint8_t grain;
    char period[15];
    int32_t customer;
} customer_key;
typedef struct customer_val {
    sf_i128 revenue, units;
    int64_t lines, invoices;
} customer_val;

/* What an adapter does for the rollups: every call returns 0 or a negative
 * SF_E* code with err filled. Texts are not NUL-terminated unless said;
 * periods and invoice numbers are. */
typedef struct wh_store_ops {
    /* The stored hours of invoice: fn once per (invoice, customer) row with
     * its hours text (bi_presence.hours); stop and return what fn returns
     * when it is < 0. */
    int (*presence_get)(void *self, const char *invoice,
                        int (*fn)(void *ctx, int32_t customer, const char *hours, size_t len,
                                  sf_error *err),
                        void *ctx, sf_error *err);
    /* Optional (NULL: none): the invoices, sorted as bytes, whose hours
     * presence_get is about to be asked for, so a remote store can fetch
     * them in one round trip. */
    int (*presence_prefetch)(void *self, const char *const *invoices, size_t n, sf_error *err);
    int (*presence_put)(void *self, const char *invoice, int32_t customer, const char *hours,
                        size_t len, sf_error *err);
    /* The stored ranked list of (g, period): bi_product.by_units (product)
     * or bi_customer.by_revenue; *text NULL when there is none. The text
     * stays valid until the next call on self. */
    int (*list_get)(void *self, bool product, sf_grain g, const char *period, const char **text,
                    size_t *len, sf_error *err);
    /* Replace the row of (g, period): n entries, list a (and b, by_revenue,
     * for products). */
    int (*list_put)(void *self, bool product, sf_grain g, const char *period, int64_t n,
                    const char *a, size_t alen, const char *b, size_t blen, sf_error *err);
    /* Replace the head of ranked list `list` ("product_units",
     * "product_revenue", "customer") of (g, period): its first SF_WH_HEAD
     * entries as a list text of its own, and the whole list's length
     * (bi_rank_head; days, months and years only). */
    int (*head_put)(void *self, const char *list, sf_grain g, const char *period, int64_t entries,
                    const char *head, size_t len, sf_error *err);
    /* Add v to bi_sales (g, period). */
    int (*sales_put)(void *self, sf_grain g, const char *period, const sales_val *v, sf_error *err);
    /* Merge into bi_invoice: smallest customer (SF_NO_CUSTOMER: none),
     * earliest date, sums added. */
    int (*invoice_put)(void *self, const char *invoice, int32_t customer, const char *date,
                       sf_i128 revenue, sf_i128 units, int64_t lines, sf_error *err);
    /* Dimensions: keep the latest (seen, text), the first non_product. */
    int (*dim_product_put)(void *self, const char *code, const char *description, size_t len,
                           bool non_product, const char *seen, sf_error *err);
    int (*dim_customer_put)(void *self, int32_t customer, const char *country, size_t len,
                            const char *seen, sf_error *err);
    int (*dim_date_put)(void *self, const char *date_key, int year, int month, int day, int weekday,
                        sf_error *err);
} wh_store_ops;

/* The rollups of the open transaction, in memory (rollup.c). */
typedef struct wh_rollup {
    sf_aggmap sales;     /* (grain, period) -> figures; hours while loading */
    sf_aggmap products;  /* (grain, period, stock code); days while loading */
    sf_aggmap customers; /* (grain, period, customer); hours while loading */
    sf_aggmap invoices;  /* invoice -> first date, customer, totals */
    sf_aggmap presence;  /* (invoice, customer, hour) seen */
    sf_aggmap dim_products, dim_customers, dim_dates;
    size_t last[8]; /* the entry the previous line used, per map (+1; 0 none) */
    const wh_store_ops *store;
    void *self; /* the adapter, passed to store's calls */
} wh_rollup;

/* rollup.c: start empty over a store; add one line (date = its
 * "YYYY-MM-DD HH:MM:SS"); write the open transaction's rollups through the
 * store (then forget them); forget them; free. */
void sf_wh_rollup_init(wh_rollup *r, const wh_store_ops *store, void *self);
int sf_wh_rollup_add(wh_rollup *r, const sf_record *rec, const char *date, sf_error *err);
int sf_wh_rollup_write(wh_rollup *r, sf_error *err);
void sf_wh_rollup_reset(wh_rollup *r);
void sf_wh_rollup_free(wh_rollup *r);

/* fact_id is partition × 2^40 + ordinal, the ordinal being the records of
 * the partition loaded before it (sink_offsets.ordinal, docs/warehouse.md):
 * a partition holds far fewer. */
#define SF_WH_ORDINAL_LIMIT (UINT64_C(1) << 40)

/* The ordinal `records` past `ordinal`, checked against the limit: 0, or
 * SF_ERANGE naming partition p. */
int sf_wh_ordinal_check(uint32_t p, uint64_t ordinal, uint64_t records, sf_error *err);

/* How both adapters keep a position (docs/warehouse.md): in an integer
 * column (log_offset, next_offset) when it is below 2^63 (every local and
 * Kafka position), else -1 there and its stored form (core/pos.h) in a
 * binary column beside it (log_pos, next_pos; empty or NULL for the
 * others). */
int64_t sf_wh_pos_int(const sf_pos *pos);
/* The stored form for the binary column into out (SF_POS_STORED_MAX bytes):
 * its length, 0 when the integer column holds the position. */
size_t sf_wh_pos_blob(const sf_pos *pos, uint8_t *out);
/* The position from the two columns (blob may be NULL or empty). */
int sf_wh_pos_get(int64_t value, const void *blob, size_t len, sf_pos *out, sf_error *err);

/* Decode entry e of partition p into rec and its date text ("YYYY-MM-DD
 * HH:MM:SS") and add it to the rollups: what every adapter's load does
 * with a line before writing its fact row. */
int sf_wh_rollup_entry(wh_rollup *r, const sf_stream_entry *e, uint32_t p, sf_record *rec,
                       char date[SF_TIME_TEXT_LEN + 1], sf_error *err);

/* The sales entry of (grain g, the bucket of hour), added if absent. */
sales_val *sf_wh_sales_of(wh_rollup *r, int g, const char *hour);

/* ranked.c: merge the open transaction's products and customers into the
 * ranked lists of their periods (and count customers new to a bucket). */
int sf_wh_write_products(wh_rollup *r, sf_error *err);
int sf_wh_write_customers(wh_rollup *r, sf_error *err);
size_t sf_wh_period_len(const char *period, size_t cap);

/* Append v in decimal to b, after a comma when asked (printf was a tenth
 * of the load's time). */
void sf_wh_put_int(sf_buf *b, int64_t v, bool comma);
void sf_wh_put_i128(sf_buf *b, sf_i128 v, bool comma);

/* Entries of a ranked list kept in its head (bi_rank_head): a listing of
 * every day of a year reads ~300 heads of ~3 KB instead of ~300 whole
 * lists of 20-60 KB. A ranking asking for more than the head holds (limit
 * up to 1000) reads the whole list of that period. */
#define SF_WH_HEAD 100

/* How many bytes of a ranked list's text hold its opening bracket and its
 * first `entries` entries: that prefix and "]" is the head ranked.c writes
 * with SF_WH_HEAD (for a schema upgrade, which cuts heads from stored
 * lists), and PostgreSQL's shorter top of a head. */
size_t sf_wh_head_len(const char *text, size_t len, bool product, int entries);

/* One entry of a ranked list: a product (code; units, revenue, lines,
 * non_product) or a customer (id; revenue, units, lines, invoices). v[0]
 * and v[1] are totals, hence 128-bit; the list's text holds them in
 * decimal, whatever their size. */
typedef struct wh_rank_entry {
    char code[SF_STOCK_CODE_MAX + 1];
    int64_t id;
    sf_i128 v[4];
} wh_rank_entry;

/* Read the next entry of a ranked list's JSON text at *p (< end); false at
 * the end of the list or on text that is not one. */
bool sf_wh_rank_next(const char **p, const char *end, bool product, wh_rank_entry *e);

/* What a ranking read collects before handing rows on: the entries that
 * count, each with its period, in order (period, then rank). */
typedef struct wh_ranked {
    wh_rank_entry *e;
    char (*period)[16];
    size_t n, cap;
} wh_ranked;

/*
 * Append to r the first t->limit entries that count of period's list
 * text[0..len). complete: text is the whole list (else a head of a list of
 * `entries`). *short_head is set when the head was too short for t->limit
 * (nothing appended: read the whole list and call again with complete).
 * 0, or SF_ENOMEM.
 */
int sf_wh_ranked_take(wh_ranked *r, const char *period, const char *text, size_t len, bool complete,
                      int64_t entries, const sf_wh_top *t, bool product, bool *short_head,
                      sf_error *err);
/* Empty r for the next ranking but keep its arrays: an adapter keeps one
 * per handle, so that the ~3,000 entries of a listing of every day are not
 * allocated and copied at every doubling again at every answer (3 % of its
 * instructions, and ~400 KB more that glibc may give back to the kernel).
 * Arrays grown far past that (limit up to 1000) are freed. */
void sf_wh_ranked_reset(wh_ranked *r);
void sf_wh_ranked_free(wh_ranked *r);

/* The dimension texts (description, country) of the entries of a ranking,
 * by key: filled by the adapter (one query or one scan for a whole
 * listing instead of one lookup per item), then looked up. */
typedef struct wh_dims {
    sf_aggmap map; /* (code, id) -> text's place in texts */
    sf_buf texts;
} wh_dims;

void sf_wh_dims_init(wh_dims *d);
/* Record the text of product code / customer id (the other key NULL / 0).
 * 0, or SF_ENOMEM. */
int sf_wh_dims_put(wh_dims *d, const char *code, int64_t id, const char *text, size_t len,
                   sf_error *err);
/* *first is set the first time e's key is asked for (remembered in d, text
 * unknown until put), not after: an adapter asks its query for each key
 * once, however many periods list it. 0, or SF_ENOMEM. */
int sf_wh_dims_want(wh_dims *d, const wh_rank_entry *e, bool product, bool *first, sf_error *err);
/* The text of e's key, "" when unknown. Valid until the next put. */
const char *sf_wh_dims_get(wh_dims *d, const wh_rank_entry *e, bool product);
void sf_wh_dims_free(wh_dims *d);

/* Hand r's entries with their texts in d to pfn (products) or cfn
 * (customers) in order; 0 or the first negative result. */
int sf_wh_ranked_deliver(const wh_ranked *r, wh_dims *d, bool product, sf_wh_product_fn pfn,
                         sf_wh_customer_fn cfn, void *ctx, sf_error *err);

#endif
