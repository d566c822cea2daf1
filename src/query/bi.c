/*
 * bi.c - the BI questions (see bi.h): parameters, ranges and calendar
 * arithmetic, and the answers computed from the warehouse port's reads.
 *
 * The port returns only what the rollups hold (buckets with sales, the head
 * of each ranking); everything derived (ranges aligned to buckets, calendar
 * bucket counts, averages, the profile) is computed here, once, for every
 * adapter. All reads of one answer run inside one sf_warehouse_read, so they
 * see one snapshot of the warehouse together with its offsets.
 */
#include "query/bi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"
#include "stream/stream.h" /* SF_STREAM_PARTITIONS_MAX */

static const char *const question_names[] = {"sales", "profile", "top-products", "top-customers",
                                             "top-invoices"};

const char *sf_bi_question_name(sf_bi_question q)
{
    return question_names[q];
}

/* sf_bi_div_round past 64 bits: a 128-bit division is a library call, and
 * apart, the 64-bit path saves no registers for it (an hourly listing
 * rounds 3,000 averages). */
__attribute__((noinline)) static sf_i128 div_round_wide(sf_i128 x, int64_t n)
{
    sf_i128 q = x / n, r = x % n;
    if (2 * (r < 0 ? -r : r) >= n)
        q += x < 0 ? -1 : 1;
    return q;
}

sf_i128 sf_bi_div_round(sf_i128 x, int64_t n)
{
    if (!sf_i128_is_int64(x))
        return div_round_wide(x, n);
    int64_t q = (int64_t)x / n, r = (int64_t)x % n;
    if (2 * (r < 0 ? -r : r) >= n) /* |r| < n, a count: 2|r| fits */
        q += x < 0 ? -1 : 1;
    return q;
}

/* ---- periods ---------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* A period's text: "2011", "2011-11", "2011-11-05", "2011-11-05 08" (or
 * 'T' for the space). Its grain and first second; false if not one. */
static bool parse_period(const char *s, sf_grain *g, int64_t *start)
{
    size_t n = strlen(s);
    int y = 0, m = 1, d = 1, h = 0;
    bool ok = (n == 4 || n == 7 || n == 10 || n == 13) && digits(s, 4, &y) && y >= SF_YEAR_MIN &&
              y <= SF_YEAR_MAX;
    if (ok && n >= 7)
        ok = s[4] == '-' && digits(s + 5, 2, &m) && m >= 1 && m <= 12;
    if (ok && n >= 10)
        ok = s[7] == '-' && digits(s + 8, 2, &d) && d >= 1 && d <= days_in_month(y, m);
    if (ok && n == 13)
        ok = (s[10] == ' ' || s[10] == 'T') && digits(s + 11, 2, &h) && h <= 23;
    if (!ok)
        return false;
    *g = n == 4 ? SF_GRAIN_YEAR : n == 7 ? SF_GRAIN_MONTH : n == 10 ? SF_GRAIN_DAY : SF_GRAIN_HOUR;
    *start = sf_days_from_civil(y, m, d) * 86400 + h * 3600;
    return true;
}

/* The first second of the bucket of grain g holding t. */
static int64_t bucket_start(int64_t t, sf_grain g)
{
    int64_t day = (t >= 0 ? t : t - 86399) / 86400;
    if (g == SF_GRAIN_HOUR)
        return day * 86400 + (t - day * 86400) / 3600 * 3600;
    sf_civil c;
    sf_civil_from_time(t, &c);
    if (g == SF_GRAIN_DAY)
        return day * 86400;
    return sf_days_from_civil(c.year, g == SF_GRAIN_MONTH ? c.month : 1, 1) * 86400;
}

