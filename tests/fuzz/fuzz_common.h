/*
 * fuzz_common.h - what the decoder fuzz targets share: recording what a
 * decoder reports, comparing it with another run of the same input, and the
 * checks every valid record must pass.
 *
 * A "run" decodes one input once. The first run of an input records its
 * events (records and errors, in order) into a trace; every later run of the
 * same input compares each event with the trace as it arrives and abort()s at
 * the first difference, printing both sides, so libFuzzer keeps the input.
 * Compared: records with sf_record_equal and their positions; errors by their
 * sf_decode_error_format text, fatal flag and position; then the first
 * failing return of feed/finish with its message, and the decoder's counts.
 */
#ifndef SF_FUZZ_COMMON_H
#define SF_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/decoder.h"

typedef struct fz_event {
    bool is_error;
    bool fatal;
    sf_decode_pos pos;
    sf_record *rec; /* a record (is_error false) */
    char *msg;      /* sf_decode_error_format text (is_error true) */
} fz_event;

typedef struct fz_trace {
    fz_event *ev;
    size_t n, cap;
    int rc;                     /* first non-zero return of feed/finish, or 0 */
    char msg[SF_ERROR_MSG_MAX]; /* its sf_error message */
    sf_decode_stats stats;      /* counts after finish */
} fz_trace;

typedef struct fz_run {
    const char *name;
    const fz_trace *ref; /* compare with this; NULL: record into trace */
    fz_trace trace;      /* events are kept only when recording */
    size_t seen;         /* events delivered so far */
    size_t stop_after;   /* when non-zero, the sink stops at this event */
    bool stopped;
} fz_run;

/* A decoder seen through three functions, so one driver serves the CSV
 * decoder, the JSON decoder and sf_decoder. */
typedef struct fz_decoder_ops {
    int (*feed)(void *d, const char *buf, size_t len, sf_error *err);
    int (*finish)(void *d, sf_error *err);
    void (*stats)(const void *d, sf_decode_stats *out);
} fz_decoder_ops;

extern const fz_decoder_ops fz_sf_decoder_ops;

void fz_run_init(fz_run *r, const char *name, const fz_trace *ref, size_t stop_after);
void fz_run_free(fz_run *r);

/* The sink to create the run's decoder with. */
sf_decode_sink fz_run_sink(fz_run *r);

/*
 * Feed in[0..n) to dec and finish it. With chunk == 0 the input goes in two
 * feeds, [0, split) and [split, n) (either may be empty); otherwise in pieces
 * of chunk bytes. Feeding goes on after a failure, to check the documented
 * stickiness: once a call has failed, every later call returns the same.
 */
void fz_drive(fz_run *r, void *dec, const fz_decoder_ops *ops, const char *in, size_t n,
              size_t split, size_t chunk);

/* After fz_drive of a comparing run: the end must match the reference (or,
 * for a stopping run, the decoder must have stopped as documented). */
void fz_run_check(const fz_run *r);

/*
 * For every record of t: the invariants record.h promises, then its
 * canonical JSON (sf_json_encode, also checked at an exact-size buffer) must
 * decode through the JSON decoder to an equal record, nothing else.
 */
void fz_roundtrip(const fz_trace *t);

/* Report a failed check and abort(). */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
