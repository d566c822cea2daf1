/*
 * rollup.c - the BI rollups of a warehouse (docs/warehouse.md), aggregated
 * in memory while a transaction loads and written once per key when it
 * commits, through the adapter's store operations (rollup.h): the same code
 * computes the rollups of the "sqlite" and the "postgres" adapters.
 *
 * Why in memory: a day of the shop is ~1,800 lines but ~900 (product, day)
 * keys and ~60 customers; upserting per line would be several statements per
 * line, per key it is a fraction of one. Lines are added at the finest grain
 * (hour, or day for products) and rolled up to the coarser grains at commit.
 *
 * Distinct counts (invoices and customers per bucket, invoices per customer
 * and bucket) do not add up across transactions, so they are counted when a
 * key is new to a bucket, which the tables themselves tell:
 *  - a customer is new to a bucket when its bi_customer row is created (the
 *    upsert returns the row's lines; equal to this transaction's lines only
 *    for a new row);
 *  - an invoice is new to a bucket when none of the hours it already had
 *    (bi_presence: the sorted hours of each (invoice, customer)) nor any of
 *    this transaction's earlier ones lies in that bucket.
 * The counts are therefore exact whatever the batches, transactions and
 * partition order, which keeps a rerun after a crash byte-identical.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/timefmt.h"
#include "storage/warehouse/rollup.h"

#define HOUR_LEN 13

typedef struct invoice_key {
    char invoice[SF_INVOICE_NO_MAX + 1];
} invoice_key;
typedef struct invoice_val {
    int64_t first;
    sf_i128 revenue, units;
    int64_t lines;
    int32_t customer;
} invoice_val;

/* Sorted as bytes, keys of one invoice, then of one customer, are adjacent. */
typedef struct presence_key {
    char invoice[SF_INVOICE_NO_MAX + 1];
    char pad[3];
    int32_t customer; /* 0: no customer */
    char hour[16];    /* HOUR_LEN used; no padding in the struct */
} presence_key;

typedef struct dim_product_val {
    int64_t seen;
    uint16_t len;
    uint8_t non_product;
    char description[SF_DESCRIPTION_MAX + 1];
} dim_product_val;

typedef struct dim_customer_val {
    int64_t seen;
    uint8_t len;
    char country[SF_COUNTRY_MAX + 1];
} dim_customer_val;

enum { M_SALES, M_CUSTOMERS, M_INVOICES, M_PRESENCE, M_DIM_CUSTOMERS, M_DIM_DATES };

int sf_grain_key_len(sf_grain g)
{
    static const int len[SF_GRAINS] = {13, 10, 7, 4};
    return len[g];
}

const char *sf_grain_name(sf_grain g)
{
    static const char *const names[SF_GRAINS] = {"hour", "day", "month", "year"};
    return names[g];
}

void sf_wh_rollup_init(wh_rollup *r, const wh_store_ops *store, void *self)
{
    memset(r, 0, sizeof *r);
    r->store = store;
    r->self = self;
    sf_aggmap_init(&r->sales, sizeof(sales_key), sizeof(sales_val));
    sf_aggmap_init(&r->products, sizeof(product_key), sizeof(product_val));
    sf_aggmap_init(&r->customers, sizeof(customer_key), sizeof(customer_val));
    sf_aggmap_init(&r->invoices, sizeof(invoice_key), sizeof(invoice_val));
    sf_aggmap_init(&r->presence, sizeof(presence_key), 0);
    sf_aggmap_init(&r->dim_products, SF_STOCK_CODE_MAX + 1, sizeof(dim_product_val));
    sf_aggmap_init(&r->dim_customers, sizeof(int32_t), sizeof(dim_customer_val));
    sf_aggmap_init(&r->dim_dates, sizeof(int64_t), 0);
}

static sf_aggmap *maps(wh_rollup *r, int i)
{
    sf_aggmap *all[] = {&r->sales,    &r->products,     &r->customers,     &r->invoices,
                        &r->presence, &r->dim_products, &r->dim_customers, &r->dim_dates};
    return all[i];
}

void sf_wh_rollup_reset(wh_rollup *r)
{
    for (int i = 0; i < 8; i++)
        sf_aggmap_clear(maps(r, i));
    memset(r->last, 0, sizeof r->last);
}

void sf_wh_rollup_free(wh_rollup *r)
{
    for (int i = 0; i < 8; i++)
        sf_aggmap_free(maps(r, i));
}

/* sf_aggmap_get, first trying the entry the previous line used: lines of an
 * invoice share hour, customer and invoice. */