/* The first second of the bucket after the one starting at start. */
static int64_t bucket_next(int64_t start, sf_grain g)
{
    if (g == SF_GRAIN_HOUR || g == SF_GRAIN_DAY)
        return start + (g == SF_GRAIN_HOUR ? 3600 : 86400);
    sf_civil c;
    sf_civil_from_time(start, &c);
    if (g == SF_GRAIN_YEAR)
        return sf_days_from_civil(c.year + 1, 1, 1) * 86400;
    return sf_days_from_civil(c.year + (c.month == 12), c.month % 12 + 1, 1) * 86400;
}

static void bucket_key(int64_t start, sf_grain g, char out[SF_BI_KEY_MAX])
{
    char text[SF_TIME_TEXT_LEN + 1];
    sf_time_format(start, text);
    int n = sf_grain_key_len(g);
    memcpy(out, text, (size_t)n);
    out[n] = '\0';
}

/* Buckets of grain g from the one starting at a to the one at b. */
static int64_t buckets_between(int64_t a, int64_t b, sf_grain g)
{
    if (g == SF_GRAIN_HOUR || g == SF_GRAIN_DAY)
        return (b - a) / (g == SF_GRAIN_HOUR ? 3600 : 86400) + 1;
    sf_civil x, y;
    sf_civil_from_time(a, &x);
    sf_civil_from_time(b, &y);
    if (g == SF_GRAIN_YEAR)
        return y.year - x.year + 1;
    return (y.year * 12 + y.month) - (x.year * 12 + x.month) + 1;
}

/* ---- parameters ------------------------------------------------------- */

static int bad(sf_error *err, const char *name, const char *value, const char *accepted)
{
    return sf_error_set(err, SF_EINVAL, "parameter %s: \"%.64s\" is not %s", name, value, accepted);
}

/* One of choices[0..n) (index into *out), or def when absent. */
static int choose(sf_bi_param_fn param, void *ctx, const char *name, const char *const *choices,
                  int n, int def, int *out, const char *accepted, sf_error *err)
{
    const char *v = param(ctx, name);
    *out = def;
    if (!v)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    return bad(err, name, v, accepted);
}

static int period_param(sf_bi_param_fn param, void *ctx, const char *name, char out[SF_BI_KEY_MAX],
                        sf_error *err)
{
    const char *v = param(ctx, name);
    sf_grain g;
    int64_t t;
    out[0] = '\0';
    if (!v || !*v)
        return 0;
    if (strlen(v) >= SF_BI_KEY_MAX || !parse_period(v, &g, &t))
        return bad(err, name, v,
                   "a year, month, day or hour (2011, 2011-11, 2011-11-05, 2011-11-05 08)");
    strcpy(out, v);
    if (g == SF_GRAIN_HOUR)
        out[10] = ' ';
    return 0;
}

static const char *const grains[] = {"hour", "day", "month", "year"};

static int parse_ranking(sf_bi_param_fn param, void *ctx, sf_bi_query *q, sf_error *err)
{
    int g, by = 0;
    int rc = choose(param, ctx, "period", grains + 1, 3, -1, &g, "day, month or year", err);
    if (rc == 0)
        rc = period_param(param, ctx, "at", q->at, err);
    if (rc < 0)
        return rc;
    sf_grain at_grain = SF_GRAIN_MONTH;
    int64_t t;
    if (q->at[0] && (!parse_period(q->at, &at_grain, &t) || at_grain == SF_GRAIN_HOUR))
        return bad(err, "at", q->at, "a year, month or day (2011, 2011-11, 2011-11-05)");
    if (g >= 0 && q->at[0] && (sf_grain)(g + 1) != at_grain)
        return sf_error_set(err, SF_EINVAL, "parameter at: \"%s\" is not a %s (period=%s)", q->at,
                            grains[g + 1], grains[g + 1]);
    q->grain = g >= 0 ? (sf_grain)(g + 1) : at_grain;
    const char *limit = param(ctx, "limit");
    q->limit = 10;
    if (limit) {
        char *end;
        long v = strtol(limit, &end, 10);
        if (!*limit || *end || v < 1 || v > SF_BI_LIMIT_MAX)
            return bad(err, "limit", limit, "a whole number from 1 to 1000");
        q->limit = (uint32_t)v;
    }
    static const char *const bys[] = {"units", "revenue"};
    static const char *const bools[] = {"false", "true"};
    int np;
    rc = choose(param, ctx, "include_non_products", bools, 2, 0, &np, "true or false", err);
    q->include_non_products = np == 1;
    /* Customers and invoices rank by revenue only. */
    bool products = q->question == SF_BI_TOP_PRODUCTS;
    if (rc == 0)
        rc = choose(param, ctx, "by", products ? bys : bys + 1, products ? 2 : 1, 0, &by,
                    products ? "units or revenue" : "revenue", err);
    q->by_revenue = !products || by == 1;
    return rc;
}

