/*
 * bench_decode.c - decode and encode throughput, with the data in memory.
 *
 *   bench_decode [-n RUNS] FILE.csv[.gz]
 *
 * The file is read and decompressed into memory first (zlib), so no I/O and
 * no inflation is timed. Then each case runs RUNS times (default 5) and the
 * best, mean and standard deviation of the wall time are printed:
 *
 *   csv (fast path)   the CSV decoder as shipped (quote-free lines split
 *                     directly, the rest through libcsv)
 *   csv (libcsv)      the same with the fast path off: every line through
 *                     libcsv, as a baseline
 *   json decode       the JSON decoder on NDJSON in shopflow's canonical form,
 *                     made here by sf_json_encode of every decoded CSV record
 *   json encode       sf_json_encode of every record (records in memory)
 *
 * Decoders are fed 1 MiB at a time, the block size sf_input reads, and the
 * sink only counts. Every run must see every row valid, or the bench fails.
 * rows/s and MB/s are from the best run; MB is 10^6 bytes of the input
 * decoded (or, for encode, of JSON written).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_time.h"
#include "core/csv.h"
#include "core/decoder.h"
#include "core/json.h"

#define FEED_BLOCK (1024 * 1024)

typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_decode: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void buffer_reserve(buffer *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1 << 20;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        die("%s", "out of memory");
    b->data = p;
    b->cap = cap;
}

/* The whole file, decompressed when it is gzip (gzread reads both). */
static buffer read_file(const char *path)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        die("cannot open %s", path);
    gzbuffer(gz, 1 << 20);
    buffer b = {0};
    for (;;) {
        buffer_reserve(&b, 1 << 20);
        int n = gzread(gz, b.data + b.len, 1 << 20);
        if (n < 0) {
            int errnum;
            die("read error: %s", gzerror(gz, &errnum));
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
    }
    gzclose(gz);
    return b;
}

/* ---- sinks ------------------------------------------------------------ */

typedef struct counts {
    uint64_t records, errors;
    sf_record *keep; /* when set, records are copied here */
    size_t keep_cap;
} counts;

static int count_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    (void)pos;
    counts *c = ctx;
    if (c->keep) {
        if (c->records == c->keep_cap) {
            c->keep_cap *= 2;
            c->keep = realloc(c->keep, c->keep_cap * sizeof *c->keep);
            if (!c->keep)
                die("%s", "out of memory");
        }
        c->keep[c->records] = *r;
    }
    c->records++;
    return 0;
}

static int count_error(void *ctx, const sf_decode_error *e)
{
    counts *c = ctx;
    if (c->errors++ == 0) {
        char msg[SF_ERROR_MSG_MAX];
        sf_decode_error_format(e, msg, sizeof msg);
        fprintf(stderr, "bench_decode: first error: %s\n", msg);
    }
    return 0;
}

/* ---- the cases -------------------------------------------------------- */

static void feed_blocks(int (*feed)(void *, const char *, size_t, sf_error *),
                        int (*finish)(void *, sf_error *), void *d, const buffer *in)
{
    sf_error err;
    for (size_t off = 0; off < in->len; off += FEED_BLOCK) {
        size_t n = in->len - off < FEED_BLOCK ? in->len - off : FEED_BLOCK;
        if (feed(d, in->data + off, n, &err) != 0)
            die("decode failed: %s", err.msg);
    }
    if (finish(d, &err) != 0)
        die("decode failed: %s", err.msg);
}

static int csv_feed(void *d, const char *p, size_t n, sf_error *e)
{
    return sf_csv_feed(d, p, n, e);
}

static int csv_finish(void *d, sf_error *e)
{
    return sf_csv_finish(d, e);
}

static int json_feed(void *d, const char *p, size_t n, sf_error *e)
{
    return sf_json_feed(d, p, n, e);
}

static int json_finish(void *d, sf_error *e)
{
    return sf_json_finish(d, e);
}

static counts decode_csv(const buffer *in, bool fast, sf_record *keep, size_t keep_cap)
{
    counts c = {0, 0, keep, keep_cap};
    sf_decode_sink sink = {count_record, count_error, &c};
    sf_csv_decoder *d;
    sf_error err;
    if (sf_csv_decoder_new(SF_ENC_AUTO, &sink, &d, &err) != 0)
        die("%s", err.msg);
    sf_csv_set_fast_path(d, fast);
    feed_blocks(csv_feed, csv_finish, d, in);
    sf_csv_decoder_free(d);
    return c;
}

static counts decode_json(const buffer *in)
{
    counts c = {0};
    sf_decode_sink sink = {count_record, count_error, &c};
    sf_json_decoder *d;
    sf_error err;
    if (sf_json_decoder_new(&sink, &d, &err) != 0)
        die("%s", err.msg);
    feed_blocks(json_feed, json_finish, d, in);
    sf_json_decoder_free(d);
    return c;
}

