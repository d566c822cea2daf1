/*
 * ranked.c - the ranked lists of a warehouse: for every (grain, period), all
 * its products (bi_product) and customers (bi_customer) with their figures,
 * as JSON arrays already sorted in ranking order. Adapter-neutral: the
 * lists are read and written through the store of rollup.h, and read back
 * for the BI answers by sf_wh_rank_walk.
 *
 * Why lists rather than one row per (period, product): the year has ~280,000
 * (day, product) pairs; an upsert of each into an indexed table cost more
 * than loading the fact rows themselves (docs/benchmarks.md), while the
 * answer to "the top 10 of each day" needs only the head of each day's
 * ranking. One row per period holding the whole ranking is written once per
 * transaction that touches the period (merge the stored list with the
 * transaction's figures, sort, write), and read by taking the first entries.
 * The JSON stays readable: `SELECT j.value FROM bi_product,
 * json_each(by_units) j WHERE period = '2011-11'`.
 *
 * Each list's first SF_WH_HEAD entries are also written as a row of their
 * own (bi_rank_head, days, months and years): listing the top 10 of every
 * day of a year reads ~300 heads of ~2.5 KB instead of ~300 lists of
 * 20-60 KB. The reading side (sf_wh_ranked_take, the dimension map) is
 * here too, shared by both adapters' BI reads.
 *
 * Ties rank by key (stock code as bytes, customer id as a number), so a list
 * is a function of the figures alone: byte-identical after any crash.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "storage/warehouse/rollup.h"

size_t sf_wh_period_len(const char *period, size_t cap)
{
    size_t n = 0;
    while (n < cap && period[n])
        n++;
    return n;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* The digits at p (more than 18) in 128 bits, at most 38 of them: a
 * longer number is not one ranked.c writes, and the digits left over fail
 * the entry. Apart from parse_int, so that its loop, run 15,000 times per
 * answer, neither checks for them nor keeps 128-bit registers. */
__attribute__((noinline)) static const char *parse_wide(const char *p, const char *end, bool neg,
                                                        sf_i128 *out)
{
    const char *first = p;
    unsigned __int128 w = 0;
    while (p < end && *p >= '0' && *p <= '9' && p - first < 38)
        w = w * 10 + (unsigned)(*p++ - '0');
    *out = neg ? -(sf_i128)w : (sf_i128)w;
    return p;
}

/* A JSON integer of up to 38 digits (a 128-bit total). Nearly every figure
 * has at most 18, read in 64 bits (which wrap past 19 digits: such a
 * number is read again by parse_wide). */
