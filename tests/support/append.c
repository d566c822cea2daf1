/*
 * append.c - test support: append the records of a file to a stream log.
 *
 *   sf_test_append LOGDIR FILE [BATCH] [PARTITIONS]
 *
 * Decodes FILE (CSV or JSON, gzip or not) and appends its valid records in
 * batches of BATCH (default 500) with sf_stream_append, printing one line per
 * acknowledged batch: "ack FIRST_INDEX COUNT". Tests use it to fill logs and,
 * killed at random moments, to check that what was acknowledged survives.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/decoder.h"
#include "stream/stream.h"

typedef struct appender {
    sf_stream *s;
    sf_record *batch;
    size_t n, cap;
    uint64_t done;
    int failed;
} appender;

static int flush(appender *a)
{
    if (a->n == 0)
        return 0;
    sf_error err = {0};
    if (sf_stream_append(a->s, a->batch, a->n, NULL, NULL, &err) < 0) {
        fprintf(stderr, "append: %s\n", err.msg);
        a->failed = 1;
        return -1;
    }
    printf("ack %llu %zu\n", (unsigned long long)a->done, a->n);
    fflush(stdout);
    a->done += a->n;
    a->n = 0;
    return 0;
}

static int on_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    (void)pos;
    appender *a = ctx;
    a->batch[a->n++] = *r;
    return a->n == a->cap ? flush(a) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sf_test_append LOGDIR FILE [BATCH] [PARTITIONS]\n");
        return 2;
    }
    appender a = {.cap = argc > 3 ? (size_t)atol(argv[3]) : 500};
    sf_stream_opts opts = {.partitions = argc > 4 ? (uint32_t)atol(argv[4]) : 0};
    sf_error err = {0};
    if (a.cap == 0 || !(a.batch = calloc(a.cap, sizeof *a.batch)))
        return 2;
    if (sf_stream_open(argv[1], &opts, &a.s, &err) < 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    sf_decode_sink sink = {on_record, NULL, &a};
    int rc = sf_decode_file(argv[2], NULL, &sink, NULL, NULL, &err);
    if (rc == 0)
        flush(&a);
    else
        fprintf(stderr, "decode: %s\n", err.msg);
    sf_stream_close(a.s);
    free(a.batch);
    return rc || a.failed ? 1 : 0;
}