static void *get_cached(sf_aggmap *m, size_t *last, const void *key)
{
    if (*last && memcmp(sf_aggmap_key(m, *last - 1), key, m->key_size) == 0)
        return sf_aggmap_value(m, *last - 1);
    uint8_t *v = sf_aggmap_get(m, key, NULL);
    if (v)
        *last = (size_t)(v - m->val_offset - m->entries) / m->entry_size + 1;
    return v;
}

/* (t, text) later than (seen, old): the dimension rule of sqlite.c. */
static bool later(int64_t t, const char *text, size_t n, int64_t seen, const char *old, size_t on)
{
    if (t != seen)
        return t > seen;
    int c = memcmp(text, old, n < on ? n : on);
    return c != 0 ? c > 0 : n > on;
}

/* Returns false when out of memory. */
static bool add_dims(wh_rollup *r, const sf_record *rec)
{
    char code[SF_STOCK_CODE_MAX + 1] = {0};
    memcpy(code, rec->stock_code, rec->stock_code_len);
    bool added;
    dim_product_val *p = sf_aggmap_get(&r->dim_products, code, &added);
    if (p && (added || later(rec->invoice_date, rec->description, rec->description_len, p->seen,
                             p->description, p->len))) {
        p->seen = rec->invoice_date;
        p->len = rec->description_len;
        p->non_product = (rec->flags & SF_FLAG_NON_PRODUCT) != 0;
        memcpy(p->description, rec->description, rec->description_len + 1u);
    }
    int64_t day = rec->invoice_date / 86400 - (rec->invoice_date % 86400 < 0);
    bool ok = p && get_cached(&r->dim_dates, &r->last[M_DIM_DATES], &day);
    if (rec->customer_id != SF_NO_CUSTOMER) {
        int32_t c = rec->customer_id;
        size_t before = r->dim_customers.count;
        dim_customer_val *v = get_cached(&r->dim_customers, &r->last[M_DIM_CUSTOMERS], &c);
        bool is_new = v && r->dim_customers.count > before;
        if (v && (is_new || later(rec->invoice_date, rec->country, rec->country_len, v->seen,
                                  v->country, v->len))) {
            v->seen = rec->invoice_date;
            v->len = rec->country_len;
            memcpy(v->country, rec->country, rec->country_len + 1u);
        }
        ok = ok && v;
    }
    return ok;
}

int sf_wh_rollup_add(wh_rollup *r, const sf_record *rec, const char *date, sf_error *err)
{
    int64_t amount = sf_record_amount(rec);
    bool has_customer = rec->customer_id != SF_NO_CUSTOMER;
    sales_key sk = {0};
    memcpy(sk.period, date, HOUR_LEN);
    sales_val *s = get_cached(&r->sales, &r->last[M_SALES], &sk);
    product_key pk = {.grain = SF_GRAIN_DAY};
    memcpy(pk.period, date, 10);
    memcpy(pk.code, rec->stock_code, rec->stock_code_len);
    product_val *p = s ? sf_aggmap_get(&r->products, &pk, NULL) : NULL;
    invoice_key ik = {{0}};
    memcpy(ik.invoice, rec->invoice_no, rec->invoice_no_len);
    invoice_val *inv = p ? get_cached(&r->invoices, &r->last[M_INVOICES], &ik) : NULL;
    presence_key pres = {{0}, {0}, has_customer ? rec->customer_id : 0, {0}};
    memcpy(pres.invoice, rec->invoice_no, rec->invoice_no_len);
    memcpy(pres.hour, date, HOUR_LEN);
    bool ok = inv && get_cached(&r->presence, &r->last[M_PRESENCE], &pres);
    if (!ok)
        return sf_error_set(err, SF_ENOMEM, "out of memory for the warehouse rollups");
    s->revenue += amount, s->units += rec->quantity, s->lines++;
    p->revenue += amount, p->units += rec->quantity, p->lines++;
    p->non_product = (rec->flags & SF_FLAG_NON_PRODUCT) != 0;
    if (inv->lines == 0 || rec->invoice_date < inv->first)
        inv->first = rec->invoice_date;
    if (inv->lines == 0)
        inv->customer = SF_NO_CUSTOMER;
    if (has_customer && (inv->customer == SF_NO_CUSTOMER || rec->customer_id < inv->customer))
        inv->customer = rec->customer_id;
    inv->revenue += amount, inv->units += rec->quantity, inv->lines++;
    if (has_customer) {
        customer_key ck = {0};
        memcpy(ck.period, date, HOUR_LEN);
        ck.customer = rec->customer_id;
        customer_val *c = get_cached(&r->customers, &r->last[M_CUSTOMERS], &ck);
        if (!c)
            return sf_error_set(err, SF_ENOMEM, "out of memory for the warehouse rollups");
        c->revenue += amount, c->units += rec->quantity, c->lines++;
    }
    return !add_dims(r, rec)
               ? sf_error_set(err, SF_ENOMEM, "out of memory for the warehouse rollups")
               : 0;
}

