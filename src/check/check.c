/*
 * check.c - accumulating the figures of `shopflow check` (see check.h).
 */
#include "check/check.h"

#include <stdlib.h>
#include <string.h>

#include "core/hashset.h"

enum {
    SET_INVOICE,
    SET_STOCK,
    SET_DESCRIPTION,
    SET_CUSTOMER,
    SET_COUNTRY,
    SET_DAY,
    SET_ROW,
    NSETS
};

struct sf_check {
    sf_check_figures f;
    sf_hashset sets[NSETS];
    /* The previous record's invoice and day: rows come grouped by invoice,
     * so most rows repeat both, and a repeat cannot add a distinct value. */
    char last_invoice[SF_INVOICE_NO_MAX + 1];
    uint8_t last_invoice_len;
    int64_t last_day;
    /* The previous row's hash, inserted into the row set one record late so
     * that its cache miss overlaps decoding the next record. */
    sf_hash128 pending_row;
    bool has_pending;
};

/* Insert the pending row hash, counting a duplicate. 0 or SF_ENOMEM. */
static int flush_row(sf_check *c)
{
    if (!c->has_pending)
        return 0;
    c->has_pending = false;
    bool added;
    int rc = sf_hashset_add_hash(&c->sets[SET_ROW], c->pending_row, &added);
    if (rc < 0)
        return rc;
    c->f.duplicate_rows += !added;
    return 0;
}

int sf_check_new(sf_check **out, sf_error *err)
{
    sf_check *c = calloc(1, sizeof *c);
    if (!c)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (int i = 0; i < NSETS; i++)
        sf_hashset_init(&c->sets[i]);
    *out = c;
    return 0;
}

void sf_check_free(sf_check *c)
{
    if (!c)
        return;
    for (int i = 0; i < NSETS; i++)
        sf_hashset_free(&c->sets[i]);
    free(c);
}

int sf_check_reserve(sf_check *c, uint64_t rows)
{
    const uint64_t most = 16u << 20;
    return sf_hashset_reserve(&c->sets[SET_ROW], (size_t)(rows < most ? rows : most));
}

/* Append a length-prefixed text to a key being built. */
static size_t put_text(char *key, size_t at, const char *s, size_t len)
{
    uint16_t n = (uint16_t)len;
    memcpy(key + at, &n, sizeof n);
    memcpy(key + at + sizeof n, s, len);
    return at + sizeof n + len;
}

/* The whole record but its event id, unambiguously, for duplicate rows. */
static size_t row_key(const sf_record *r, char *key)
{
    size_t at = 0;
    memcpy(key + at, &r->invoice_date, 8);
    memcpy(key + at + 8, &r->unit_price, 8);
    memcpy(key + at + 16, &r->quantity, 4);
    memcpy(key + at + 20, &r->customer_id, 4);
    at += 24;
    at = put_text(key, at, r->invoice_no, r->invoice_no_len);
    at = put_text(key, at, r->stock_code, r->stock_code_len);
    at = put_text(key, at, r->description, r->description_len);
    return put_text(key, at, r->country, r->country_len);
}

int sf_check_add(sf_check *c, const sf_record *r, sf_error *err)
{
    sf_check_figures *f = &c->f;
    f->revenue += sf_record_amount(r);
    f->quantity += r->quantity;
    if (f->rows == 0 || r->invoice_date < f->first)
        f->first = r->invoice_date;
    if (f->rows == 0 || r->invoice_date > f->last)
        f->last = r->invoice_date;
    f->rows++;
    f->cancellation_rows += r->kind == SF_KIND_CANCELLATION;
    f->adjustment_rows += r->kind == SF_KIND_ADJUSTMENT;
    f->no_customer_rows += (r->flags & SF_FLAG_NO_CUSTOMER) != 0;
    f->zero_price_rows += (r->flags & SF_FLAG_ZERO_PRICE) != 0;
    f->non_product_rows += (r->flags & SF_FLAG_NON_PRODUCT) != 0;
    f->negative_quantity_rows += r->quantity < 0;

    int64_t day =
        r->invoice_date >= 0 ? r->invoice_date / 86400 : -((-r->invoice_date + 86399) / 86400);
    char key[24 + 4 * 2 + SF_INVOICE_NO_MAX + SF_STOCK_CODE_MAX + SF_DESCRIPTION_MAX +
             SF_COUNTRY_MAX];
    /* The row set is far larger than the cache: start this row's miss now
     * and insert it with the next record (see struct sf_check). */
    sf_hash128 row = sf_hashset_hash(key, row_key(r, key));
    sf_hashset_prefetch(&c->sets[SET_ROW], row);
    int rc = flush_row(c); /* 0 or SF_ENOMEM, as each add: or'd, still one of them */
    c->pending_row = row;
    c->has_pending = true;
    rc |= sf_hashset_add(&c->sets[SET_STOCK], r->stock_code, r->stock_code_len, NULL);
    if (r->description_len)
        rc |= sf_hashset_add(&c->sets[SET_DESCRIPTION], r->description, r->description_len, NULL);
    /* Customer and country may differ between lines of one invoice in
     * arbitrary input, so only the invoice itself is skipped on a repeat. */
    if (r->customer_id != SF_NO_CUSTOMER)
        rc |= sf_hashset_add(&c->sets[SET_CUSTOMER], &r->customer_id, sizeof r->customer_id, NULL);
    rc |= sf_hashset_add(&c->sets[SET_COUNTRY], r->country, r->country_len, NULL);
    if (r->invoice_no_len != c->last_invoice_len ||
        memcmp(r->invoice_no, c->last_invoice, r->invoice_no_len) != 0) {
        rc |= sf_hashset_add(&c->sets[SET_INVOICE], r->invoice_no, r->invoice_no_len, NULL);
        memcpy(c->last_invoice, r->invoice_no, r->invoice_no_len);
        c->last_invoice_len = r->invoice_no_len;
    }
    if (f->rows == 1 || day != c->last_day) {
        rc |= sf_hashset_add(&c->sets[SET_DAY], &day, sizeof day, NULL);
        c->last_day = day;
    }
    if (rc < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory counting distinct values");
    return 0;
}

int sf_check_figures_get(sf_check *c, sf_check_figures *out, sf_error *err)
{
    if (flush_row(c) < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory counting duplicate rows");
    *out = c->f;
    out->invoices = sf_hashset_count(&c->sets[SET_INVOICE]);
    out->stock_codes = sf_hashset_count(&c->sets[SET_STOCK]);
    out->descriptions = sf_hashset_count(&c->sets[SET_DESCRIPTION]);
    out->customers = sf_hashset_count(&c->sets[SET_CUSTOMER]);
    out->countries = sf_hashset_count(&c->sets[SET_COUNTRY]);
    out->days = sf_hashset_count(&c->sets[SET_DAY]);
    return 0;
}
