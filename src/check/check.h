/*
 * check.h - the figures `shopflow check` reports about a set of records.
 *
 * Fed one valid record at a time (straight from a decoder's callback), it
 * keeps counts, sums and distinct-value sets (hashset.h), so memory grows
 * with the number of distinct values, not with the rows. The figures are the
 * ones the dataset's documentation publishes, so a file can be compared with
 * them at a glance.
 */
#ifndef SF_CHECK_H
#define SF_CHECK_H

#include <stdint.h>

#include "core/error.h"
#include "core/money.h"
#include "core/record.h"

typedef struct sf_check_figures {
    uint64_t rows; /* valid records added */
    uint64_t invoices, stock_codes, descriptions, customers, countries, days;
    int64_t first, last; /* earliest and latest invoice date; 0 when rows == 0 */
    sf_i128 quantity;    /* sum of quantities (128 bits: money.h) */
    sf_i128 revenue;     /* sum of quantity x unit price, milli-units, net */
    uint64_t cancellation_rows, adjustment_rows, no_customer_rows, duplicate_rows, zero_price_rows,
        non_product_rows, negative_quantity_rows;
} sf_check_figures;

typedef struct sf_check sf_check;

/* The caller frees *out with sf_check_free. */
int sf_check_new(sf_check **out, sf_error *err);

/* Size the duplicate-row set for about `rows` records up front (a hint that
 * saves rehashing; capped at 16 million). Returns 0 or SF_ENOMEM. */
int sf_check_reserve(sf_check *c, uint64_t rows);

/* Account for one valid record. "Duplicate" means equal in every field to a
 * record added before (the event id aside). Returns 0 or SF_ENOMEM (the
 * sums cannot overflow: money.h). */
int sf_check_add(sf_check *c, const sf_record *r, sf_error *err);

/* The figures so far (completes pending work, hence not const).
 * Returns 0 or SF_ENOMEM. */
int sf_check_figures_get(sf_check *c, sf_check_figures *out, sf_error *err);

void sf_check_free(sf_check *c);

#endif