int sf_bi_parse(const char *question, sf_bi_param_fn param, void *ctx, sf_bi_query *q,
                sf_error *err)
{
    memset(q, 0, sizeof *q);
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(question, question_names[i]) == 0)
            which = i;
    if (which < 0)
        return sf_error_set(err, SF_ENOENT, "no BI question named \"%.64s\"", question);
    q->question = (sf_bi_question)which;
    int rc = period_param(param, ctx, "from", q->from, err);
    if (rc == 0)
        rc = period_param(param, ctx, "to", q->to, err);
    int64_t a, b;
    sf_grain ga, gb;
    if (rc == 0 && q->from[0] && q->to[0] && parse_period(q->from, &ga, &a) &&
        parse_period(q->to, &gb, &b) && bucket_next(b, gb) <= a)
        rc = sf_error_set(err, SF_EINVAL, "parameters from and to: %s is after %s", q->from, q->to);
    if (rc < 0)
        return rc;
    int v;
    switch (q->question) {
    case SF_BI_SALES:
        rc = choose(param, ctx, "granularity", grains, 4, SF_GRAIN_DAY, &v,
                    "hour, day, month or year", err);
        q->grain = (sf_grain)v;
        return rc;
    case SF_BI_PROFILE: {
        static const char *const bys[] = {"hour_of_day", "weekday"};
        rc = choose(param, ctx, "by", bys, 2, 0, &v, "hour_of_day or weekday", err);
        q->by_weekday = v == 1;
        q->grain = SF_GRAIN_DAY;
        return rc;
    }
    default:
        return parse_ranking(param, ctx, q, err);
    }
}

/* ---- answers ------------------------------------------------------------ */

/* Room in a result's arrays (sf_bi_answer keeps them between answers). */
typedef struct room {
    size_t buckets, items, periods;
} room;

/* What one answer collects while the warehouse is read. */
typedef struct run {
    sf_bi_result *res;
    const sf_bi_query *q;
    size_t next; /* rankings: the first bucket not yet a period */
    room *cap;   /* of res's arrays */
    sf_error *err;
} run;

static int oom(sf_error *err)
{
    return sf_error_set(err, SF_ENOMEM, "out of memory");
}

/* A bounded copy of src into dst[cap] (snprintf's result without its
 * cost: a listing copies ~3,000 items' texts). */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (n + 1 < cap && src[n])
        n++;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Make room for one more element of size sz in *arr (n used, *cap). */
static bool grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = c;
    return true;
}

static int on_bucket(void *ctx, const sf_wh_sales *row, sf_error *err)
{
    run *r = ctx;
    sf_bi_result *res = r->res;
    if (!grow((void **)&res->buckets, res->nbuckets, &r->cap->buckets, sizeof *res->buckets))
        return oom(err);
    sf_bi_bucket *b = &res->buckets[res->nbuckets++];
    copy(b->period, sizeof b->period, row->period);
    b->revenue_milli = row->revenue_milli, b->units = row->units, b->lines = row->lines;
    b->invoices = row->invoices, b->customers = row->customers;
    return 0;
}

