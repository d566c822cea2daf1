/*
 * field.c - validating values into record fields (see field.h).
 *
 * Reasons quote the offending value (shortened, control bytes escaped) so a
 * person can find it in their file: `"2.5501" has more than 3 decimals`.
 */
#include "core/field.h"

#include <stdio.h>
#include <string.h>

#include "core/money.h"
#include "core/timefmt.h"

static const struct {
    const char *csv;  /* CSV header name */
    const char *json; /* canonical JSON key */
} names[SF_FIELD_COUNT] = {
    [SF_FIELD_INVOICE_NO] = {"InvoiceNo", "invoice_no"},
    [SF_FIELD_STOCK_CODE] = {"StockCode", "stock_code"},
    [SF_FIELD_DESCRIPTION] = {"Description", "description"},
    [SF_FIELD_QUANTITY] = {"Quantity", "quantity"},
    [SF_FIELD_INVOICE_DATE] = {"InvoiceDate", "invoice_date"},
    [SF_FIELD_UNIT_PRICE] = {"UnitPrice", "unit_price"},
    [SF_FIELD_CUSTOMER_ID] = {"CustomerID", "customer_id"},
    [SF_FIELD_COUNTRY] = {"Country", "country"},
    [SF_FIELD_EVENT_ID] = {"event_id", "event_id"},
};

const char *sf_field_name(sf_field f)
{
    return f >= 0 && f < SF_FIELD_COUNT ? names[f].csv : "?";
}

const char *sf_field_json_name(sf_field f)
{
    return f >= 0 && f < SF_FIELD_COUNT ? names[f].json : "?";
}

sf_field sf_field_lookup(const char *name, size_t len)
{
    /* Fold to lower case without separators: "Invoice_No" -> "invoiceno". */
    char k[16];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '_' || c == ' ' || c == '-' || c == '\t')
            continue;
        if (n == sizeof k)
            return SF_FIELD_NONE;
        k[n++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)
    if (IS("invoiceno"))
        return SF_FIELD_INVOICE_NO;
    if (IS("stockcode"))
        return SF_FIELD_STOCK_CODE;
    if (IS("description"))
        return SF_FIELD_DESCRIPTION;
    if (IS("quantity"))
        return SF_FIELD_QUANTITY;
    if (IS("invoicedate"))
        return SF_FIELD_INVOICE_DATE;
    if (IS("unitprice"))
        return SF_FIELD_UNIT_PRICE;
    if (IS("customerid"))
        return SF_FIELD_CUSTOMER_ID;
    if (IS("country"))
        return SF_FIELD_COUNTRY;
    if (IS("eventid"))
        return SF_FIELD_EVENT_ID;
#undef IS
    return SF_FIELD_NONE;
}

/* Quote a value for a message: at most 40 bytes, control bytes as \xNN. */
static void quote_value(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 40) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static int reject(char why[SF_REASON_MAX], const char *s, size_t len, const char *reason)
{
    char q[64];
    quote_value(s, len, q, sizeof q);
    snprintf(why, SF_REASON_MAX, "%s %s", q, reason);
    return -1;
}

static int say(char why[SF_REASON_MAX], const char *reason)
{
    snprintf(why, SF_REASON_MAX, "%s", reason);
    return -1;
}

/* A dataframe with a float column writes 536365 as "536365.0": drop an
 * all-zero fraction from a JSON number used as text. */
static size_t trim_zero_fraction(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    if (!dot)
        return len;
    for (const char *p = dot + 1; p < s + len; p++)
        if (*p != '0')
            return len;
    return (size_t)(dot - s);
}

static int set_text(char *dst, size_t cap, void *len_out, size_t len_size, sf_value_type type,
                    const char *s, size_t len, sf_encoding enc, int required,
                    char why[SF_REASON_MAX])
{
    if (type == SF_VALUE_BOOL)
        return say(why, "is a boolean, expected text");
    if (type == SF_VALUE_NULL) {
        if (required)
            return say(why, "is null");
        len = 0;
    }
    if (type == SF_VALUE_NUMBER)
        len = trim_zero_fraction(s, len);
    if (required && len == 0)
        return say(why, "is empty");
    const char *reason;
    int n = sf_text_copy(dst, cap, s, len, enc, &reason);
    if (n < 0) {
        if (strcmp(reason, "is too long") == 0)
            snprintf(why, SF_REASON_MAX, "is longer than %zu bytes", cap);
        else
            say(why, reason);
        return -1;
    }
    if (len_size == 1)
        *(uint8_t *)len_out = (uint8_t)n;
    else
        *(uint16_t *)len_out = (uint16_t)n;
    return 0;
}

/* "is beyond the limit of ±1,000,000,000": a per-line limit (record.h),
 * limit in whole units. */
static int beyond(char why[SF_REASON_MAX], const char *s, size_t len, int64_t limit)
{
    char text[SF_MONEY_TEXT_MAX], reason[96];
    sf_format_count(limit, text);
    snprintf(reason, sizeof reason, "is beyond the limit of ±%s", text);
    return reject(why, s, len, reason);
}

/* An integer in [min, max]; when limit, the range is one of the per-line
 * limits (symmetric) and is named as such. */
static int set_integer(int64_t *out, int64_t min, int64_t max, bool limit, sf_value_type type,
                       const char *s, size_t len, char why[SF_REASON_MAX])
{
    if (type == SF_VALUE_BOOL)
        return say(why, "is a boolean, expected a number");
    if (type == SF_VALUE_NULL)
        return say(why, "is null");
    switch (sf_parse_scaled(s, len, 0, min, max, out)) {
    case SF_NUM_OK:
        return 0;
    case SF_NUM_PRECISION:
        return reject(why, s, len, "is not a whole number");
    case SF_NUM_RANGE: {
        if (limit)
            return beyond(why, s, len, max);
        char reason[96];
        snprintf(reason, sizeof reason, "is out of range (%lld to %lld)", (long long)min,
                 (long long)max);
        return reject(why, s, len, reason);
    }
    default:
        return len == 0 ? say(why, "is empty") : reject(why, s, len, "is not an integer");
    }
}