static bool parse_int(const char **pp, const char *end, sf_i128 *out)
{
    const char *p = skip_ws(*pp, end);
    bool neg = p < end && *p == '-';
    p += neg;
    const char *first = p;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == first)
        return false;
    if (p - first > 18)
        p = parse_wide(first, end, neg, out);
    else
        *out = neg ? -(int64_t)v : (int64_t)v;
    *pp = p;
    return true;
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A JSON string as sf_buf_json_string writes it (\" \\ \u00XX). */
static bool parse_code(const char **pp, const char *end, char *out, size_t cap)
{
    const char *p = skip_ws(*pp, end);
    size_t n = 0;
    if (p >= end || *p++ != '"')
        return false;
    while (p < end && *p != '"' && n + 1 < cap) {
        char c = *p++;
        if (c == '\\' && p < end && *p == 'u' && end - p >= 5 && p[1] == '0' && p[2] == '0' &&
            hex(p[3]) >= 0 && hex(p[4]) >= 0) {
            c = (char)(hex(p[3]) * 16 + hex(p[4]));
            p += 5;
        } else if (c == '\\' && p < end) {
            c = *p++;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    *pp = p + 1;
    return p < end;
}

static bool expect(const char **pp, const char *end, char c)
{
    const char *p = skip_ws(*pp, end);
    if (p >= end || *p != c)
        return false;
    *pp = p + 1;
    return true;
}

bool sf_wh_rank_next(const char **pp, const char *end, bool product, wh_rank_entry *e)
{
    const char *p = skip_ws(*pp, end);
    if (p < end && (*p == '[' || *p == ','))
        p++; /* the list's opening bracket, or the comma between entries */
    memset(e->code, 0, sizeof e->code);
    sf_i128 id = 0;
    bool ok = expect(&p, end, '[') &&
              (product ? parse_code(&p, end, e->code, sizeof e->code) : parse_int(&p, end, &id));
    e->id = (int64_t)id; /* a customer id: 32 bits */
    for (int i = 0; ok && i < 4; i++)
        ok = expect(&p, end, ',') && parse_int(&p, end, &e->v[i]);
    ok = ok && expect(&p, end, ']');
    if (ok)
        *pp = p;
    return ok;
}

/* A growing array of entries: what a period's list becomes. */
typedef struct rank_list {
    wh_rank_entry *e;
    size_t n, cap;
    sf_buf text;
    size_t head_end; /* text[0..head_end) is "[" and the first SF_WH_HEAD entries */
    sf_buf head;
} rank_list;

static wh_rank_entry *push(rank_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        wh_rank_entry *e = realloc(l->e, cap * sizeof *e);
        if (!e)
            return NULL;
        l->e = e, l->cap = cap;
    }
    return &l->e[l->n++];
}

static int cmp_code(const void *a, const void *b)
{
    return strcmp(((const wh_rank_entry *)a)->code, ((const wh_rank_entry *)b)->code);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = ((const wh_rank_entry *)a)->id, y = ((const wh_rank_entry *)b)->id;
    return (x > y) - (x < y);
}

/* Descending by v[i], then by key. */
static int by_value(const wh_rank_entry *a, const wh_rank_entry *b, int i, bool product)
{
    int c = sf_i128_cmp(b->v[i], a->v[i]);
    if (c)
        return c;
    return product ? cmp_code(a, b) : cmp_id(a, b);
}

static int product_by_units(const void *a, const void *b)
{
    return by_value(a, b, 0, true);
}

static int product_by_revenue(const void *a, const void *b)
{
    return by_value(a, b, 1, true);
}

static int customer_by_revenue(const void *a, const void *b)
{
    return by_value(a, b, 0, false);
}

/* Read the stored list of (grain, period) into l; *n is its length. */
static int load_list(wh_rollup *r, sf_grain g, const char *period, bool product, rank_list *l,
                     size_t *n, sf_error *err)
{
    const char *p = NULL;
    size_t len = 0;
    *n = 0;
    int rc = r->store->list_get(r->self, product, g, period, &p, &len, err);
    if (rc < 0)
        return rc;
    const char *end = p + len;
    wh_rank_entry e;
    while (p && sf_wh_rank_next(&p, end, product, &e)) {
        wh_rank_entry *to = push(l);
        if (!to)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        *to = e;
        (*n)++;
    }
    return 0;
}

/* Sort l by key and add up entries of the same key (non_product of a
 * product is a flag: kept, not added). */
static void combine(rank_list *l, bool product)
{
    qsort(l->e, l->n, sizeof *l->e, product ? cmp_code : cmp_id);
    size_t out = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (out > 0 && (product ? cmp_code : cmp_id)(&l->e[out - 1], &l->e[i]) == 0) {
            for (int k = 0; k < 4; k++)
                l->e[out - 1].v[k] += product && k == 3 ? 0 : l->e[i].v[k];
            continue;
        }
        l->e[out++] = l->e[i];
    }
    l->n = out;
}

/* An int64 in decimal, after a comma when asked: lists are written at
 * every commit, and printf was a tenth of the load's time. */
void sf_wh_put_int(sf_buf *b, int64_t v, bool comma)
{
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    if (comma)
        *--p = ',';
    sf_buf_add(b, p, (size_t)(t + sizeof t - p));
}

void sf_wh_put_i128(sf_buf *b, sf_i128 v, bool comma)
{
    if (sf_i128_is_int64(v)) {
        sf_wh_put_int(b, (int64_t)v, comma);
        return;
    }
    char t[SF_MONEY_TEXT_MAX + 1];
    t[0] = ',';
    size_t n = sf_format_i128(v, t + 1);
    sf_buf_add(b, comma ? t : t + 1, comma ? n + 1 : n);
}

static void to_json(rank_list *l, bool product)
{
    sf_buf *b = &l->text;
    sf_buf_reset(b);
    sf_buf_add(b, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        const wh_rank_entry *e = &l->e[i];
        sf_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        if (product)
            sf_buf_json_string(b, e->code, strlen(e->code));
        else
            sf_wh_put_int(b, e->id, false);
        for (int k = 0; k < 4; k++)
            sf_wh_put_i128(b, e->v[k], true);
        sf_buf_add(b, "]", 1);
        if (i + 1 == SF_WH_HEAD)
            l->head_end = b->len;
    }
    if (l->n < SF_WH_HEAD)
        l->head_end = b->len;
    sf_buf_add(b, "]", 1);
}

/* Write the head of l's text (just encoded) as list `name` of (g,
 * period): the text's own prefix, closed. Rankings are asked for by day,
 * month and year only, so hours get none. */
static int put_head(wh_rollup *r, rank_list *l, const char *name, const sales_key *k, sf_error *err)
{
    if (k->grain == SF_GRAIN_HOUR)
        return 0;
    sf_buf_reset(&l->head);
    sf_buf_add(&l->head, l->text.data, l->head_end);
    sf_buf_add(&l->head, "]", 1);
    if (sf_buf_failed(&l->head))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return r->store->head_put(r->self, name, (sf_grain)k->grain, k->period, (int64_t)l->n,
                              l->head.data, l->head.len, err);
}

/* Group [i, j) of a sorted map: the entries of one (grain, period); the
 * grain byte and the 15-byte period lead every key. */
static size_t group_end(const sf_aggmap *m, size_t i)
{
    size_t j = i + 1;
    while (j < m->count && memcmp(sf_aggmap_key(m, j), sf_aggmap_key(m, i), 16) == 0)
        j++;
    return j;
}

/* The list of the (grain, period) of map entries [i, j): the stored one
 * with the entries added, combined by key; *stored is how many entries were
 * stored. */
static int merge_group(wh_rollup *r, const sf_aggmap *m, size_t i, size_t j, bool product,
                       rank_list *l, size_t *stored, sf_error *err)
{
    const sales_key *k = sf_aggmap_key(m, i); /* every key starts as a sales_key */
    l->n = 0;
    int rc = load_list(r, (sf_grain)k->grain, k->period, product, l, stored, err);
    for (size_t x = i; rc == 0 && x < j; x++) {
        wh_rank_entry *e = push(l);
        if (!e)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        memset(e, 0, sizeof *e);
        if (product) {
            const product_val *v = sf_aggmap_value(m, x);
            memcpy(e->code, ((const product_key *)sf_aggmap_key(m, x))->code, sizeof e->code);
            e->v[0] = v->units, e->v[1] = v->revenue, e->v[2] = v->lines;
            e->v[3] = v->non_product;
        } else {
            const customer_val *v = sf_aggmap_value(m, x);
            e->id = ((const customer_key *)sf_aggmap_key(m, x))->customer;
            e->v[0] = v->revenue, e->v[1] = v->units, e->v[2] = v->lines;
            e->v[3] = v->invoices;
        }
    }
    if (rc == 0)
        combine(l, product);
    return rc;
}

static void rank_list_free(rank_list *l)
{
    free(l->e);
    sf_buf_free(&l->text);
    sf_buf_free(&l->head);
}

int sf_wh_write_products(wh_rollup *r, sf_error *err)
{
    sf_aggmap *m = &r->products;
    rank_list l = {NULL, 0, 0, SF_BUF_INIT, 0, SF_BUF_INIT};
    sf_buf units = SF_BUF_INIT;
    int rc = 0;
    for (size_t i = 0, j; rc == 0 && i < m->count; i = j) {
        j = group_end(m, i);
        size_t stored;
        if ((rc = merge_group(r, m, i, j, true, &l, &stored, err)) < 0)
            break;
        const sales_key *k = sf_aggmap_key(m, i);
        qsort(l.e, l.n, sizeof *l.e, product_by_units);
        to_json(&l, true);
        rc = put_head(r, &l, "product_units", k, err);
        sf_buf_reset(&units);
        sf_buf_add(&units, l.text.data, l.text.len);
        qsort(l.e, l.n, sizeof *l.e, product_by_revenue);
        to_json(&l, true);
        if (rc == 0)
            rc = put_head(r, &l, "product_revenue", k, err);
        if (rc == 0 && (sf_buf_failed(&units) || sf_buf_failed(&l.text)))
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        if (rc == 0)
            rc = r->store->list_put(r->self, true, (sf_grain)k->grain, k->period, (int64_t)l.n,
                                    units.data, units.len, l.text.data, l.text.len, err);
    }
    rank_list_free(&l);
    sf_buf_free(&units);
    return rc;
}

/* Also counts the customers new to each bucket: the list's growth. */
int sf_wh_write_customers(wh_rollup *r, sf_error *err)
{
    sf_aggmap *m = &r->customers;
    rank_list l = {NULL, 0, 0, SF_BUF_INIT, 0, SF_BUF_INIT};
    int rc = 0;
    for (size_t i = 0, j; rc == 0 && i < m->count; i = j) {
        j = group_end(m, i);
        const customer_key *k = sf_aggmap_key(m, i);
        size_t stored;
        rc = merge_group(r, m, i, j, false, &l, &stored, err);
        sales_val *s = rc == 0 ? sf_wh_sales_of(r, k->grain, k->period) : NULL;
        if (!s) {
            rc = rc < 0 ? rc : sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        s->customers += (int64_t)l.n - (int64_t)stored;
        qsort(l.e, l.n, sizeof *l.e, customer_by_revenue);
        to_json(&l, false);
        rc = sf_buf_failed(&l.text) ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                    : put_head(r, &l, "customer", sf_aggmap_key(m, i), err);
        if (rc == 0)
            rc = r->store->list_put(r->self, false, (sf_grain)k->grain, k->period, (int64_t)l.n,
                                    l.text.data, l.text.len, NULL, 0, err);
    }
    rank_list_free(&l);
    return rc;
}

size_t sf_wh_head_len(const char *text, size_t len, bool product, int entries)
{
    const char *p = text, *end = text + len, *at = text;
    wh_rank_entry e;
    for (int i = 0; i < entries && sf_wh_rank_next(&p, end, product, &e); i++)
        at = p;
    if (at == text) /* no entry: the opening bracket */
        at = skip_ws(text, end) + (len > 0);
    return (size_t)(at - text);
}

/* ---- reading rankings ---------------------------------------------------- */

static bool ranked_push(wh_ranked *r, const char *period, const wh_rank_entry *e)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        wh_rank_entry *ne = realloc(r->e, cap * sizeof *ne);
        if (ne)
            r->e = ne;
        char(*np)[16] = ne ? realloc(r->period, cap * sizeof *np) : NULL;
        if (!np)
            return false;
        r->period = np, r->cap = cap;
    }
    r->e[r->n] = *e;
    size_t n = sf_wh_period_len(period, sizeof r->period[0] - 1);
    memcpy(r->period[r->n], period, n);
    r->period[r->n][n] = '\0';
    r->n++;
    return true;
}

