/*
 * archive.c - the archive sink: every record, raw, in NDJSON.gz objects (the
 * seed's Lambda that buffers records and writes them to S3).
 *
 * Records are buffered per partition as canonical JSON lines and written as
 * one object when the buffer reaches max_bytes, when its first record has
 * waited max_age_ms, when the next record is of another day, when the
 * stream is drained, or, the largest of them, when all partitions' open
 * objects together reach twice max_bytes (a bound on the sink's memory).
 * The object's key says what it holds:
 *
 *   raw/transactions/dt=YYYY-MM-DD/part-PPPP-FIRST-LAST.ndjson.gz
 *
 * with the partition and the first and last offsets zero-padded (keys sort
 * in stream order). The keys are the sink's stored position: on start it
 * lists them and resumes each partition after the highest LAST. A crash
 * loses only buffered records, which are read again, and an object is
 * written atomically (objects.h) before it counts, so every record lands in
 * exactly one object. Compression is deterministic (no time in the gzip
 * header), so the same records always make the same bytes.
 *
 * Speed: closed objects are compressed and put in the background, many at a
 * time with few device syncs, in an order that keeps "resume after the
 * highest LAST" exact (archive_writer.h); the default gzip level is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/pack.h"
#include "core/progress.h"
#include "core/timefmt.h"
#include "sinks/archive_writer.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"

#define PREFIX "raw/transactions/"

typedef struct buffer {
    char *text; /* NDJSON */
    size_t len, cap;
    uint64_t first, last;
    int64_t day;  /* days since the epoch of its records */
    double since; /* when its first record came */
    bool used;
} buffer;

typedef struct archive {
    sf_sink base;
    sf_objects *objects;
    sf_archive_opts opts;
    buffer *bufs;
    uint32_t nparts;
    uint64_t *resume_at; /* while listing */
    sf_archive_writer *writer;
    uint64_t buffered; /* NDJSON bytes in the open objects of all partitions */
} archive;

/* The open objects of all partitions hold at most this many times
 * max_bytes: past it the largest is closed. Without it, a stream with many
 * busy partitions and few days would buffer up to partitions x max_bytes
 * (128 MiB at the defaults), and as much again waiting to be compressed. */
#define BUFFERED_MAX_OBJECTS 2

static int64_t day_of(int64_t t)
{
    return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* "…/part-PPPP-FIRST-LAST.ndjson.gz": note partition and last offset. */
static int note_object(void *ctx, const char *key)
{
    archive *a = ctx;
    const char *name = strrchr(key, '/');
    unsigned part;
    unsigned long long first, last;
    if (name && sscanf(name, "/part-%u-%llu-%llu.ndjson.gz", &part, &first, &last) == 3 &&
        part < a->nparts && last + 1 > a->resume_at[part])
        a->resume_at[part] = last + 1;
    return 0;
}

static void free_buffers(archive *a)
{
    for (uint32_t p = 0; a->bufs && p < a->nparts; p++)
        free(a->bufs[p].text);
    free(a->bufs);
    a->bufs = NULL;
}

static int archive_resume(sf_sink *s, uint64_t *next, uint32_t nparts, sf_error *err)
{
    archive *a = (archive *)s;
    sf_archive_writer_free(a->writer);
    a->writer = NULL;
    free_buffers(a); /* a run that failed may leave records buffered: read again */
    a->buffered = 0;
    a->bufs = calloc(nparts, sizeof *a->bufs);
    if (!a->bufs)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int rc = sf_archive_writer_new(a->objects, a->opts.gzip_level, nparts, &a->writer, err);
    if (rc < 0)
        return rc;
    a->nparts = nparts;
    a->resume_at = next;
    for (uint32_t p = 0; p < nparts; p++)
        next[p] = 0;
    rc = sf_objects_list(a->objects, PREFIX, note_object, a, err);
    a->resume_at = NULL;
    return rc;
}

/* Close partition p's open object: it goes to the writer. */
static int close_object(archive *a, uint32_t p, sf_error *err)
{
    buffer *b = &a->bufs[p];
    if (!b->used)
        return 0;
    char date[SF_TIME_TEXT_LEN + 1], key[128];
    sf_time_format(b->day * 86400, date);
    date[10] = '\0';
    snprintf(key, sizeof key, PREFIX "dt=%s/part-%04u-%020llu-%020llu.ndjson.gz", date, p,
             (unsigned long long)b->first, (unsigned long long)b->last);
    b->used = false;
    a->buffered -= b->len;
    return sf_archive_writer_add(a->writer, p, b->day, key, &b->text, &b->len, &b->cap, err);
}

static int append_line(buffer *b, const char *json, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *t = realloc(b->text, cap);
        if (!t)
            return -1;
        b->text = t;
        b->cap = cap;
    }
    memcpy(b->text + b->len, json, n);
    b->text[b->len + n] = '\n';
    b->len += n + 1;
    return 0;
}

