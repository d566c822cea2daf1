/*
 * field.h - the record's fields by name, and the one place where a value
 * from any input format is validated into a record.
 *
 * The CSV and JSON decoders only find values; every rule about what a value
 * may be lives here, so both formats accept exactly the same things and give
 * exactly the same reasons. Values arrive as bytes plus a type: CSV cells and
 * JSON strings are TEXT, JSON numbers keep their literal text as NUMBER (so a
 * price is never rounded through a double), JSON null is NULL.
 *
 * Field names are matched ignoring case, spaces, '-' and '_', so the CSV
 * header's "InvoiceNo", snake_case "invoice_no" and "INVOICE NO" are one name.
 */
#ifndef SF_FIELD_H
#define SF_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/text.h"

typedef enum sf_field {
    SF_FIELD_NONE = -1, /* a name that is not one of ours: ignored */
    SF_FIELD_INVOICE_NO = 0,
    SF_FIELD_STOCK_CODE,
    SF_FIELD_DESCRIPTION,
    SF_FIELD_QUANTITY,
    SF_FIELD_INVOICE_DATE,
    SF_FIELD_UNIT_PRICE,
    SF_FIELD_CUSTOMER_ID,
    SF_FIELD_COUNTRY,
    SF_FIELD_EVENT_ID,
    SF_FIELD_COUNT
} sf_field;

typedef enum sf_value_type {
    SF_VALUE_TEXT,   /* a CSV cell or a JSON string */
    SF_VALUE_NUMBER, /* a JSON number, as its literal text */
    SF_VALUE_NULL,   /* JSON null */
    SF_VALUE_BOOL,   /* JSON true/false: never valid, reported as such */
} sf_value_type;

/* Bit (1u << field) set for each field a record must have. Description,
 * CustomerID and event_id may be absent. */
#define SF_FIELDS_REQUIRED                                                                         \
    ((1u << SF_FIELD_INVOICE_NO) | (1u << SF_FIELD_STOCK_CODE) | (1u << SF_FIELD_QUANTITY) |       \
     (1u << SF_FIELD_INVOICE_DATE) | (1u << SF_FIELD_UNIT_PRICE) | (1u << SF_FIELD_COUNTRY))

/* The CSV header name ("InvoiceNo"); "event_id" for the event id. */
const char *sf_field_name(sf_field f);

/* The canonical JSON name ("invoice_no"). */
const char *sf_field_json_name(sf_field f);

/* The field a column or key name denotes, or SF_FIELD_NONE. */
sf_field sf_field_lookup(const char *name, size_t len);

/* Longest reason sf_field_set and sf_record_finish write, NUL included. */
#define SF_REASON_MAX 160

/*
 * Validate one value and store it into field f of *r. Text fields go through
 * sf_text_copy with the encoding policy enc. Returns 0, or -1 with a reason
 * for people in why (`"abc" is not an integer`), which never names the field
 * or the record: the caller adds both.
 */
int sf_field_set(sf_record *r, sf_field f, sf_value_type type, const char *s, size_t len,
                 sf_encoding enc, char why[SF_REASON_MAX]);

/*
 * Complete a record once all of its values are set: seen has bit (1u << f)
 * for each field that was given. Checks that required fields are present and
 * that the line amount is in range, then derives kind and flags. Returns 0,
 * or -1 with *field and why naming the problem.
 */
int sf_record_finish(sf_record *r, uint32_t seen, sf_field *field, char why[SF_REASON_MAX]);

#endif
