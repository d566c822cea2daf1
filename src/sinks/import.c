/*
 * import.c - batch import of files (see import.h).
 */
#include "sinks/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/filehash.h"

#define BATCH 4096

typedef struct validate_ctx {
    int (*on_error)(void *ctx, const sf_decode_error *e);
    void *ctx;
} validate_ctx;

static int validate_error(void *ctx, const sf_decode_error *e)
{
    validate_ctx *v = ctx;
    return v->on_error ? v->on_error(v->ctx, e) : 0;
}

typedef struct appender {
    sf_stream *s;
    sf_dedup *d;
    const char *hash;
    sf_record *batch;
    size_t n;
    sf_import_result *res;
    sf_error err;
    int rc;
} appender;

/* Append the batch; commit its event ids on success, release them if not. */
static int flush(appender *a)
{
    if (a->n == 0)
        return 0;
    int rc = sf_stream_append(a->s, a->batch, a->n, NULL, NULL, &a->err);
    for (size_t i = 0; i < a->n; i++) {
        if (rc == 0)
            sf_dedup_commit(a->d, a->batch[i].event_id, a->batch[i].event_id_len);
        else
            sf_dedup_release(a->d, a->batch[i].event_id, a->batch[i].event_id_len);
    }
    if (rc == 0)
        a->res->imported += a->n;
    a->n = 0;
    return a->rc = rc;
}

static int append_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    appender *a = ctx;
    sf_record *out = &a->batch[a->n];
    *out = *r;
    if (!out->event_id_len) /* records that carry an event id keep it */
        out->event_id_len = (uint8_t)snprintf(out->event_id, sizeof out->event_id, "imp-%s-%llu",
                                              a->hash, (unsigned long long)pos->index);
    switch (sf_dedup_reserve(a->d, out->event_id, out->event_id_len)) {
    case SF_DEDUP_NEW:
        a->n++;
        break;
    case SF_DEDUP_SEEN:
        a->res->duplicates++;
        break;
    default: /* held by another import of the same file: it will land */
        a->rc = sf_error_set(&a->err, SF_EBUSY, "row %llu is being imported by another import",
                             (unsigned long long)pos->index);
        return 1;
    }
    return a->n == BATCH ? flush(a) != 0 : 0;
}

int sf_import_file(sf_stream *s, sf_dedup *d, const char *path, const sf_decode_opts *opts,
                   int (*on_error)(void *ctx, const sf_decode_error *e), void *ctx,
                   struct sf_progress *progress, sf_import_result *res, sf_error *err)
{
    memset(res, 0, sizeof *res);
    char hash[SF_FILE_HASH_LEN];
    int rc = sf_file_content_hash(path, hash, err);
    if (rc < 0)
        return rc;
    validate_ctx v = {on_error, ctx};
    sf_decode_sink check = {NULL, validate_error, &v};
    sf_decode_stats st;
    rc = sf_decode_file(path, opts, &check, NULL, &st, err);
    res->rows = st.records;
    res->invalid = st.invalid;
    if (rc < 0)
        return rc;
    if (st.invalid)
        return sf_error_set(err, SF_EINVAL, "%s: %llu of %llu rows are invalid; nothing imported",
                            path, (unsigned long long)st.invalid, (unsigned long long)st.records);
    appender a = {.s = s, .d = d, .hash = hash, .res = res};
    if (!(a.batch = malloc(BATCH * sizeof *a.batch)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    sf_decode_sink load = {append_record, NULL, &a};
    rc = sf_decode_file(path, opts, &load, progress, NULL, err);
    if (rc == 0)
        rc = flush(&a);
    if (a.rc < 0) { /* the stream's error, not "stopped" */
        rc = a.rc;
        *err = a.err;
        sf_error_prefix(err, "%s: ", path);
    }
    for (size_t i = 0; i < a.n; i++) /* a batch never appended */
        sf_dedup_release(d, a.batch[i].event_id, a.batch[i].event_id_len);
    free(a.batch);
    return rc;
}