int sf_wh_ranked_take(wh_ranked *r, const char *period, const char *text, size_t len, bool complete,
                      int64_t entries, const sf_wh_top *t, bool product, bool *short_head,
                      sf_error *err)
{
    const char *p = text, *end = text + len;
    size_t first = r->n;
    int64_t read = 0;
    wh_rank_entry e;
    *short_head = false;
    for (uint32_t n = 0; n < t->limit && p && sf_wh_rank_next(&p, end, product, &e); read++)
        if (!product || t->include_non_products || !e.v[3]) {
            if (!ranked_push(r, period, &e))
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            n++;
        }
    if (r->n - first < t->limit && !complete && read < entries) {
        r->n = first; /* the head ran out first: the whole list answers */
        *short_head = true;
    }
    return 0;
}

/* Entries a kept wh_ranked may hold on to between answers (~100 bytes
 * each): every day of a year at the default limit of 10, twice over. */
#define RANKED_KEEP 8192

void sf_wh_ranked_reset(wh_ranked *r)
{
    if (r->cap > RANKED_KEEP)
        sf_wh_ranked_free(r);
    r->n = 0;
}

void sf_wh_ranked_free(wh_ranked *r)
{
    free(r->e);
    free(r->period);
    memset(r, 0, sizeof *r);
}

