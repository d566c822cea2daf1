/*
 * support.h - helpers shared by the unit tests: a decode sink that records
 * every callback, drivers that feed a text to a decoder in chunks, hand-made
 * records, and temporary directories.
 *
 * Include after <cmocka.h> (and its prerequisites).
 */
#ifndef SF_UNIT_SUPPORT_H
#define SF_UNIT_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/decoder.h"
#include "core/pos.h"

/* Stream positions of the local log and Kafka are 64-bit offsets: a
 * position from one (ut_pos, or UT_AT as a const sf_pos *), and back
 * (ut_off, which fails the test when the position is wider). */
static inline sf_pos ut_pos(uint64_t v)
{
    sf_pos p;
    sf_pos_from_u64(&p, v);
    return p;
}
#define UT_AT(v) ((const sf_pos[]){ut_pos(v)})
uint64_t ut_off(const sf_pos *p);

#define UT_HEADER                                                                                  \
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

/* 2010-12-01 08:26:00 in seconds since the epoch. */
#define UT_T0 INT64_C(1291191960)

/* One callback as the sink saw it. */
typedef struct ut_event {
    bool is_error;
    sf_decode_pos pos;
    sf_record rec;  /* records only */
    sf_field field; /* errors only */
    bool fatal, by_index;
    char reason[SF_ERROR_MSG_MAX];
    char msg[SF_ERROR_MSG_MAX]; /* sf_decode_error_format */
} ut_event;

typedef struct ut_sink {
    ut_event *ev;
    size_t n, cap;
    size_t nrec, nerr;
    size_t stop_at;         /* return nonzero from callback number stop_at (1-based); 0: never */
    size_t calls;           /* callbacks so far */
    bool called_after_stop; /* a callback came after one returned nonzero */
    int rc;                 /* what the decode returned */
    sf_error err;           /* its message */
    sf_decode_stats stats;  /* the decoder's counts at the end */
} ut_sink;

void ut_sink_init(ut_sink *s);
void ut_sink_free(ut_sink *s);
sf_decode_sink ut_sink_callbacks(ut_sink *s);

/* The i-th record / error seen (fails the test when there is none). */
const sf_record *ut_rec(const ut_sink *s, size_t i);
const ut_event *ut_rec_event(const ut_sink *s, size_t i);
const ut_event *ut_err(const ut_sink *s, size_t i);

/* Which decoder a driver uses. */
typedef enum ut_path {
    UT_FRONT = 0, /* sf_decoder (BOM, sniffing) */
    UT_CSV,       /* sf_csv_decoder directly */
    UT_JSON,      /* sf_json_decoder directly */
} ut_path;

typedef struct ut_cfg {
    ut_path path;
    sf_format format;     /* UT_FRONT only */
    sf_encoding encoding; /* UT_FRONT and UT_CSV */
    bool slow;            /* UT_CSV: fast path off */
    size_t chunk;         /* bytes per feed; 0: one feed */
} ut_cfg;

/* Decode text[0..len) as cfg says into s, which was set up by ut_sink_init
 * and is reset here (keeping stop_at and its buffer). Returns s->rc. */
int ut_decode_cfg(const char *text, size_t len, const ut_cfg *cfg, ut_sink *s);

/* The NUL-terminated text through sf_decoder in one feed. */
int ut_decode(const char *text, sf_format format, sf_encoding enc, ut_sink *s);

/* Fail unless a and b saw the same callbacks, counts and result. */
void ut_assert_same(const ut_sink *a, const ut_sink *b);

/* Fail unless text, fed in chunks of every size from 1 byte up through
 * each of paths[0..n) (their chunk field is set here), gives exactly what
 * one feed through whole gives. The detected format is compared only
 * between the same paths: the direct decoders do not fill it. */
void ut_assert_chunk_invariant(const char *text, size_t len, const ut_cfg *whole,
                               const ut_cfg *paths, size_t n);

/* A record built by hand, derived (kind and flags), no event id. */
void ut_make(sf_record *r, const char *invoice, const char *stock, const char *desc,
             int32_t quantity, int64_t date, int64_t price, int32_t customer, const char *country);

/* Record i of a made-up series: invoice 536000 + i / 5 (five lines an
 * invoice), event id "ev-i", a minute apart from UT_T0. */
void ut_make_numbered(sf_record *r, int i);

/* A fresh directory under /tmp; ut_tmpdir_remove deletes it and all below it. */
#define UT_PATH_MAX 256
void ut_tmpdir(char dir[UT_PATH_MAX]);
void ut_tmpdir_remove(const char *dir);
void ut_join(char out[UT_PATH_MAX], const char *dir, const char *name);
void ut_write_file(const char *path, const void *data, size_t len);

/*
 * A port's contract tests, run once for each of its adapters: every test of
 * tests[0..n) with each row of rows[0..nrows) (row_size bytes each; a row
 * starts with its adapter's name, a const char *) as its state, named
 * "ADAPTER: TEST", in one group. Returns what cmocka's group run returns.
 */
struct CMUnitTest;
int ut_run_per_adapter(const char *group, const struct CMUnitTest *tests, size_t n,
                       const void *rows, size_t row_size, size_t nrows);

/* The lines a history store holds (every invoice's, through the port). */
struct sf_store;
long ut_history_lines(struct sf_store *st);

/* Write data gzip-compressed as `members` gzip members (concatenated). */
void ut_write_gzip(const char *path, const void *data, size_t len, int members);

#endif