static int set_price(sf_record *r, sf_value_type type, const char *s, size_t len,
                     char why[SF_REASON_MAX])
{
    if (type == SF_VALUE_BOOL)
        return say(why, "is a boolean, expected a number");
    if (type == SF_VALUE_NULL)
        return say(why, "is null");
    switch (sf_parse_scaled(s, len, 3, -SF_PRICE_MAX, SF_PRICE_MAX, &r->unit_price)) {
    case SF_NUM_OK:
        return 0;
    case SF_NUM_PRECISION:
        return reject(why, s, len, "has more than 3 decimals (prices are kept to 0.001)");
    case SF_NUM_RANGE:
        return beyond(why, s, len, SF_PRICE_MAX / 1000);
    default:
        return len == 0 ? say(why, "is empty") : reject(why, s, len, "is not a decimal number");
    }
}

static int set_date(sf_record *r, sf_value_type type, const char *s, size_t len,
                    char why[SF_REASON_MAX])
{
    const char *reason = NULL;
    if (type == SF_VALUE_BOOL || type == SF_VALUE_NULL)
        return say(why, type == SF_VALUE_NULL ? "is null" : "is a boolean, expected a date");
    if (type == SF_VALUE_NUMBER) {
        int64_t ms;
        if (sf_parse_scaled(s, len, 0, INT64_MIN, INT64_MAX, &ms) != SF_NUM_OK)
            return reject(why, s, len, "is not a whole number of epoch milliseconds");
        if (sf_time_from_epoch_ms(ms, &r->invoice_date, &reason) < 0)
            return reject(why, s, len, reason);
        return 0;
    }
    if (sf_time_parse(s, len, &r->invoice_date, &reason) < 0)
        return len == 0 ? say(why, "is empty") : reject(why, s, len, reason);
    return 0;
}

static int set_customer(sf_record *r, sf_value_type type, const char *s, size_t len,
                        char why[SF_REASON_MAX])
{
    /* Empty and null both mean "no customer" (135,080 rows of the data). */
    if (type == SF_VALUE_NULL || len == 0 || (type == SF_VALUE_TEXT && strspn(s, " \t") >= len)) {
        r->customer_id = SF_NO_CUSTOMER;
        return 0;
    }
    int64_t v;
    if (set_integer(&v, 1, INT32_MAX, false, type, s, len, why) < 0) /* record.h: > 0 */
        return -1;
    r->customer_id = (int32_t)v;
    return 0;
}

int sf_field_set(sf_record *r, sf_field f, sf_value_type type, const char *s, size_t len,
                 sf_encoding enc, char why[SF_REASON_MAX])
{
    int64_t v;
    switch (f) {
    case SF_FIELD_INVOICE_NO:
        return set_text(r->invoice_no, SF_INVOICE_NO_MAX, &r->invoice_no_len, 1, type, s, len, enc,
                        1, why);
    case SF_FIELD_STOCK_CODE:
        return set_text(r->stock_code, SF_STOCK_CODE_MAX, &r->stock_code_len, 1, type, s, len, enc,
                        1, why);
    case SF_FIELD_DESCRIPTION:
        return set_text(r->description, SF_DESCRIPTION_MAX, &r->description_len, 2, type, s, len,
                        enc, 0, why);
    case SF_FIELD_COUNTRY:
        return set_text(r->country, SF_COUNTRY_MAX, &r->country_len, 1, type, s, len, enc, 1, why);
    case SF_FIELD_EVENT_ID:
        return set_text(r->event_id, SF_EVENT_ID_MAX, &r->event_id_len, 1, type, s, len, enc, 0,
                        why);
    case SF_FIELD_QUANTITY:
        if (set_integer(&v, -SF_QUANTITY_MAX, SF_QUANTITY_MAX, true, type, s, len, why) < 0)
            return -1;
        r->quantity = (int32_t)v;
        return 0;
    case SF_FIELD_INVOICE_DATE:
        return set_date(r, type, s, len, why);
    case SF_FIELD_UNIT_PRICE:
        return set_price(r, type, s, len, why);
    case SF_FIELD_CUSTOMER_ID:
        return set_customer(r, type, s, len, why);
    default:
        return 0;
    }
}

int sf_record_finish(sf_record *r, uint32_t seen, sf_field *field, char why[SF_REASON_MAX])
{
    uint32_t missing = SF_FIELDS_REQUIRED & ~seen;
    if (missing) {
        *field = (sf_field)__builtin_ctz(missing);
        return say(why, "is missing");
    }
    /* Within their own limits the factors' product needs 70 bits. */
    sf_i128 amount = (sf_i128)r->quantity * r->unit_price;
    if (amount > SF_AMOUNT_MAX || amount < -SF_AMOUNT_MAX) {
        char a[SF_MONEY_TEXT_MAX], p[SF_MONEY_TEXT_MAX], limit[SF_MONEY_TEXT_MAX];
        sf_format_milli(amount, false, a);
        sf_format_milli(r->unit_price, false, p);
        sf_format_count(SF_AMOUNT_MAX / 1000, limit);
        *field = SF_FIELD_UNIT_PRICE;
        snprintf(why, SF_REASON_MAX,
                 "makes the line amount %d x %.20s = %.28s, beyond the limit of ±%.20s",
                 (int)r->quantity, p, a, limit);
        return -1;
    }
    sf_record_derive(r);
    return 0;
}