/* A dimension's key: a product's code or a customer's id, zero-padded. */
typedef struct dim_key {
    char code[SF_STOCK_CODE_MAX + 1];
    int64_t id;
} dim_key;

typedef struct dim_val {
    size_t at, len;
    bool known;
} dim_val;

void sf_wh_dims_init(wh_dims *d)
{
    sf_aggmap_init(&d->map, sizeof(dim_key), sizeof(dim_val));
    d->texts = (sf_buf)SF_BUF_INIT;
}

static dim_key key_of(const char *code, int64_t id)
{
    dim_key k;
    memset(&k, 0, sizeof k);
    if (code)
        memcpy(k.code, code, sf_wh_period_len(code, sizeof k.code - 1));
    k.id = id;
    return k;
}

int sf_wh_dims_put(wh_dims *d, const char *code, int64_t id, const char *text, size_t len,
                   sf_error *err)
{
    dim_key k = key_of(code, id);
    dim_val *v = sf_aggmap_get(&d->map, &k, NULL);
    if (v) {
        v->at = d->texts.len, v->len = len, v->known = true;
        sf_buf_add(&d->texts, text, len);
        sf_buf_add(&d->texts, "", 1);
    }
    return v && !sf_buf_failed(&d->texts) ? 0 : sf_error_set(err, SF_ENOMEM, "out of memory");
}