int sf_wh_ordinal_check(uint32_t p, uint64_t ordinal, uint64_t records, sf_error *err)
{
    if (ordinal <= SF_WH_ORDINAL_LIMIT && records <= SF_WH_ORDINAL_LIMIT - ordinal)
        return 0;
    return sf_error_set(err, SF_ERANGE,
                        "warehouse: partition %u: %llu records loaded, more than 2^40 (fact_id)", p,
                        (unsigned long long)ordinal);
}

int64_t sf_wh_pos_int(const sf_pos *pos)
{
    uint64_t v;
    return sf_pos_u64(pos, &v) && v <= INT64_MAX ? (int64_t)v : -1;
}

size_t sf_wh_pos_blob(const sf_pos *pos, uint8_t *out)
{
    return sf_wh_pos_int(pos) >= 0 ? 0 : sf_pos_encode(pos, out);
}

int sf_wh_pos_get(int64_t value, const void *blob, size_t len, sf_pos *out, sf_error *err)
{
    if (blob && len)
        return sf_pos_decode(blob, len, out, err) < 0
                   ? sf_error_prefix(err, "warehouse: a stored position: ")
                   : 0;
    if (value < 0)
        return sf_error_set(err, SF_ECORRUPT, "warehouse: a stored position of %lld",
                            (long long)value);
    sf_pos_from_u64(out, (uint64_t)value);
    return 0;
}

int sf_wh_rollup_entry(wh_rollup *r, const sf_stream_entry *e, uint32_t p, sf_record *rec,
                       char date[SF_TIME_TEXT_LEN + 1], sf_error *err)
{
    int rc = sf_stream_entry_record(e, p, rec, err);
    if (rc < 0)
        return rc;
    sf_time_format(rec->invoice_date, date);
    return sf_wh_rollup_add(r, rec, date, err);
}

/* What rolls up: the sums (the distinct counts are counted at commit, and a
 * product's flag is kept, not added). */
static void add_sales(void *to, const void *from)
{
    sales_val *t = to;
    const sales_val *f = from;
    t->revenue += f->revenue, t->units += f->units, t->lines += f->lines;
}

static void add_customer(void *to, const void *from)
{
    customer_val *t = to;
    const customer_val *f = from;
    t->revenue += f->revenue, t->units += f->units, t->lines += f->lines;
}

static void add_product(void *to, const void *from)
{
    product_val *t = to;
    const product_val *f = from;
    t->revenue += f->revenue, t->units += f->units, t->lines += f->lines;
}

/* Add the entries of the finest grain to the coarser ones: sales and
 * customers from hours, products from days. period is at offset 1 in
 * each key (after the grain byte). */
static bool roll_up(sf_aggmap *m, sf_grain finest, void (*add)(void *to, const void *from))
{
    size_t n = m->count;
    uint8_t key[64];
    for (size_t i = 0; i < n; i++) {
        for (int g = finest + 1; g < SF_GRAINS; g++) {
            memcpy(key, sf_aggmap_key(m, i), m->key_size);
            key[0] = (uint8_t)g;
            memset(key + 1 + sf_grain_key_len((sf_grain)g), 0,
                   (size_t)(sf_grain_key_len(finest) - sf_grain_key_len((sf_grain)g)));
            void *to = sf_aggmap_get(m, key, NULL);
            if (!to)
                return false;
            add(to, sf_aggmap_value(m, i));
        }
    }
    return true;
}

/* Products keep their flag rather than summing it. */
static bool roll_up_products(sf_aggmap *m)
{
    size_t n = m->count;
    if (!roll_up(m, SF_GRAIN_DAY, add_product))
        return false;
    for (size_t i = 0; i < n; i++) {
        product_key k = *(const product_key *)sf_aggmap_key(m, i);
        bool np = ((product_val *)sf_aggmap_value(m, i))->non_product != 0;
        for (int g = SF_GRAIN_MONTH; g < SF_GRAINS; g++) {
            k.grain = (uint8_t)g;
            memset(k.period + sf_grain_key_len((sf_grain)g), 0,
                   sizeof k.period - (size_t)sf_grain_key_len((sf_grain)g));
            product_val *v = sf_aggmap_get(m, &k, NULL);
            v->non_product |= np;
        }
    }
    return true;
}