/* Over the budget of buffered bytes: close the largest open object. */
static int close_largest(archive *a, sf_error *err)
{
    uint32_t big = 0;
    for (uint32_t p = 1; p < a->nparts; p++)
        if (a->bufs[p].used && (!a->bufs[big].used || a->bufs[p].len > a->bufs[big].len))
            big = p;
    return close_object(a, big, err);
}

static int archive_apply(sf_sink *s, uint32_t p, const sf_stream_batch *batch, sf_error *err)
{
    archive *a = (archive *)s;
    buffer *b = &a->bufs[p];
    char json[SF_JSON_RECORD_MAX];
    for (size_t i = 0; i < batch->count; i++) {
        const sf_stream_entry *e = &batch->entries[i];
        sf_record r;
        int rc = sf_stream_entry_record(e, p, &r, err);
        if (rc < 0)
            return rc;
        int64_t day = day_of(r.invoice_date);
        /* After a hole (offsets lost for good, stream.h) a new object: an
         * object holds LAST - FIRST + 1 records, as its name says. */
        if (b->used && (day != b->day || b->len >= a->opts.max_bytes || e->offset != b->last + 1) &&
            (rc = close_object(a, p, err)) < 0)
            return rc;
        int n = sf_json_encode(&r, json, sizeof json);
        if (!b->used) {
            *b = (buffer){b->text, 0, b->cap, e->offset, e->offset, day, sf_monotonic(), true};
        }
        if (n < 0 || append_line(b, json, (size_t)n) < 0)
            return sf_error_set(err, SF_ENOMEM, "archive: out of memory buffering");
        b->last = e->offset;
        a->buffered += (uint64_t)n + 1;
        if (a->buffered > BUFFERED_MAX_OBJECTS * a->opts.max_bytes &&
            (rc = close_largest(a, err)) < 0)
            return rc;
    }
    return 0;
}

static int archive_flush(sf_sink *s, bool all, sf_error *err)
{
    archive *a = (archive *)s;
    double now = sf_monotonic();
    for (uint32_t p = 0; p < a->nparts; p++) {
        buffer *b = &a->bufs[p];
        bool due = b->used && (all || b->len >= a->opts.max_bytes ||
                               (now - b->since) * 1000 >= a->opts.max_age_ms);
        int rc = due ? close_object(a, p, err) : 0;
        if (rc < 0)
            return rc;
    }
    return sf_archive_writer_flush(a->writer, all, err);
}

static void archive_close(sf_sink *s)
{
    archive *a = (archive *)s;
    free_buffers(a);
    sf_archive_writer_free(a->writer);
    free(a);
}

static const sf_sink_ops archive_ops = {
    .name = "archive",
    .resume = archive_resume,
    .apply = archive_apply,
    .flush = archive_flush,
    .close = archive_close,
};

int sf_archive_sink_new(sf_objects *objects, const sf_archive_opts *opts, sf_sink **out,
                        sf_error *err)
{
    archive *a = calloc(1, sizeof *a);
    if (!a)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    a->base.ops = &archive_ops;
    a->objects = objects;
    if (opts)
        a->opts = *opts;
    if (!a->opts.max_bytes)
        a->opts.max_bytes = 16u << 20;
    if (!a->opts.max_age_ms)
        a->opts.max_age_ms = 60000;
    if (a->opts.gzip_level < 1 || a->opts.gzip_level > 9)
        a->opts.gzip_level = SF_ARCHIVE_GZIP_LEVEL;
    *out = &a->base;
    return 0;
}