/* Resolve the range of q in grain g: the first and last bucket (keys and
 * starts) given, or else those of the data (res->buckets, read first). */
static void resolve_range(sf_bi_result *res, const sf_bi_query *q, sf_grain g, int64_t *a,
                          int64_t *b)
{
    sf_grain pg;
    int64_t t;
    *a = *b = 0;
    if (q->from[0] && parse_period(q->from, &pg, &t))
        *a = bucket_start(t, g);
    else if (res->nbuckets && parse_period(res->buckets[0].period, &pg, &t))
        *a = t;
    if (q->to[0] && parse_period(q->to, &pg, &t))
        *b = bucket_start(bucket_next(t, pg) - 1, g);
    else if (res->nbuckets && parse_period(res->buckets[res->nbuckets - 1].period, &pg, &t))
        *b = t;
    bool known = (q->from[0] || res->nbuckets) && (q->to[0] || res->nbuckets);
    if (!known || *b < *a) {
        res->first[0] = res->last[0] = '\0';
        res->calendar_buckets = 0;
        return;
    }
    bucket_key(*a, g, res->first);
    bucket_key(*b, g, res->last);
    res->calendar_buckets = buckets_between(*a, *b, g);
}

/* Read the buckets of grain g in q's range into res->buckets. */
static int read_buckets(sf_warehouse *wh, run *r, sf_grain g, sf_error *err)
{
    char from[SF_BI_KEY_MAX], to[SF_BI_KEY_MAX];
    sf_grain pg;
    int64_t t;
    const sf_bi_query *q = r->q;
    if (q->from[0] && parse_period(q->from, &pg, &t))
        bucket_key(bucket_start(t, g), g, from);
    if (q->to[0] && parse_period(q->to, &pg, &t))
        bucket_key(bucket_next(bucket_start(bucket_next(t, pg) - 1, g), g), g, to);
    r->res->nbuckets = 0;
    return sf_warehouse_sales(wh, g, q->from[0] ? from : NULL, q->to[0] ? to : NULL, on_bucket, r,
                              err);
}

static int run_profile(sf_warehouse *wh, run *r, sf_error *err)
{
    sf_bi_result *res = r->res;
    int64_t a, b;
    int rc = read_buckets(wh, r, SF_GRAIN_DAY, err);
    if (rc < 0)
        return rc;
    resolve_range(res, r->q, SF_GRAIN_DAY, &a, &b);
    res->calendar_days = res->calendar_buckets;
    res->days_with_sales = (int64_t)res->nbuckets;
    res->nprofile = r->q->by_weekday ? 7 : 24;
    for (int k = 0; k < res->nprofile; k++)
        res->profile[k] = (sf_bi_profile_row){.key = k, .calendar_days = res->calendar_days};
    if (r->q->by_weekday) {
        int w0 = sf_weekday(a);
        for (int k = 0; k < 7 && res->calendar_days > 0; k++)
            res->profile[k].calendar_days =
                res->calendar_days / 7 + ((k - w0 + 7) % 7 < res->calendar_days % 7);
    } else if ((rc = read_buckets(wh, r, SF_GRAIN_HOUR, err)) < 0) {
        return rc;
    }
    for (size_t i = 0; i < res->nbuckets; i++) {
        const sf_bi_bucket *bk = &res->buckets[i];
        sf_grain g;
        int64_t t;
        parse_period(bk->period, &g, &t);
        int key = r->q->by_weekday ? sf_weekday(t) : (int)(((t % 86400) + 86400) % 86400 / 3600);
        sf_bi_profile_row *p = &res->profile[key];
        p->revenue_milli += bk->revenue_milli, p->units += bk->units, p->lines += bk->lines;
        p->days_with_sales++;
    }
    res->nbuckets = 0; /* the buckets were the profile's input, not its answer */
    return 0;
}