sales_val *sf_wh_sales_of(wh_rollup *r, int g, const char *hour)
{
    sales_key k = {(uint8_t)g, {0}};
    memcpy(k.period, hour, (size_t)sf_grain_key_len((sf_grain)g));
    return sf_aggmap_get(&r->sales, &k, NULL);
}

static customer_val *customer_of(wh_rollup *r, int g, const char *hour, int32_t c)
{
    customer_key k = {(uint8_t)g, {0}, c};
    memcpy(k.period, hour, (size_t)sf_grain_key_len((sf_grain)g));
    return sf_aggmap_get(&r->customers, &k, NULL);
}

/* The hours an invoice is known to have (stored, then this transaction's). */
typedef struct known_hour {
    int32_t customer;
    char hour[HOUR_LEN + 1];
} known_hour;

typedef struct presence_state {
    known_hour *known;
    size_t n, cap;
    sf_buf text;
} presence_state;

static bool remember(presence_state *ps, int32_t c, const char *hour)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 64;
        known_hour *k = realloc(ps->known, cap * sizeof *k);
        if (!k)
            return false;
        ps->known = k, ps->cap = cap;
    }
    ps->known[ps->n].customer = c;
    memcpy(ps->known[ps->n].hour, hour, HOUR_LEN);
    ps->known[ps->n++].hour[HOUR_LEN] = '\0';
    return true;
}

static int known_row(void *ctx, int32_t c, const char *h, size_t len, sf_error *err)
{
    presence_state *ps = ctx;
    for (size_t at = 0; h && at + HOUR_LEN <= len; at += HOUR_LEN + 1)
        if (!remember(ps, c, h + at))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

/* Read the stored hours of invoice (every customer) into ps->known. */
static int load_known(wh_rollup *r, presence_state *ps, const char *invoice, sf_error *err)
{
    ps->n = 0;
    return r->store->presence_get(r->self, invoice, known_row, ps, err);
}

/* Count (invoice c, hour) where it is new: per bucket of every grain, one
 * more invoice unless the invoice already had an hour in it; one more
 * invoice of customer c unless (invoice, c) had. */
static bool count_new_hour(wh_rollup *r, presence_state *ps, int32_t c, const char *hour)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->known[i].customer == c && memcmp(ps->known[i].hour, hour, HOUR_LEN) == 0)
            return true; /* not new */
    for (int g = 0; g < SF_GRAINS; g++) {
        size_t len = (size_t)sf_grain_key_len((sf_grain)g);
        bool invoice_seen = false, customer_seen = false;
        for (size_t i = 0; i < ps->n; i++)
            if (memcmp(ps->known[i].hour, hour, len) == 0) {
                invoice_seen = true;
                customer_seen = customer_seen || ps->known[i].customer == c;
            }
        sales_val *s = invoice_seen ? NULL : sf_wh_sales_of(r, g, hour);
        if (s)
            s->invoices++;
        customer_val *cv = c == 0 || customer_seen ? NULL : customer_of(r, g, hour, c);
        if (cv)
            cv->invoices++;
        if ((!invoice_seen && !s) || (c != 0 && !customer_seen && !cv))
            return false;
    }
    return remember(ps, c, hour);
}

static int cmp_hour(const void *a, const void *b)
{
    return memcmp(((const known_hour *)a)->hour, ((const known_hour *)b)->hour, HOUR_LEN);
}

/* Store the sorted hours of (invoice, c). */
static int put_hours(wh_rollup *r, presence_state *ps, const char *invoice, int32_t c,
                     sf_error *err)
{
    qsort(ps->known, ps->n, sizeof *ps->known, cmp_hour);
    sf_buf_reset(&ps->text);
    for (size_t i = 0; i < ps->n; i++)
        if (ps->known[i].customer == c) {
            if (ps->text.len)
                sf_buf_add(&ps->text, ",", 1);
            sf_buf_add(&ps->text, ps->known[i].hour, HOUR_LEN);
        }
    if (sf_buf_failed(&ps->text))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return r->store->presence_put(r->self, invoice, c, ps->text.data, ps->text.len, err);
}

static int cmp_presence(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(presence_key));
}

/* Hand the store the distinct invoices of sorted keys[0..n) at once. */
static int prefetch(wh_rollup *r, const presence_key *keys, size_t n, sf_error *err)
{
    const char **invoices = malloc((n ? n : 1) * sizeof *invoices);
    if (!invoices)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(invoices[m - 1], keys[i].invoice) != 0)
            invoices[m++] = keys[i].invoice;
    int rc = r->store->presence_prefetch(r->self, invoices, m, err);
    free(invoices);
    return rc;
}

