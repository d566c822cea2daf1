/*
 * builder.h - the record under construction, shared by the CSV and JSON
 * decoders (internal to src/core).
 *
 * A decoder begins a record, sets the values it finds, and ends it; the
 * builder keeps the first error of the record, validates through field.h,
 * and calls the sink with either the record or the error. Keeping this in one
 * place is what makes both formats count, name and report records alike.
 */
#ifndef SF_BUILDER_H
#define SF_BUILDER_H

#include "core/decoder.h"

typedef struct sf_builder {
    sf_record rec;
    sf_decode_pos pos;
    uint32_t seen;       /* bit per field already given */
    bool failed;         /* the record has an error */
    bool by_index;       /* how to name records in errors */
    sf_field err_field;  /* the first error's field */
    sf_encoding enc;     /* text policy */
    sf_decode_sink sink; /* copied from the caller */
    sf_decode_stats stats;
    int status;     /* 0, SF_ESTOPPED or SF_EFORMAT: sticky */
    sf_error fatal; /* the fatal error's message, when status is SF_EFORMAT */
    char why[SF_REASON_MAX];
} sf_builder;

void sf_builder_init(sf_builder *b, const sf_decode_sink *sink, sf_encoding enc);

/* Start a record at line, index. */
void sf_builder_begin(sf_builder *b, uint64_t line, uint64_t index);

/* Set a value; ignored once the record has failed. */
void sf_builder_set(sf_builder *b, sf_field f, sf_value_type type, const char *s, size_t len);

/* Fail the record with a reason of the decoder's own (keeps the first). */
void sf_builder_fail(sf_builder *b, sf_field f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Finish the record: calls on_record or on_error. Returns b->status. */
int sf_builder_end(sf_builder *b);

/* Report a fatal input error at line (index used when by_index) and make
 * the decoder's status SF_EFORMAT. Returns SF_EFORMAT (or SF_ESTOPPED). */
int sf_builder_fatal(sf_builder *b, uint64_t line, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copy a sticky failure into *err; returns b->status. */
int sf_builder_status(const sf_builder *b, sf_error *err);

#endif
