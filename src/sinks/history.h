/*
 * history.h - the history sink's data: invoices, their lines, and each
 * customer's invoices by date (layout in history.c), and the helpers that
 * read it back (for the serving API and the tests).
 */
#ifndef SF_HISTORY_H
#define SF_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/money.h"
#include "core/record.h"
#include "storage/store/store.h"

struct sf_sink;

/* An invoice as the history store keeps it (its stored forms: history.c). */
typedef struct sf_invoice_header {
    int64_t date;        /* of its first line */
    sf_i128 total;       /* sum of quantity x price, milli-units (128 bits: money.h) */
    sf_i128 units;       /* sum of quantities */
    int32_t customer_id; /* of its first line; SF_NO_CUSTOMER if none */
    uint32_t lines;      /* lines stored */
    uint8_t kind;        /* sf_kind */
    uint8_t country_len;
    char country[SF_COUNTRY_MAX + 1];
} sf_invoice_header;

/* The key of an invoice's header; key holds 1 + SF_INVOICE_NO_MAX bytes. */
size_t sf_history_invoice_key(const char *invoice_no, size_t len, uint8_t *key);

/* The prefix of a customer's index keys; key holds 5 bytes. */
size_t sf_history_customer_prefix(int32_t customer, uint8_t *key);

/* Read a stored header, of either version (history.c). -1 if damaged. */
int sf_history_decode_header(const void *val, size_t len, sf_invoice_header *h);

/* The history sink over store (borrowed; outlives the sink). */
int sf_history_sink_new(sf_store *store, struct sf_sink **out, sf_error *err);

#endif