/* Start the ranking of one period. */
static int add_period(run *r, const char *period, sf_error *err)
{
    sf_bi_result *res = r->res;
    if (!grow((void **)&res->periods, res->nperiods, &r->cap->periods, sizeof *res->periods))
        return oom(err);
    sf_bi_period *p = &res->periods[res->nperiods++];
    copy(p->period, sizeof p->period, period);
    p->first = res->nitems;
    p->count = 0;
    return 0;
}

/* Make period (a row's, rows come in period order) the current one: the
 * periods of the listing before it start their (empty) rankings first. */
static int to_period(run *r, const char *period, sf_error *err)
{
    sf_bi_result *res = r->res;
    if (res->nperiods && strcmp(res->periods[res->nperiods - 1].period, period) == 0)
        return 0;
    int rc = 0;
    while (rc == 0 && r->next < res->nbuckets && strcmp(res->buckets[r->next].period, period) < 0)
        rc = add_period(r, res->buckets[r->next++].period, err);
    if (r->next < res->nbuckets && strcmp(res->buckets[r->next].period, period) == 0)
        r->next++;
    return rc < 0 ? rc : add_period(r, period, err);
}

static sf_bi_item *add_item(run *r, const char *period, const char *text)
{
    sf_bi_result *res = r->res;
    if (to_period(r, period, r->err) < 0 ||
        !grow((void **)&res->items, res->nitems, &r->cap->items, sizeof *res->items))
        return NULL;
    sf_bi_period *p = &res->periods[res->nperiods - 1];
    sf_bi_item *it = &res->items[res->nitems++];
    memset(it, 0, sizeof *it);
    memcpy(it->period, p->period, sizeof it->period);
    it->rank = (uint32_t)++p->count;
    it->customer_id = SF_NO_CUSTOMER;
    it->text = res->texts.len;
    sf_buf_add(&res->texts, text, strlen(text) + 1);
    return sf_buf_failed(&res->texts) ? NULL : it;
}

static int on_product(void *ctx, const sf_wh_product *row, sf_error *err)
{
    sf_bi_item *it = add_item(ctx, row->period, row->description);
    if (!it)
        return oom(err);
    copy(it->key, sizeof it->key, row->stock_code);
    it->units = row->units, it->revenue_milli = row->revenue_milli;
    return 0;
}

static int on_customer(void *ctx, const sf_wh_customer *row, sf_error *err)
{
    sf_bi_item *it = add_item(ctx, row->period, row->country);
    if (!it)
        return oom(err);
    it->customer_id = row->customer_id;
    it->revenue_milli = row->revenue_milli, it->invoices = row->invoices;
    return 0;
}

static int on_invoice(void *ctx, const sf_wh_invoice *row, sf_error *err)
{
    sf_bi_item *it = add_item(ctx, row->period, "");
    if (!it)
        return oom(err);
    copy(it->key, sizeof it->key, row->invoice_no);
    copy(it->date, sizeof it->date, row->date);
    it->customer_id = row->customer_id;
    it->units = row->units, it->revenue_milli = row->revenue_milli;
    return 0;
}

/* The rankings of every period from first to last (NULL: first alone), in
 * one call of the warehouse. */
static int rank_periods(sf_warehouse *wh, run *r, const char *first, const char *last,
                        sf_error *err)
{
    const sf_bi_query *q = r->q;
    sf_wh_top t = {q->grain, first, last, q->limit, q->by_revenue, q->include_non_products};
    if (q->question == SF_BI_TOP_PRODUCTS)
        return sf_warehouse_top_products(wh, &t, on_product, r, err);
    if (q->question == SF_BI_TOP_CUSTOMERS)
        return sf_warehouse_top_customers(wh, &t, on_customer, r, err);
    return sf_warehouse_top_invoices(wh, &t, on_invoice, r, err);
}

/* Rankings: of the one period `at`, or of every period with sales (an
 * empty ranking for a period with sales but none ranked). */