static int write_presence(wh_rollup *r, sf_error *err)
{
    size_t n = r->presence.count;
    presence_key *keys = malloc((n ? n : 1) * sizeof *keys);
    presence_state ps = {NULL, 0, 0, SF_BUF_INIT};
    if (!keys)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        memcpy(&keys[i], sf_aggmap_key(&r->presence, i), sizeof *keys);
    qsort(keys, n, sizeof *keys, cmp_presence);
    int rc = r->store->presence_prefetch ? prefetch(r, keys, n, err) : 0;
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        for (j = i; j < n && strcmp(keys[j].invoice, keys[i].invoice) == 0;)
            j++;
        rc = load_known(r, &ps, keys[i].invoice, err);
        for (size_t k = i; rc == 0 && k < j; k++)
            if (!count_new_hour(r, &ps, keys[k].customer, keys[k].hour))
                rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        for (size_t k = i; rc == 0 && k < j; k++)
            if (k == i || keys[k].customer != keys[k - 1].customer)
                rc = put_hours(r, &ps, keys[i].invoice, keys[k].customer, err);
    }
    free(keys);
    free(ps.known);
    sf_buf_free(&ps.text);
    return rc;
}

static int write_sales(wh_rollup *r, sf_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->sales.count; i++) {
        const sales_key *k = sf_aggmap_key(&r->sales, i);
        rc = r->store->sales_put(r->self, (sf_grain)k->grain, k->period,
                                 sf_aggmap_value(&r->sales, i), err);
    }
    return rc;
}

static int write_invoices(wh_rollup *r, sf_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->invoices.count; i++) {
        const invoice_key *k = sf_aggmap_key(&r->invoices, i);
        const invoice_val *v = sf_aggmap_value(&r->invoices, i);
        char date[SF_TIME_TEXT_LEN + 1];
        sf_time_format(v->first, date);
        rc = r->store->invoice_put(r->self, k->invoice, v->customer, date, v->revenue, v->units,
                                   v->lines, err);
    }
    return rc;
}

static int write_dims(wh_rollup *r, sf_error *err)
{
    char date[SF_TIME_TEXT_LEN + 1];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->dim_products.count; i++) {
        const dim_product_val *v = sf_aggmap_value(&r->dim_products, i);
        sf_time_format(v->seen, date);
        rc = r->store->dim_product_put(r->self, sf_aggmap_key(&r->dim_products, i), v->description,
                                       v->len, v->non_product != 0, date, err);
    }
    for (size_t i = 0; rc == 0 && i < r->dim_customers.count; i++) {
        const int32_t *c = sf_aggmap_key(&r->dim_customers, i);
        const dim_customer_val *v = sf_aggmap_value(&r->dim_customers, i);
        sf_time_format(v->seen, date);
        rc = r->store->dim_customer_put(r->self, *c, v->country, v->len, date, err);
    }
    for (size_t i = 0; rc == 0 && i < r->dim_dates.count; i++) {
        int64_t t = *(const int64_t *)sf_aggmap_key(&r->dim_dates, i) * 86400;
        sf_civil c;
        sf_civil_from_time(t, &c);
        sf_time_format(t, date);
        date[10] = '\0';
        rc = r->store->dim_date_put(r->self, date, c.year, c.month, c.day, sf_weekday(t), err);
    }
    return rc;
}

int sf_wh_rollup_write(wh_rollup *r, sf_error *err)
{
    if (!roll_up(&r->sales, SF_GRAIN_HOUR, add_sales) ||
        !roll_up(&r->customers, SF_GRAIN_HOUR, add_customer) || !roll_up_products(&r->products))
        return sf_error_set(err, SF_ENOMEM, "out of memory for the warehouse rollups");
    /* The ranked lists are merged a period at a time: sort their keys so
     * that each period's entries are adjacent. Invoices go to their table
     * in key order, which keeps its B-tree writes local. */
    if (!sf_aggmap_sort(&r->products) || !sf_aggmap_sort(&r->customers) ||
        !sf_aggmap_sort(&r->invoices))
        return sf_error_set(err, SF_ENOMEM, "out of memory for the warehouse rollups");
    memset(r->last, 0, sizeof r->last);
    int rc = write_presence(r, err);
    if (rc == 0)
        rc = sf_wh_write_customers(r, err);
    if (rc == 0)
        rc = write_sales(r, err);
    if (rc == 0)
        rc = sf_wh_write_products(r, err);
    if (rc == 0)
        rc = write_invoices(r, err);
    if (rc == 0)
        rc = write_dims(r, err);
    return rc;
}
