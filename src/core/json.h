/*
 * json.h - records as JSON: the decoder for what clients send, and the
 * encoder for shopflow's canonical form.
 *
 * Decoder (yajl, streaming). Input is one object, an array of objects, or a
 * stream of objects (NDJSON; any whitespace between them). Keys are matched
 * as in field.h (CSV header names or snake_case); unknown keys are ignored,
 * whatever their value. yajl hands numbers over as their literal text, which
 * keeps prices exact: 2.55 is 2550 milli-units, not 2.54999... Values may be
 * strings or numbers; CustomerID may also be "" or null (no customer);
 * InvoiceDate may be epoch milliseconds. Records in an array are named by
 * their 0-based index in errors, others by the line they start on. A string
 * value with a surrogate escape that is not half of a pair (\ud800 alone,
 * or before anything but \udc00-\udfff; \udc00-\udfff alone) is invalid:
 * "lone surrogate escape \ud800 at line 1, column 18" (columns count bytes,
 * after a byte-order mark); yajl would have stored it as another character.
 *
 * Encoder. The canonical form, used by the stream and the archive, is one
 * object per record with snake_case keys in a fixed order, the price as an
 * exact decimal string and the date in the canonical text form:
 *   {"invoice_no":"536365","stock_code":"85123A","description":"WHITE ...",
 *    "quantity":6,"invoice_date":"2010-12-01 08:26:00","unit_price":"2.55",
 *    "customer_id":17850,"country":"United Kingdom"}
 * "event_id" comes first when the record has one; customer_id is null when
 * absent. Decoding the encoding gives back an equal record.
 */
#ifndef SF_JSON_H
#define SF_JSON_H

#include "core/decoder.h"

typedef struct sf_json_decoder sf_json_decoder;

/* The caller frees *out with sf_json_decoder_free. sink is copied. */
int sf_json_decoder_new(const sf_decode_sink *sink, sf_json_decoder **out, sf_error *err);
int sf_json_feed(sf_json_decoder *d, const char *buf, size_t len, sf_error *err);
int sf_json_finish(sf_json_decoder *d, sf_error *err);
void sf_json_stats(const sf_json_decoder *d, sf_decode_stats *out);
void sf_json_decoder_free(sf_json_decoder *d);

/* Make d ready for a new input, as if new with sink (copied), reusing its
 * memory: yajl's allocations come from an arena inside d (arena.h), so a
 * reset and a small input call no malloc. SF_ENOMEM: d then holds no
 * parser, and may only be reset again or freed. */
int sf_json_decoder_reset(sf_json_decoder *d, const sf_decode_sink *sink, sf_error *err);

/* The canonical encoding of one record is at most this long: every text at
 * its longest with every byte escaped as \u00XX, plus keys and numbers. */
#define SF_JSON_RECORD_MAX                                                                         \
    (6 * (SF_INVOICE_NO_MAX + SF_STOCK_CODE_MAX + SF_DESCRIPTION_MAX + SF_COUNTRY_MAX +            \
          SF_EVENT_ID_MAX) +                                                                       \
     256)

/*
 * Write the canonical JSON of r (no newline) into buf, which holds cap
 * bytes, and NUL-terminate it. Returns the length, or -1 if cap is too small
 * (never with cap >= SF_JSON_RECORD_MAX). No allocation.
 */
int sf_json_encode(const sf_record *r, char *buf, size_t cap);

/* Write s (NUL-terminated, UTF-8) as a JSON string with its quotes into out
 * (cap bytes, NUL-terminated), cutting it short rather than overflowing.
 * Returns the length written. */
size_t sf_json_quote(const char *s, char *out, size_t cap);

#endif