static int run_rankings(sf_warehouse *wh, run *r, sf_error *err)
{
    sf_bi_result *res = r->res;
    if (r->q->at[0]) {
        copy(res->first, sizeof res->first, r->q->at);
        copy(res->last, sizeof res->last, r->q->at);
        res->calendar_buckets = 1;
        int rc = add_period(r, r->q->at, err);
        return rc < 0 ? rc : rank_periods(wh, r, r->q->at, NULL, err);
    }
    int64_t a, b;
    int rc = read_buckets(wh, r, r->q->grain, err);
    if (rc == 0)
        resolve_range(res, r->q, r->q->grain, &a, &b);
    r->next = 0;
    if (rc == 0 && res->nbuckets)
        rc = rank_periods(wh, r, res->buckets[0].period, res->buckets[res->nbuckets - 1].period,
                          err);
    while (rc == 0 && r->next < res->nbuckets)
        rc = add_period(r, res->buckets[r->next++].period, err);
    res->nbuckets = 0;
    return rc;
}

/* The positions: every partition the warehouse has loaded. */
static int read_offsets(sf_warehouse *wh, sf_bi_result *res, sf_error *err)
{
    uint64_t *all = res->offsets; /* kept from an earlier answer (sf_bi_answer) */
    if (all)
        memset(all, 0, SF_STREAM_PARTITIONS_MAX * sizeof *all);
    else if (!(all = calloc(SF_STREAM_PARTITIONS_MAX, sizeof *all)))
        return oom(err);
    sf_pos *pos = calloc(SF_STREAM_PARTITIONS_MAX, sizeof *pos);
    int rc = pos ? sf_warehouse_positions(wh, pos, SF_STREAM_PARTITIONS_MAX, err) : oom(err);
    for (uint32_t p = 0; rc == 0 && p < SF_STREAM_PARTITIONS_MAX; p++)
        if (!sf_pos_u64(&pos[p], &all[p]))
            all[p] = 0; /* not an offset */
    free(pos);
    uint32_t n = SF_STREAM_PARTITIONS_MAX;
    while (n > 0 && all[n - 1] == 0)
        n--;
    res->offsets = all;
    res->noffsets = rc == 0 ? n : 0;
    return rc;
}

static int in_snapshot(sf_warehouse *wh, void *ctx, sf_error *err)
{
    run *r = ctx;
    int rc = read_offsets(wh, r->res, err);
    if (rc < 0)
        return rc;
    int64_t a, b;
    switch (r->q->question) {
    case SF_BI_SALES:
        rc = read_buckets(wh, r, r->q->grain, err);
        if (rc == 0)
            resolve_range(r->res, r->q, r->q->grain, &a, &b);
        return rc;
    case SF_BI_PROFILE:
        return run_profile(wh, r, err);
    default:
        return run_rankings(wh, r, err);
    }
}

/* Empty res for an answer to q, keeping the arrays it has. */
static void result_reset(sf_bi_result *res, const sf_bi_query *q)
{
    sf_bi_result old = *res;
    memset(res, 0, sizeof *res);
    res->q = *q;
    res->offsets = old.offsets, res->buckets = old.buckets, res->periods = old.periods;
    res->items = old.items, res->texts = old.texts;
    sf_buf_reset(&res->texts);
}

/* sf_bi_run into res, whose arrays (with room cap) are reused. */
static int run_into(sf_warehouse *wh, const sf_bi_query *q, sf_bi_result *res, room *cap,
                    sf_error *err)
{
    result_reset(res, q);
    run r = {res, q, 0, cap, err};
    int rc = sf_warehouse_read(wh, in_snapshot, &r, err);
    if (rc == SF_ENOENT) { /* never loaded: an empty warehouse answers */
        result_reset(res, q);
        sf_error_clear(err);
        return 0;
    }
    return rc;
}

