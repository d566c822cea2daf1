/*
 * record.c - derived properties of a record: kind, flags, equality.
 *
 * The non-product list comes from the dataset's documentation (data/README.md).
 * It is matched exactly and case-sensitively: "M" (manual) and "m" are both in
 * the data and both listed, while "DCGS" and "gift_0001_" are prefixes of
 * families of codes.
 */
#include "core/record.h"

#include <string.h>

void sf_record_clear(sf_record *r)
{
    r->invoice_date = 0;
    r->unit_price = 0;
    r->quantity = 0;
    r->customer_id = SF_NO_CUSTOMER;
    r->kind = SF_KIND_SALE;
    r->flags = 0;
    r->invoice_no_len = r->stock_code_len = r->country_len = r->event_id_len = 0;
    r->description_len = 0;
    r->invoice_no[0] = r->stock_code[0] = r->country[0] = r->event_id[0] = '\0';
    r->description[0] = '\0';
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

bool sf_stock_code_is_non_product(const char *code, size_t len)
{
    static const char *const exact[] = {"POST", "DOT", "M",    "m",    "D",         "C2",
                                        "S",    "B",   "CRUK", "PADS", "AMAZONFEE", "BANK CHARGES"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strlen(exact[i]) == len && memcmp(exact[i], code, len) == 0)
            return true;
    return has_prefix(code, len, "gift_0001_") || has_prefix(code, len, "DCGS");
}

void sf_record_derive(sf_record *r)
{
    if (r->invoice_no_len > 0 && r->invoice_no[0] == 'C')
        r->kind = SF_KIND_CANCELLATION;
    else if (r->invoice_no_len > 0 && r->invoice_no[0] == 'A')
        r->kind = SF_KIND_ADJUSTMENT;
    else
        r->kind = SF_KIND_SALE;

    uint8_t flags = 0;
    if (sf_stock_code_is_non_product(r->stock_code, r->stock_code_len))
        flags |= SF_FLAG_NON_PRODUCT;
    if (r->unit_price == 0)
        flags |= SF_FLAG_ZERO_PRICE;
    if (r->customer_id == SF_NO_CUSTOMER)
        flags |= SF_FLAG_NO_CUSTOMER;
    r->flags = flags;
}

static bool text_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

bool sf_record_equal(const sf_record *a, const sf_record *b)
{
    return a->invoice_date == b->invoice_date && a->unit_price == b->unit_price &&
           a->quantity == b->quantity && a->customer_id == b->customer_id && a->kind == b->kind &&
           a->flags == b->flags &&
           text_equal(a->invoice_no, a->invoice_no_len, b->invoice_no, b->invoice_no_len) &&
           text_equal(a->stock_code, a->stock_code_len, b->stock_code, b->stock_code_len) &&
           text_equal(a->description, a->description_len, b->description, b->description_len) &&
           text_equal(a->country, a->country_len, b->country, b->country_len) &&
           text_equal(a->event_id, a->event_id_len, b->event_id, b->event_id_len);
}

const char *sf_kind_name(sf_kind kind)
{
    switch (kind) {
    case SF_KIND_CANCELLATION:
        return "cancellation";
    case SF_KIND_ADJUSTMENT:
        return "adjustment";
    default:
        return "sale";
    }
}
