/*
 * bi.h - the retailer's business questions (docs/metrics.md), answered from
 * the warehouse's rollups: sales per bucket, the trading profile, and the
 * top products, customers and invoices of each period.
 *
 * Three layers, so the HTTP API and `shopflow report` share everything but
 * the rendering:
 *   sf_bi_parse   parameters (by name, through a callback) -> sf_bi_query,
 *                 or SF_EINVAL naming the parameter and why;
 *   sf_bi_run     sf_bi_query -> sf_bi_result (one warehouse read snapshot);
 *   sf_bi_json    sf_bi_result -> the JSON document of docs/api.md.
 * sf_bi_answer does all three. Money is exact: milli-units in the result,
 * decimal strings in JSON; averages are rounded to 0.001, halves away from
 * zero. Totals (revenue, units) are 128-bit (money.h), so no sum over the
 * data the per-line limits admit can wrap.
 *
 * Every function here is reentrant; the warehouse handle serialises its
 * reads (warehouse.h), so one handle may serve several threads.
 */
#ifndef SF_BI_H
#define SF_BI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "storage/warehouse/warehouse.h"

typedef enum sf_bi_question {
    SF_BI_SALES,
    SF_BI_PROFILE,
    SF_BI_TOP_PRODUCTS,
    SF_BI_TOP_CUSTOMERS,
    SF_BI_TOP_INVOICES,
} sf_bi_question;

#define SF_BI_KEY_MAX   16 /* a period key and its NUL */
#define SF_BI_LIMIT_MAX 1000

typedef struct sf_bi_query {
    sf_bi_question question;
    sf_grain grain; /* sales: granularity; rankings: period; profile: day */
    /* The range as given, each end a period of any grain ("2011",
     * "2011-11", "2011-11-05", "2011-11-05 08"); both ends included. */
    char from[SF_BI_KEY_MAX], to[SF_BI_KEY_MAX]; /* "" = the data's first / last */
    char at[SF_BI_KEY_MAX];                      /* rankings: one period; "" = every one */
    bool by_revenue;                             /* top-products: by revenue, else units */
    bool by_weekday;                             /* profile: by weekday, else hour of day */
    bool include_non_products;                   /* top-products */
    uint32_t limit;                              /* rankings: items per period */
} sf_bi_query;

/* Parameter lookup: the value of query parameter name, or NULL. */
typedef const char *(*sf_bi_param_fn)(void *ctx, const char *name);

/* Question names: "sales", "profile", "top-products", "top-customers",
 * "top-invoices". */
const char *sf_bi_question_name(sf_bi_question q);

/*
 * Fill *q from question and its parameters. SF_ENOENT: no such question;
 * SF_EINVAL: a parameter is bad (err names it, its value and what is
 * accepted). Unknown parameters are not looked at.
 */
int sf_bi_parse(const char *question, sf_bi_param_fn param, void *ctx, sf_bi_query *q,
                sf_error *err);

typedef struct sf_bi_bucket {
    char period[SF_BI_KEY_MAX];
    sf_i128 revenue_milli, units;
    int64_t lines, invoices, customers;
} sf_bi_bucket;

/* One hour of the day (0-23) or weekday (0 = Monday). */
typedef struct sf_bi_profile_row {
    int key;
    sf_i128 revenue_milli, units;
    int64_t lines;
    int64_t days_with_sales; /* days of the range on which it had sales */
    int64_t calendar_days;   /* days of the range it occurs on */
} sf_bi_profile_row;

/* One ranked item: a product, a customer or an invoice. */
typedef struct sf_bi_item {
    char period[SF_BI_KEY_MAX];
    uint32_t rank;                   /* 1, 2, ... within its period */
    char key[SF_STOCK_CODE_MAX + 1]; /* stock code or invoice number */
    int32_t customer_id;             /* customers, invoices; SF_NO_CUSTOMER when none */
    char date[20];                   /* invoices: "YYYY-MM-DD HH:MM:SS" */
    size_t text;                     /* description or country: offset in texts */
    sf_i128 units, revenue_milli;
    int64_t invoices;
} sf_bi_item;

/* A period of a ranking: its items are items[first .. first + count). */
typedef struct sf_bi_period {
    char period[SF_BI_KEY_MAX];
    size_t first, count;
} sf_bi_period;

typedef struct sf_bi_result {
    sf_bi_query q;
    uint64_t *offsets; /* the warehouse's position in each partition */
    uint32_t noffsets;
    /* The range answered: first and last bucket of q.grain (inclusive),
     * "" when the warehouse holds no sales and none was given. */
    char first[SF_BI_KEY_MAX], last[SF_BI_KEY_MAX];
    int64_t calendar_buckets; /* buckets of q.grain from first to last */
    sf_bi_bucket *buckets;    /* sales: buckets with sales, in order */
    size_t nbuckets;
    sf_bi_profile_row profile[24]; /* profile: 24 hours or 7 weekdays */
    int nprofile;
    int64_t days_with_sales, calendar_days; /* profile: over the range */
    sf_bi_period *periods;                  /* rankings */
    size_t nperiods;
    sf_bi_item *items;
    size_t nitems;
    sf_buf texts; /* NUL-terminated texts the items point at */
} sf_bi_result;

/* Answer q from wh into *res (which the caller frees with
 * sf_bi_result_free, also after a failure). */
int sf_bi_run(sf_warehouse *wh, const sf_bi_query *q, sf_bi_result *res, sf_error *err);
void sf_bi_result_free(sf_bi_result *res);

/* The text of an item (description or country). */
static inline const char *sf_bi_item_text(const sf_bi_result *res, const sf_bi_item *it)
{
    return res->texts.data ? res->texts.data + it->text : "";
}

/* x / n rounded to the nearest integer, halves away from zero (n > 0). */
sf_i128 sf_bi_div_round(sf_i128 x, int64_t n);

/* Render res as JSON into out. stream_end (may be NULL): each partition's
 * end offset, nparts of them, to report the warehouse's lag. */
void sf_bi_json(const sf_bi_result *res, const uint64_t *stream_end, uint32_t nparts, sf_buf *out);

/* Answer one BI question as a JSON document. question: "sales", "profile", "top-products",
 * "top-customers", "top-invoices". param(ctx, name) returns a query parameter's value or NULL.
 * stream_end (may be NULL) = the stream's end offset per partition, nparts entries, to report lag.
 * On success *json is malloc'd (caller frees) and 0 is returned. SF_EINVAL: a bad parameter
 * (err says which and why; the gateway answers 400); SF_ENOENT: no such question (404).
 * Safe to call from several threads at once on one sf_warehouse (serialise inside the adapter).
 * Each calling thread keeps its last answer's arrays (up to 4 MB) for its next one, freed when
 * the thread exits (bi.c: memory freed per answer was faulted in again per answer). */
int sf_bi_answer(struct sf_warehouse *wh, const char *question,
                 const char *(*param)(void *ctx, const char *name), void *ctx,
                 const uint64_t *stream_end, uint32_t nparts, char **json, size_t *len,
                 sf_error *err);

#endif