int sf_bi_run(sf_warehouse *wh, const sf_bi_query *q, sf_bi_result *res, sf_error *err)
{
    room cap = {0, 0, 0};
    memset(res, 0, sizeof *res);
    return run_into(wh, q, res, &cap, err);
}

void sf_bi_result_free(sf_bi_result *res)
{
    free(res->offsets);
    free(res->buckets);
    free(res->periods);
    free(res->items);
    sf_buf_free(&res->texts);
    res->offsets = NULL, res->buckets = NULL, res->periods = NULL, res->items = NULL;
    res->nbuckets = res->nperiods = res->nitems = 0;
}

/* ---- answers kept per thread --------------------------------------------- */

/*
 * sf_bi_answer keeps its result's arrays from one answer to the next on
 * the same thread (the gateway answers on a few long-lived threads). A
 * listing of every day of a year fills ~500 KB of items and texts beside
 * its ~300 KB of JSON; allocated afresh per answer, that memory went back
 * to the kernel when the answer freed it (glibc gives back a free heap top
 * past its trim threshold: twice the largest block it has unmapped, here
 * ~1 MB), and the next answer faulted every page in again: 130-270 page
 * faults per answer, a quarter to a third of its time (docs/benchmarks.md,
 * "The day rankings and the heap"). Whether an answer crossed that line
 * hung on a few bytes per item: 128-bit totals (an item 112 -> 128 bytes)
 * took top-invoices over it. Kept, the arrays are faulted in once per
 * thread. Arrays grown past KEEP_BYTES (a limit of 1000) are freed after
 * their answer instead.
 */
#define KEEP_BYTES ((size_t)4 << 20)

typedef struct kept {
    sf_bi_result res;
    room cap;
} kept;

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static bool kept_usable;

static void kept_free(void *p)
{
    kept *k = p;
    sf_bi_result_free(&k->res);
    free(k);
}

static void kept_init(void)
{
    kept_usable = pthread_key_create(&kept_key, kept_free) == 0;
}

/* This thread's kept result (made on first use), or NULL if none can be. */
static kept *kept_get(void)
{
    pthread_once(&kept_once, kept_init);
    if (!kept_usable)
        return NULL;
    kept *k = pthread_getspecific(kept_key);
    if (!k && (k = calloc(1, sizeof *k)) != NULL && pthread_setspecific(kept_key, k) != 0) {
        free(k);
        k = NULL;
    }
    return k;
}

/* After an answer: free k's arrays if they grew past KEEP_BYTES. */
static void kept_trim(kept *k)
{
    size_t bytes = k->cap.buckets * sizeof(sf_bi_bucket) + k->cap.items * sizeof(sf_bi_item) +
                   k->cap.periods * sizeof(sf_bi_period) + k->res.texts.cap;
    if (bytes > KEEP_BYTES) {
        sf_bi_result_free(&k->res);
        k->cap = (room){0, 0, 0};
    }
}

int sf_bi_answer(struct sf_warehouse *wh, const char *question,
                 const char *(*param)(void *ctx, const char *name), void *ctx,
                 const uint64_t *stream_end, uint32_t nparts, char **json, size_t *len,
                 sf_error *err)
{
    sf_bi_query q;
    *json = NULL;
    int rc = sf_bi_parse(question, param, ctx, &q, err);
    if (rc < 0)
        return rc;
    kept fresh, *k = kept_get();
    if (!k) {
        memset(&fresh, 0, sizeof fresh);
        k = &fresh;
    }
    rc = run_into(wh, &q, &k->res, &k->cap, err);
    if (rc == 0) {
        sf_buf b = SF_BUF_INIT;
        sf_bi_json(&k->res, stream_end, nparts, &b);
        *json = sf_buf_take(&b, len);
        if (!*json)
            rc = oom(err);
    }
    if (k == &fresh)
        sf_bi_result_free(&fresh.res);
    else
        kept_trim(k);
    return rc;
}