int sf_wh_dims_want(wh_dims *d, const wh_rank_entry *e, bool product, bool *first, sf_error *err)
{
    dim_key k = key_of(product ? e->code : NULL, product ? 0 : e->id);
    *first = false;
    if (!sf_aggmap_get(&d->map, &k, first))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

const char *sf_wh_dims_get(wh_dims *d, const wh_rank_entry *e, bool product)
{
    dim_key k = key_of(product ? e->code : NULL, product ? 0 : e->id);
    const dim_val *v = sf_aggmap_get(&d->map, &k, NULL);
    return v && v->known ? d->texts.data + v->at : "";
}

void sf_wh_dims_free(wh_dims *d)
{
    sf_aggmap_free(&d->map);
    sf_buf_free(&d->texts);
}

int sf_wh_ranked_deliver(const wh_ranked *r, wh_dims *d, bool product, sf_wh_product_fn pfn,
                         sf_wh_customer_fn cfn, void *ctx, sf_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const wh_rank_entry *e = &r->e[i];
        const char *dim = sf_wh_dims_get(d, e, product);
        if (product) {
            sf_wh_product row = {e->code, dim, e->v[0], e->v[1], e->v[3] != 0, r->period[i]};
            rc = pfn(ctx, &row, err);
        } else {
            sf_wh_customer row = {(int32_t)e->id, dim, e->v[0], (int64_t)e->v[3], r->period[i]};
            rc = cfn(ctx, &row, err);
        }
    }
    return rc;
}