/* Encode every record into out (reused: the JSON is the bench's input too). */
static void encode_all(const sf_record *recs, size_t n, buffer *out)
{
    out->len = 0;
    for (size_t i = 0; i < n; i++) {
        buffer_reserve(out, SF_JSON_RECORD_MAX + 1);
        int len = sf_json_encode(&recs[i], out->data + out->len, SF_JSON_RECORD_MAX);
        if (len < 0)
            die("%s", "sf_json_encode failed");
        out->len += (size_t)len;
        out->data[out->len++] = '\n';
    }
}

/* ---- timing ----------------------------------------------------------- */

typedef struct result {
    const char *name;
    double best, mean, sd;
    uint64_t rows;
    size_t bytes;
} result;

enum { CASE_CSV_FAST, CASE_CSV_LIBCSV, CASE_JSON_DECODE, CASE_JSON_ENCODE };

typedef struct bench {
    const buffer *csv;
    buffer *json;
    const sf_record *recs;
    size_t nrecs;
} bench;

static uint64_t run_case(const bench *b, int which)
{
    counts c;
    switch (which) {
    case CASE_CSV_FAST:
        c = decode_csv(b->csv, true, NULL, 0);
        break;
    case CASE_CSV_LIBCSV:
        c = decode_csv(b->csv, false, NULL, 0);
        break;
    case CASE_JSON_DECODE:
        c = decode_json(b->json);
        break;
    default:
        encode_all(b->recs, b->nrecs, b->json);
        return b->nrecs;
    }
    if (c.errors || c.records != b->nrecs) {
        fprintf(stderr, "bench_decode: %llu records and %llu errors, expected %zu records\n",
                (unsigned long long)c.records, (unsigned long long)c.errors, b->nrecs);
        exit(1);
    }
    return c.records;
}

static result measure(const bench *b, int which, const char *name, size_t bytes, int runs)
{
    result r = {name, 1e30, 0, 0, 0, bytes};
    double sum = 0, sum2 = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = bench_now();
        r.rows = run_case(b, which);
        double t = bench_now() - t0;
        if (t < r.best)
            r.best = t;
        sum += t;
        sum2 += t * t;
    }
    r.mean = sum / runs;
    double var = runs > 1 ? (sum2 - sum * sum / runs) / (runs - 1) : 0;
    r.sd = var > 0 ? sqrt(var) : 0;
    return r;
}

static void print_result(const result *r)
{
    printf("%-20s %10.4f %10.4f %9.4f %14.0f %10.1f\n", r->name, r->best, r->mean, r->sd,
           (double)r->rows / r->best, (double)r->bytes / 1e6 / r->best);
}

int main(int argc, char **argv)
{
    int runs = 5, opt;
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt == 'n' && (runs = atoi(optarg)) > 0)
            continue;
        fprintf(stderr, "usage: bench_decode [-n RUNS] FILE.csv[.gz]\n");
        return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: bench_decode [-n RUNS] FILE.csv[.gz]\n");
        return 2;
    }
    const char *path = argv[optind];

    double t0 = bench_now();
    buffer csv = read_file(path);
    double t_read = bench_now() - t0;

    /* Setup, untimed: the records, and their canonical NDJSON. */
    size_t cap = 1 << 16;
    sf_record *recs = malloc(cap * sizeof *recs);
    if (!recs)
        die("%s", "out of memory");
    counts c = decode_csv(&csv, true, recs, cap);
    recs = c.keep;
    if (c.errors || c.records == 0) {
        fprintf(stderr, "bench_decode: %s: %llu records, %llu errors\n", path,
                (unsigned long long)c.records, (unsigned long long)c.errors);
        return 1;
    }
    buffer json = {0};
    bench b = {&csv, &json, recs, (size_t)c.records};
    encode_all(recs, b.nrecs, &json);
    size_t json_bytes = json.len;

    printf("bench_decode: %s\n", path);
    printf("  %zu bytes of CSV (read and inflated in %.3f s, untimed), %zu rows;\n", csv.len,
           t_read, b.nrecs);
    printf("  canonical NDJSON of the same rows: %zu bytes\n", json_bytes);
    printf("  %d runs per case; best, mean and sd of wall time; rows/s and MB/s (10^6 B) "
           "from the best\n\n",
           runs);
    printf("%-20s %10s %10s %9s %14s %10s\n", "case", "best s", "mean s", "sd s", "rows/s", "MB/s");

    result r[4];
    r[0] = measure(&b, CASE_CSV_FAST, "csv (fast path)", csv.len, runs);
    r[1] = measure(&b, CASE_CSV_LIBCSV, "csv (libcsv only)", csv.len, runs);
    r[2] = measure(&b, CASE_JSON_DECODE, "json decode", json_bytes, runs);
    r[3] = measure(&b, CASE_JSON_ENCODE, "json encode", json_bytes, runs);
    for (int i = 0; i < 4; i++)
        print_result(&r[i]);
    if (json.len != json_bytes)
        die("%s", "the encoding changed between runs");

    free(json.data);
    free(csv.data);
    free(recs);
    return 0;
}
