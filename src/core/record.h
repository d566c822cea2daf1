/*
 * record.h - one transaction line of the retailer's data (DESIGN §2).
 *
 * An sf_record is a fixed-size value: every text field lives inline with its
 * length, so decoders fill one record in place per row and nothing on the
 * decode path allocates. The size limits below are far above anything in the
 * real data (longest description: 36 bytes) and are checked by the decoders,
 * which name the field when a value is too long.
 *
 * Invariants of a record that a decoder hands out:
 *  - every text field is valid UTF-8 without NUL bytes, NUL-terminated, and
 *    its *_len is its length in bytes; descriptions are kept byte-exact,
 *    trailing spaces included;
 *  - invoice_no, stock_code and country are not empty;
 *  - unit_price is in milli-units (2.55 -> 2550), never a double;
 *  - |quantity| <= SF_QUANTITY_MAX, |unit_price| <= SF_PRICE_MAX and
 *    |quantity x unit_price| <= SF_AMOUNT_MAX (the per-line limits below):
 *    a line's amount is an exact int64, and sums over lines are kept in 128
 *    bits (money.h says why none can wrap);
 *  - invoice_date is seconds since 1970-01-01 00:00:00 of the shop's clock
 *    (the data has no zone; it is never converted);
 *  - kind and flags agree with the fields (sf_record_derive).
 */
#ifndef SF_RECORD_H
#define SF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_INVOICE_NO_MAX  16
#define SF_STOCK_CODE_MAX  32
#define SF_DESCRIPTION_MAX 512
#define SF_COUNTRY_MAX     64
#define SF_EVENT_ID_MAX    64

/*
 * The per-line limits (docs/api.md, "Limits"), enforced by field.h for every
 * input. Far above the data (its largest |Quantity| is 80,995, its largest
 * UnitPrice 38,970; wholesale orders stay well inside), and chosen so that
 * a line's amount is exact in an int64 with room to spare: at most 10^15
 * milli-units (a trillion pounds), 9,223 times below INT64_MAX. Totals are
 * 128-bit, so no number of such lines can wrap one.
 */
#define SF_QUANTITY_MAX 1000000000                /* |Quantity| <= 10^9 */
#define SF_PRICE_MAX    INT64_C(1000000000000)    /* |UnitPrice| <= 10^9, milli */
#define SF_AMOUNT_MAX   INT64_C(1000000000000000) /* |amount| <= 10^12, milli */

#define SF_NO_CUSTOMER (-1)

typedef enum sf_kind {
    SF_KIND_SALE = 0,         /* an ordinary invoice */
    SF_KIND_CANCELLATION = 1, /* InvoiceNo starts with 'C' */
    SF_KIND_ADJUSTMENT = 2,   /* InvoiceNo starts with 'A' (bad-debt adjustments) */
} sf_kind;

enum sf_record_flags {
    SF_FLAG_NON_PRODUCT = 1u << 0, /* postage, fees, discounts, manual lines... */
    SF_FLAG_ZERO_PRICE = 1u << 1,  /* unit price is exactly 0 */
    SF_FLAG_NO_CUSTOMER = 1u << 2, /* CustomerID was empty */
};

typedef struct sf_record {
    int64_t invoice_date; /* seconds since the epoch, shop time */
    int64_t unit_price;   /* milli-units */
    int32_t quantity;     /* may be negative */
    int32_t customer_id;  /* > 0, or SF_NO_CUSTOMER */
    uint8_t kind;         /* sf_kind */
    uint8_t flags;        /* sf_record_flags */
    uint8_t invoice_no_len;
    uint8_t stock_code_len;
    uint8_t country_len;
    uint8_t event_id_len; /* 0: the record has no event id */
    uint16_t description_len;
    char invoice_no[SF_INVOICE_NO_MAX + 1];
    char stock_code[SF_STOCK_CODE_MAX + 1];
    char country[SF_COUNTRY_MAX + 1];
    char event_id[SF_EVENT_ID_MAX + 1];
    char description[SF_DESCRIPTION_MAX + 1];
} sf_record;

/* Make *r an empty record (every text empty, no customer). Cheap: touches
 * only the scalars and the first byte of each text. */
void sf_record_clear(sf_record *r);

/* Compute kind and flags from the fields. Decoders call it; code that builds
 * records by hand must too. */
void sf_record_derive(sf_record *r);

/* quantity x unit_price in milli-units (exact; see the invariant above). */
static inline int64_t sf_record_amount(const sf_record *r)
{
    return (int64_t)r->quantity * r->unit_price;
}

/* True when every field (event id included) is equal. */
bool sf_record_equal(const sf_record *a, const sf_record *b);

/* True for the stock codes that are not products (data/README.md): POST,
 * DOT, M, m, D, C2, S, B, CRUK, PADS, AMAZONFEE, BANK CHARGES, gift_0001_*,
 * DCGS*. */
bool sf_stock_code_is_non_product(const char *code, size_t len);

/* "sale", "cancellation" or "adjustment". */
const char *sf_kind_name(sf_kind kind);

#endif
