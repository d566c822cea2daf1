/*
 * csv.h - the CSV decoder (RFC 4180, on libcsv).
 *
 * The first row is the header; columns are mapped by name (field.h: any
 * order, any case, snake_case too; unknown columns ignored). A header missing
 * a required column, or naming one twice, is a fatal error naming it. Each
 * later row is one record; a row with a different number of cells than the
 * header is a record error. Blank lines are skipped; LF, CRLF and CR line
 * ends are all accepted; quoted cells may hold commas, doubled quotes and
 * line breaks. Cells are never trimmed: descriptions keep trailing spaces.
 *
 * Most use goes through sf_decoder (decoder.h), which also strips a BOM.
 */
#ifndef SF_CSV_H
#define SF_CSV_H

#include "core/decoder.h"

typedef struct sf_csv_decoder sf_csv_decoder;

/* The caller frees *out with sf_csv_decoder_free. sink is copied. */
int sf_csv_decoder_new(sf_encoding enc, const sf_decode_sink *sink, sf_csv_decoder **out,
                       sf_error *err);

/* As sf_decoder_feed / sf_decoder_finish. */
int sf_csv_feed(sf_csv_decoder *d, const char *buf, size_t len, sf_error *err);
int sf_csv_finish(sf_csv_decoder *d, sf_error *err);

void sf_csv_stats(const sf_csv_decoder *d, sf_decode_stats *out);

/*
 * Lines without a quote character are split on commas directly instead of
 * going through libcsv, which is several times slower per byte; for such a
 * line the two give the same cells by RFC 4180's rules. On by default; tests
 * and the fuzzer turn it off to compare both paths.
 */
void sf_csv_set_fast_path(sf_csv_decoder *d, bool on);

void sf_csv_decoder_free(sf_csv_decoder *d);

/* ---- encoding (csv_encode.c) ---- */

/* The header line of the rows sf_csv_encode writes, with its line end. */
#define SF_CSV_HEADER                                                                              \
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,event_id\n"

/* The longest row sf_csv_encode writes: every text at its longest, all
 * quotes (so doubled) and quoted, plus the numbers and commas. */
#define SF_CSV_RECORD_MAX                                                                          \
    (2 * (SF_INVOICE_NO_MAX + SF_STOCK_CODE_MAX + SF_DESCRIPTION_MAX + SF_COUNTRY_MAX +            \
          SF_EVENT_ID_MAX) +                                                                       \
     128)

/*
 * Write r as one row under SF_CSV_HEADER (no line end) into buf, which holds
 * cap bytes, and NUL-terminate it. A text cell is quoted only when it holds
 * a comma, a quote or a line break; no customer and no event id are empty
 * cells. sf_csv decodes the row back to the same record. Returns the
 * length, or -1 if cap is too small (never with cap >= SF_CSV_RECORD_MAX).
 */
int sf_csv_encode(const sf_record *r, char *buf, size_t cap);

#endif
