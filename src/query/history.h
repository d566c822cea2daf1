/*
 * history.h - customers' purchase history, read from the history store
 * port (storage/store/store.h: what the history sink writes), as the JSON
 * answers of the serving API (docs/api.md).
 *
 * Each answer is one read of the port, which never shows an invoice whose
 * totals disagree with its lines (for LMDB: one snapshot) even while the
 * sink writes. Money is written as exact decimal strings ("139.12"), never
 * binary floats.
 */
#ifndef SF_QUERY_HISTORY_H
#define SF_QUERY_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "storage/store/store.h"

/*
 * Append the invoice with all its lines to out. When owner is not
 * SF_NO_CUSTOMER the invoice must be that customer's. SF_ENOENT when there
 * is no such invoice, SF_EPERM when it is another customer's.
 */
int sf_history_invoice_json(sf_store *s, const char *invoice_no, size_t len, int32_t owner,
                            sf_buf *out, sf_error *err);

#define SF_HISTORY_PAGE_DEFAULT 20
#define SF_HISTORY_PAGE_MAX     1000
#define SF_HISTORY_CURSOR_MAX   (2 * (8 + 16)) /* hex of date and invoice number */

typedef struct sf_history_page {
    int32_t customer;
    int64_t from, to;   /* invoice dates to include, both inclusive */
    unsigned limit;     /* 1..SF_HISTORY_PAGE_MAX */
    const char *cursor; /* NULL, or next_cursor of the previous page */
} sf_history_page;

/*
 * Append one page of the customer's invoices, newest first, to out:
 * {"customer_id":..,"invoices":[..],"next_cursor":".."|null}. SF_ENOENT when
 * the customer has no invoice at all; SF_EINVAL for a cursor that is not one
 * this function gave.
 */
int sf_history_customer_json(sf_store *s, const sf_history_page *q, sf_buf *out, sf_error *err);

#endif
