/*
 * pack.h - the binary form of a record, as stored in the stream log.
 *
 * The log holds records in this form rather than as JSON so that sinks read
 * them back with a few loads and copies instead of parsing (about 95 bytes a
 * record for the bundled data, against 205 as canonical JSON). Layout, all
 * integers little-endian:
 *
 *   offset size  field
 *   0      1     format version (SF_PACK_VERSION)
 *   1      1     kind
 *   2      1     flags
 *   3      1     event_id_len
 *   4      8     invoice_date (int64)
 *   12     8     unit_price (int64, milli-units)
 *   20     4     quantity (int32)
 *   24     4     customer_id (int32, -1 = none)
 *   28     1     invoice_no_len
 *   29     1     stock_code_len
 *   30     1     country_len
 *   31     2     description_len
 *   33     ...   event_id, invoice_no, stock_code, country, description (no NULs)
 *
 * Unpacking checks every length against the record limits and the buffer, so
 * a corrupt entry is refused, never read past.
 *
 * The -1s below are answers ("not a packed record", "does not fit"), not
 * SF_E* codes: no caller passes one on; each says what it means
 * (SF_ECORRUPT naming the entry, or a record set aside).
 */
#ifndef SF_PACK_H
#define SF_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"

#define SF_PACK_VERSION 1
#define SF_PACK_HEADER  33
#define SF_PACK_MAX                                                                                \
    (SF_PACK_HEADER + SF_EVENT_ID_MAX + SF_INVOICE_NO_MAX + SF_STOCK_CODE_MAX + SF_COUNTRY_MAX +   \
     SF_DESCRIPTION_MAX)

/* Write r into buf (cap bytes); returns the length, or -1 if cap is too small
 * (never with cap >= SF_PACK_MAX). */
int sf_record_pack(const sf_record *r, uint8_t *buf, size_t cap);

/* The event id and invoice number inside a packed record, without unpacking
 * it (pointers into buf, not NUL-terminated). -1 if buf is not well-formed
 * enough to say. */
int sf_packed_keys(const uint8_t *buf, size_t len, const char **event_id, size_t *event_id_len,
                   const char **invoice_no, size_t *invoice_no_len);

/* The packed length of r (what sf_record_pack will write). */
size_t sf_record_packed_size(const sf_record *r);

/* Read a record from buf[0..len) into *r; returns 0, or -1 if the bytes are
 * not a well-formed packed record of this version (length mismatch included). */
int sf_record_unpack(const uint8_t *buf, size_t len, sf_record *r);

#endif
