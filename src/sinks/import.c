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
    sf_import_on_error on_error;
    void *ctx;
} validate_ctx;

static int validate_error(void *ctx, const sf_decode_error *e)
{
    validate_ctx *v = ctx;
    return v->on_error ? v->on_error(v->ctx, e) : 0;
}

int sf_import_validate(const char *path, const sf_decode_opts *opts, sf_import_on_error on_error,
                       void *ctx, sf_decode_stats *st, sf_error *err)
{
    validate_ctx v = {on_error, ctx};
    sf_decode_sink check = {NULL, validate_error, &v};
    int rc = sf_decode_file(path, opts, &check, NULL, st, err);
    if (rc == 0 && st->invalid)
        rc = sf_error_set(err, SF_EINVAL, "%s: %llu of %llu rows are invalid; nothing imported",
                          path, (unsigned long long)st->invalid, (unsigned long long)st->records);
    return rc;
}

struct sf_importer {
    sf_stream *s;
    sf_dedup *d;
    const char *prefix; /* of the file being added */
    uint64_t base;
    sf_record *batch;
    size_t n;
    uint64_t imported, duplicates;
    sf_error err;
    int rc;
};

int sf_importer_new(sf_stream *s, sf_dedup *d, sf_importer **out, sf_error *err)
{
    sf_importer *im = calloc(1, sizeof *im);
    if (!im || !(im->batch = malloc(BATCH * sizeof *im->batch))) {
        free(im);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    im->s = s;
    im->d = d;
    *out = im;
    return 0;
}

/* Append the batch; commit its event ids on success, release them if not. */
static int append_batch(sf_importer *im)
{
    if (im->n == 0)
        return 0;
    int rc = sf_stream_append(im->s, im->batch, im->n, NULL, NULL, &im->err);
    for (size_t i = 0; i < im->n; i++) {
        if (rc == 0)
            sf_dedup_commit(im->d, im->batch[i].event_id, im->batch[i].event_id_len);
        else
            sf_dedup_release(im->d, im->batch[i].event_id, im->batch[i].event_id_len);
    }
    if (rc == 0)
        im->imported += im->n;
    im->n = 0;
    return im->rc = rc;
}

static int append_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    sf_importer *im = ctx;
    sf_record *out = &im->batch[im->n];
    *out = *r;
    if (!out->event_id_len) { /* records that carry an event id keep it */
        int n = snprintf(out->event_id, sizeof out->event_id, "%s%llu", im->prefix,
                         (unsigned long long)(im->base + pos->index));
        if (n <= 0 || (size_t)n >= sizeof out->event_id) {
            im->rc = sf_error_set(&im->err, SF_EINVAL, "event id prefix too long");
            return 1;
        }
        out->event_id_len = (uint8_t)n;
    }
    switch (sf_dedup_reserve(im->d, out->event_id, out->event_id_len)) {
    case SF_DEDUP_NEW:
        im->n++;
        break;
    case SF_DEDUP_SEEN:
        im->duplicates++;
        break;
    default: /* held by another import of the same file: it will land */
        im->rc = sf_error_set(&im->err, SF_EBUSY, "row %llu is being imported by another import",
                              (unsigned long long)pos->index);
        return 1;
    }
    return im->n == BATCH ? append_batch(im) != 0 : 0;
}

int sf_importer_add_file(sf_importer *im, const char *path, const sf_decode_opts *opts,
                         const char *id_prefix, uint64_t id_base, struct sf_progress *progress,
                         sf_error *err)
{
    im->prefix = id_prefix;
    im->base = id_base;
    sf_decode_sink load = {append_record, NULL, im};
    int rc = sf_decode_file(path, opts, &load, progress, NULL, err);
    if (im->rc < 0) { /* the stream's (or the id's) error, not "stopped" */
        rc = im->rc;
        *err = im->err;
        sf_error_prefix(err, "%s: ", path);
    }
    return rc;
}

int sf_importer_flush(sf_importer *im, sf_error *err)
{
    int rc = append_batch(im);
    if (rc < 0)
        *err = im->err;
    return rc;
}

void sf_importer_totals(const sf_importer *im, uint64_t *imported, uint64_t *duplicates)
{
    *imported = im->imported;
    *duplicates = im->duplicates;
}

void sf_importer_free(sf_importer *im)
{
    if (!im)
        return;
    for (size_t i = 0; i < im->n; i++) /* a batch never appended */
        sf_dedup_release(im->d, im->batch[i].event_id, im->batch[i].event_id_len);
    free(im->batch);
    free(im);
}

int sf_import_file(sf_stream *s, sf_dedup *d, const char *path, const sf_decode_opts *opts,
                   sf_import_on_error on_error, void *ctx, struct sf_progress *progress,
                   sf_import_result *res, sf_error *err)
{
    memset(res, 0, sizeof *res);
    res->input_error = true; /* until the input has been read whole */
    char hash[SF_FILE_HASH_LEN], prefix[SF_FILE_HASH_LEN + 8];
    int rc = sf_file_content_hash(path, hash, err);
    if (rc < 0)
        return rc;
    sf_decode_stats st = {0};
    rc = sf_import_validate(path, opts, on_error, ctx, &st, err);
    res->rows = st.records;
    res->invalid = st.invalid;
    if (rc < 0)
        return rc;
    res->input_error = false;
    sf_importer *im = NULL;
    if ((rc = sf_importer_new(s, d, &im, err)) < 0)
        return rc;
    snprintf(prefix, sizeof prefix, "imp-%s-", hash);
    rc = sf_importer_add_file(im, path, opts, prefix, 0, progress, err);
    res->input_error = rc < 0 && im->rc == 0; /* the file changed since it was validated */
    if (rc == 0)
        rc = sf_importer_flush(im, err);
    sf_importer_totals(im, &res->imported, &res->duplicates);
    sf_importer_free(im);
    return rc;
}
