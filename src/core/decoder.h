/*
 * decoder.h - turning bytes (CSV or JSON, in any chunks) into records.
 *
 * Decoders are push parsers: the caller feeds bytes as they arrive (a file
 * read in blocks, an HTTP body in pieces) and the decoder calls back once per
 * record, valid or not. This one interface serves `check`, `import` and the
 * gateway, and keeps memory flat however large the input is: one record is
 * decoded in place at a time and nothing is allocated per record.
 *
 * sf_decoder is the front door: it strips a UTF-8 byte-order mark, tells CSV
 * from JSON by the first non-blank byte ('{' or '[' is JSON) unless told, and
 * hands the bytes to the CSV decoder (csv.h) or the JSON decoder (json.h).
 *
 * Errors come in two kinds, both reported through the sink's on_error:
 *  - a record error (a bad value, a missing field, a row with too many
 *    cells): that record is skipped and decoding goes on with the next;
 *  - a fatal error (broken JSON syntax, a CSV header without a required
 *    column, an empty input): nothing after it can be decoded, and feed or
 *    finish return SF_EFORMAT with the same message in their sf_error.
 */
#ifndef SF_DECODER_H
#define SF_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/field.h"
#include "core/record.h"
#include "core/text.h"

typedef enum sf_format {
    SF_FORMAT_AUTO = 0, /* by the first non-blank byte */
    SF_FORMAT_CSV,
    SF_FORMAT_JSON, /* one object, an array of objects, or NDJSON */
} sf_format;

/* Parse "auto", "csv", "json", "ndjson"; -1 if unknown. */
int sf_format_parse(const char *name, sf_format *out);
const char *sf_format_name(sf_format f);

/* Where a record stands in its input. */
typedef struct sf_decode_pos {
    uint64_t line;  /* 1-based line where the record starts (CSV, JSON) */
    uint64_t index; /* 0-based: data row (CSV), element (JSON array) or document (NDJSON) */
} sf_decode_pos;

typedef struct sf_decode_error {
    sf_decode_pos pos;
    sf_field field;     /* the field at fault, or SF_FIELD_NONE */
    const char *reason; /* valid during the callback only */
    bool fatal;         /* nothing more will be decoded */
    bool by_index;      /* name the record by index (JSON arrays) rather than line */
} sf_decode_error;

/*
 * What a decoder calls. The record and error pointers are valid during the
 * call only. A callback returns 0 to go on, anything else to stop: the
 * decoder then returns SF_ESTOPPED from feed/finish and calls nothing more.
 * on_error may be NULL (errors are then only counted).
 */
typedef struct sf_decode_sink {
    int (*on_record)(void *ctx, const sf_record *rec, const sf_decode_pos *pos);
    int (*on_error)(void *ctx, const sf_decode_error *err);
    void *ctx;
} sf_decode_sink;

/* Write "line 12: Quantity: \"abc\" is not an integer" (or "record 3: ..."
 * for JSON arrays). Returns the length it would have written, as snprintf. */
int sf_decode_error_format(const sf_decode_error *e, char *buf, size_t cap);

/* The same, named in a file the way compilers do: "data.csv:12: Quantity:
 * ..." (or "data.json: record 3: ..."); source NULL is the form above. */
int sf_decode_error_format_in(const sf_decode_error *e, const char *source, char *buf, size_t cap);

typedef struct sf_decode_opts {
    sf_format format;     /* SF_FORMAT_AUTO unless the caller knows */
    sf_encoding encoding; /* text policy for CSV; JSON is UTF-8 by definition */
} sf_decode_opts;

/* Counts kept by every decoder. */
typedef struct sf_decode_stats {
    uint64_t records; /* records seen: valid + invalid */
    uint64_t invalid; /* records that had an error */
    uint64_t lines;   /* lines consumed so far */
    sf_format format; /* the format decoded (filled by sf_decoder_stats) */
} sf_decode_stats;

typedef struct sf_decoder sf_decoder;

/* Create a decoder that calls *sink (copied; sink->ctx is borrowed and must
 * outlive the decoder). The caller frees it with sf_decoder_free. */
int sf_decoder_new(const sf_decode_opts *opts, const sf_decode_sink *sink, sf_decoder **out,
                   sf_error *err);

/* Feed the next len bytes. Returns 0, SF_EFORMAT after a fatal error,
 * SF_ESTOPPED if a callback stopped it, SF_ENOMEM. Once it has returned an
 * error, every later call returns the same. */
int sf_decoder_feed(sf_decoder *d, const char *buf, size_t len, sf_error *err);

/* End of input: decodes what is left (a last line without a newline) and
 * reports an input that ended inside a record. Same returns as feed. */
int sf_decoder_finish(sf_decoder *d, sf_error *err);

/* The format in use; SF_FORMAT_AUTO until enough bytes have been seen. */
sf_format sf_decoder_format(const sf_decoder *d);

void sf_decoder_stats(const sf_decoder *d, sf_decode_stats *out);

void sf_decoder_free(sf_decoder *d);

/* Make d ready for a new input with opts (NULL: defaults) and sink (copied),
 * as if just made by sf_decoder_new, keeping its memory: a server that
 * decodes one small body after another then allocates nothing per body for
 * JSON. Returns 0, or SF_ENOMEM (then every feed and finish return it too,
 * until a reset succeeds). */
int sf_decoder_reset(sf_decoder *d, const sf_decode_opts *opts, const sf_decode_sink *sink,
                     sf_error *err);

struct sf_progress;

/*
 * Decode the file at path ("-" for standard input; gzip or not, see
 * input.h) through sink. When progress is not NULL it is updated as blocks
 * are read. *stats (may be NULL) receives the decoder's counts, also when an
 * error is returned. Returns 0, or the first failure: SF_ENOENT / SF_EIO
 * (cannot read, truncated gzip), SF_EFORMAT (fatal decode error),
 * SF_ESTOPPED (the sink stopped), each with its message in *err.
 */
int sf_decode_file(const char *path, const sf_decode_opts *opts, const sf_decode_sink *sink,
                   struct sf_progress *progress, sf_decode_stats *stats, sf_error *err);

/*
 * The same for len bytes in memory (an object read whole from an object
 * store): gzip (one member or several, inflated a block at a time, so the
 * inflated text is never held whole) or not. name stands for the bytes in
 * messages as path does for a file. Same returns as sf_decode_file; a
 * truncated or damaged gzip stream is SF_EIO.
 */
int sf_decode_bytes(const char *name, const void *data, size_t len, const sf_decode_opts *opts,
                    const sf_decode_sink *sink, sf_decode_stats *stats, sf_error *err);

#endif
