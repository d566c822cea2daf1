/*
 * import.c - batch import of files (see import.h).
 *
 * A file is read once for both checks: its content hash (the root of its
 * event ids) and the validating decode run over the same blocks, and every
 * valid record is kept packed (~60 bytes, without its event id, which needs
 * the hash of the whole file) in a spool. When the file is valid, the
 * appending pass takes the records from the spool instead of decoding the
 * file again: decoding is most of an import's CPU. A file whose records do
 * not fit in SPOOL_MAX is decoded a second time instead, as before.
 *
 * Appends are pipelined: up to IN_FLIGHT batches wait for the log's sync at
 * once while the next is prepared, so the import does not stop for each
 * batch's fsync. Each row is reserved in the import ledger (ledger.h) as
 * it is batched; the stream's callbacks tell the ledger where each batch
 * landed, and the caller's sf_import_close settles it. Event ids checked
 * against the window (a record's own id not of the ledger's forms) enter
 * it when their append is durable, and are released if it fails.
 */
#include "sinks/import.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/filehash.h"
#include "core/input.h"
#include "core/pack.h"
#include "core/progress.h"
#include "sinks/ledger.h"

#define BATCH     4096
#define IN_FLIGHT 4
#define SPOOL_MAX (512u << 20) /* packed bytes kept between the two passes */

typedef struct validate_ctx {
    sf_import_on_error on_error;
    void *ctx;
} validate_ctx;

static int validate_error(void *ctx, const sf_decode_error *e)
{
    validate_ctx *v = ctx;
    return v->on_error ? v->on_error(v->ctx, e) : 0;
}

static int invalid_rows(const char *path, const sf_decode_stats *st, sf_error *err)
{
    return sf_error_set(err, SF_EINVAL, "%s: %llu of %llu rows are invalid; nothing imported", path,
                        (unsigned long long)st->invalid, (unsigned long long)st->records);
}

int sf_import_validate_bytes(const char *name, const void *data, size_t len,
                             const sf_decode_opts *opts, sf_import_on_error on_error, void *ctx,
                             sf_decode_stats *st, sf_error *err)
{
    validate_ctx v = {on_error, ctx};
    sf_decode_sink check = {NULL, validate_error, &v};
    int rc = sf_decode_bytes(name, data, len, opts, &check, st, err);
    if (rc == 0 && st->invalid)
        rc = invalid_rows(name, st, err);
    return rc;
}

/* One append in flight: its packed records, kept for the event ids that
 * were checked against the window (windowed[i]). */
typedef struct flight {
    struct sf_importer *im;
    uint8_t *data;
    uint32_t *lens;
    bool *windowed;
    size_t n;
    size_t nwindowed; /* records of it reserved in the window */
    size_t nreserved; /* records of it reserved in the ledger */
} flight;

struct sf_importer {
    sf_import_target *t;
    char prefix[64]; /* of the ids of the file being added */
    size_t rows;     /* its key's ledger handle */
    uint64_t base;
    flight *cur; /* the batch being filled */
    size_t cur_bytes;
    _Atomic uint64_t imported; /* by the stream's callbacks */
    uint64_t duplicates;
    sf_error err; /* the first error; with rc */
    int rc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned in_flight; /* under mu */
    int async_rc;       /* the first failed append (under mu), with async_err */
    sf_error async_err;
};

static flight *flight_new(sf_importer *im)
{
    flight *f = calloc(1, sizeof *f);
    if (f && (!(f->data = malloc((size_t)BATCH * SF_PACK_MAX)) ||
              !(f->lens = malloc(BATCH * sizeof *f->lens)) ||
              !(f->windowed = malloc(BATCH * sizeof *f->windowed)))) {
        free(f->data);
        free(f->lens);
        free(f);
        f = NULL;
    }
    if (f)
        f->im = im;
    return f;
}

static void flight_free(flight *f)
{
    if (f) {
        free(f->data);
        free(f->lens);
        free(f->windowed);
        free(f);
    }
}

/* Each event id of f reserved in the window: committed at its place in the
 * log (parts, positions), or released (parts NULL). */
static void settle_window(sf_dedup *d, const flight *f, const uint32_t *parts,
                          const sf_pos *positions)
{
    size_t at = 0;
    for (size_t i = 0; f->nwindowed && i < f->n; at += f->lens[i++]) {
        const char *id, *inv;
        size_t idlen, invlen;
        if (!f->windowed[i] ||
            sf_packed_keys(f->data + at, f->lens[i], &id, &idlen, &inv, &invlen) < 0)
            continue;
        if (parts)
            sf_dedup_commit(d, parts[i], &positions[i], id, idlen);
        else
            sf_dedup_release(d, id, idlen);
    }
}

/* The stream's callback: the batch is durable, or failed. */
static void appended(void *ctx, int status, const uint32_t *partitions, const sf_pos *positions,
                     const char *errmsg)
{
    flight *f = ctx;
    sf_importer *im = f->im;
    if (status == 0)
        sf_ledger_landed(im->t->ledger, f->data, f->lens, partitions, positions, f->n,
                         f->nreserved);
    if (f->nwindowed) /* then t->d was made before f was sent */
        settle_window(im->t->d, f, status == 0 ? partitions : NULL, positions);
    pthread_mutex_lock(&im->mu);
    if (status == 0) {
        atomic_fetch_add(&im->imported, f->n);
    } else if (im->async_rc == 0) {
        im->async_rc = status;
        sf_error_set(&im->async_err, status, "%s", errmsg ? errmsg : "append failed");
    }
    im->in_flight--;
    pthread_cond_broadcast(&im->cv);
    pthread_mutex_unlock(&im->mu);
    flight_free(f);
}

int sf_importer_new(sf_import_target *t, sf_importer **out, sf_error *err)
{
    sf_importer *im = calloc(1, sizeof *im);
    if (!im || !(im->cur = flight_new(im))) {
        free(im);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    im->t = t;
    pthread_mutex_init(&im->mu, NULL);
    pthread_cond_init(&im->cv, NULL);
    *out = im;
    return 0;
}

/* The file's rows from now on are rows of key, from base. */
static int set_key(sf_importer *im, const sf_ledger_key *key, uint64_t base)
{
    im->base = base;
    sf_ledger_key_prefix(key, im->prefix, sizeof im->prefix);
    int rc = sf_ledger_handle(im->t->ledger, key, &im->rows, &im->err);
    return rc < 0 ? im->rc = rc : 0;
}

/* Wait until at most `most` appends are in flight; their first error. */
static int wait_flights(sf_importer *im, unsigned most)
{
    pthread_mutex_lock(&im->mu);
    while (im->in_flight > most)
        pthread_cond_wait(&im->cv, &im->mu);
    int rc = im->async_rc;
    if (rc < 0 && im->rc == 0)
        im->err = im->async_err;
    pthread_mutex_unlock(&im->mu);
    return rc;
}

static void flight_reset(flight *f)
{
    f->n = f->nwindowed = f->nreserved = 0;
}

/* Send the batch being filled on its way (waiting while IN_FLIGHT are). */
static int send_batch(sf_importer *im)
{
    flight *f = im->cur;
    if (f->n == 0)
        return 0;
    int rc = wait_flights(im, IN_FLIGHT - 1);
    flight *next = rc == 0 ? flight_new(im) : NULL;
    if (rc == 0 && !next)
        rc = sf_error_set(&im->err, SF_ENOMEM, "out of memory");
    if (rc == 0) {
        pthread_mutex_lock(&im->mu);
        im->in_flight++;
        pthread_mutex_unlock(&im->mu);
        rc = sf_stream_append_packed_async(im->t->s, f->data, f->lens, f->n, appended, f, &im->err);
        if (rc < 0) { /* not queued: no callback will come */
            pthread_mutex_lock(&im->mu);
            im->in_flight--;
            pthread_mutex_unlock(&im->mu);
        }
    }
    if (rc < 0) {
        settle_window(im->t->d, f, NULL, NULL);
        flight_reset(f);
        flight_free(next);
        return im->rc = rc;
    }
    im->cur = next;
    im->cur_bytes = 0;
    return 0;
}

static bool in_ledger(const char *id, size_t len)
{
    sf_ledger_key key;
    uint64_t row;
    return sf_ledger_parse_id(id, len, &key, &row);
}

/* The window, made and loaded from the log when a record first needs it
 * (without the ids the ledger knows: they are never looked up there). */
static sf_dedup *window(sf_importer *im)
{
    sf_import_target *t = im->t;
    if (!t->d) {
        sf_error err = {0};
        int rc = sf_dedup_new(t->window, sf_stream_partitions(t->s), &t->d, &err);
        if (rc == 0 && (rc = sf_dedup_load_except(t->d, t->s, in_ledger, &err)) < 0) {
            sf_dedup_free(t->d);
            t->d = NULL;
        }
        if (rc < 0) {
            im->rc = rc;
            im->err = err;
            sf_error_prefix(&im->err, "loading the event-id window: ");
        }
    }
    return t->d;
}

/* An event id of a record's own: in the ledger when of its forms, else in
 * the window (*add: add the record; not: a duplicate). */
static int reserve_own(sf_importer *im, const char *id, size_t len, uint64_t index, bool *add)
{
    sf_ledger_key key;
    uint64_t row;
    size_t h;
    *add = false;
    if (sf_ledger_parse_id(id, len, &key, &row)) {
        int rc = sf_ledger_handle(im->t->ledger, &key, &h, &im->err);
        if (rc == 0)
            rc = sf_ledger_reserve(im->t->ledger, h, row, add, &im->err);
        if (*add)
            im->cur->nreserved++;
        return rc;
    }
    sf_dedup *d = window(im);
    if (!d)
        return im->rc;
    switch (sf_dedup_reserve(d, id, len)) {
    case SF_DEDUP_NEW:
        im->cur->windowed[im->cur->n] = true;
        im->cur->nwindowed++;
        *add = true;
        return 0;
    case SF_DEDUP_SEEN:
        return 0;
    default: /* held by another import of the same file (it will land), or
              * more ids in flight than the window has room for */
        return im->rc = sf_error_set(&im->err, SF_EBUSY,
                                     "row %llu: its event id is being appended by another import, "
                                     "or --dedup-window is too small for the ids in flight",
                                     (unsigned long long)index);
    }
}

/* Check a record against the ledger (own == false: row base + index of the
 * file's key) or as reserve_own: *add to add the record, not to skip it
 * (already in the log). */
static int reserve(sf_importer *im, bool own, const char *id, size_t len, uint64_t index, bool *add)
{
    im->cur->windowed[im->cur->n] = false;
    int rc = own ? reserve_own(im, id, len, index, add)
                 : sf_ledger_reserve(im->t->ledger, im->rows, im->base + index, add, &im->err);
    if (rc < 0)
        return im->rc = rc;
    if (!own && *add)
        im->cur->nreserved++;
    if (!*add)
        im->duplicates++;
    return 0;
}

/* Count a record added to the batch of len bytes; send a full batch. */
static int added(sf_importer *im, size_t len)
{
    flight *f = im->cur;
    f->lens[f->n++] = (uint32_t)len;
    im->cur_bytes += len;
    return f->n == BATCH ? send_batch(im) : 0;
}

/* Give r (a record of the file) its event id, check it and add it to the
 * batch. */
static int add_record(sf_importer *im, sf_record *r, uint64_t index)
{
    bool own = r->event_id_len > 0; /* records that carry an event id keep it */
    if (!own) {
        size_t n = sf_event_id(im->prefix, im->base + index, r->event_id);
        if (!n)
            return im->rc = sf_error_set(&im->err, SF_EINVAL, "event id prefix too long");
        r->event_id_len = (uint8_t)n;
    }
    bool add;
    int rc = reserve(im, own, r->event_id, r->event_id_len, index, &add);
    if (rc < 0 || !add)
        return rc;
    int len = sf_record_pack(r, im->cur->data + im->cur_bytes, SF_PACK_MAX);
    return added(im, (size_t)len);
}

/* The same for a record packed without an event id (or with its own): the
 * id is put in place in the packed form (core/pack.h: its length at byte 3,
 * its bytes first after the SF_PACK_HEADER fixed bytes), which costs a copy
 * where unpacking and packing again cost a tenth of the import. */
static int add_packed(sf_importer *im, const uint8_t *p, size_t len, uint64_t index)
{
    char own[SF_EVENT_ID_MAX + 1];
    const char *id = (const char *)p + SF_PACK_HEADER;
    size_t idlen = p[3];
    if (idlen == 0 && !(id = own, idlen = sf_event_id(im->prefix, im->base + index, own)))
        return im->rc = sf_error_set(&im->err, SF_EINVAL, "event id prefix too long");
    bool add;
    int rc = reserve(im, id != own, id, idlen, index, &add);
    if (rc < 0 || !add)
        return rc;
    uint8_t *out = im->cur->data + im->cur_bytes;
    if (id != own) { /* the record's own id: as it is */
        memcpy(out, p, len);
        return added(im, len);
    }
    memcpy(out, p, SF_PACK_HEADER);
    out[3] = (uint8_t)idlen;
    memcpy(out + SF_PACK_HEADER, own, idlen);
    memcpy(out + SF_PACK_HEADER + idlen, p + SF_PACK_HEADER, len - SF_PACK_HEADER);
    return added(im, len + idlen);
}

static int append_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    sf_importer *im = ctx;
    sf_record copy = *r;
    return add_record(im, &copy, pos->index) != 0;
}

/* After decoding path into im: the stream's (or the id's) error, not
 * "stopped", if there was one; else the decoder's rc. */
static int added_input(sf_importer *im, const char *path, int rc, sf_error *err)
{
    if (im->rc < 0) {
        rc = im->rc;
        *err = im->err;
        sf_error_prefix(err, "%s: ", path);
    }
    return rc;
}

int sf_importer_add_file(sf_importer *im, const char *path, const sf_decode_opts *opts,
                         const sf_ledger_key *key, uint64_t id_base, struct sf_progress *progress,
                         sf_error *err)
{
    int rc = set_key(im, key, id_base);
    sf_decode_sink load = {append_record, NULL, im};
    if (rc == 0)
        rc = sf_decode_file(path, opts, &load, progress, NULL, err);
    return added_input(im, path, rc, err);
}

int sf_importer_add_bytes(sf_importer *im, const char *name, const void *data, size_t len,
                          const sf_decode_opts *opts, const sf_ledger_key *key, uint64_t id_base,
                          sf_error *err)
{
    int rc = set_key(im, key, id_base);
    sf_decode_sink load = {append_record, NULL, im};
    if (rc == 0)
        rc = sf_decode_bytes(name, data, len, opts, &load, NULL, err);
    return added_input(im, name, rc, err);
}

int sf_importer_flush(sf_importer *im, sf_error *err)
{
    int rc = im->rc < 0 ? im->rc : send_batch(im);
    int waited = wait_flights(im, 0);
    if (rc == 0 && waited < 0)
        rc = im->rc = waited;
    if (rc < 0)
        *err = im->err;
    return rc;
}

void sf_importer_totals(const sf_importer *im, uint64_t *imported, uint64_t *duplicates)
{
    *imported = atomic_load(&im->imported);
    *duplicates = im->duplicates;
}

void sf_importer_free(sf_importer *im)
{
    if (!im)
        return;
    wait_flights(im, 0);                          /* their callbacks use im */
    settle_window(im->t->d, im->cur, NULL, NULL); /* a batch never appended */
    flight_free(im->cur);
    pthread_mutex_destroy(&im->mu);
    pthread_cond_destroy(&im->cv);
    free(im);
}

/* The first pass: hash, validation and the spool, over one read. */
typedef struct first_pass {
    validate_ctx v;
    uint8_t *data; /* valid records, packed without event ids */
    size_t len, cap;
    uint64_t *index; /* each record's index in the file */
    uint32_t *lens;
    size_t n, ncap;
    bool spilled; /* over SPOOL_MAX (or out of memory): decode again */
} first_pass;

static void spool_free(first_pass *fp)
{
    free(fp->data);
    free(fp->index);
    free(fp->lens);
    fp->data = NULL, fp->index = NULL, fp->lens = NULL;
    fp->len = fp->cap = fp->n = fp->ncap = 0;
}

static bool spool_grow(first_pass *fp)
{
    if (fp->len + SF_PACK_MAX > fp->cap) {
        size_t cap = fp->cap ? fp->cap * 2 : 1u << 20;
        uint8_t *d = cap <= SPOOL_MAX ? realloc(fp->data, cap) : NULL;
        if (!d)
            return false;
        fp->data = d, fp->cap = cap;
    }
    if (fp->n == fp->ncap) {
        size_t n = fp->ncap ? fp->ncap * 2 : 16384;
        uint64_t *ix = realloc(fp->index, n * sizeof *ix);
        if (ix)
            fp->index = ix;
        uint32_t *ln = ix ? realloc(fp->lens, n * sizeof *ln) : NULL;
        if (!ln)
            return false;
        fp->lens = ln, fp->ncap = n;
    }
    return true;
}

static int spool_error(void *ctx, const sf_decode_error *e)
{
    return validate_error(&((first_pass *)ctx)->v, e);
}

static int spool_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    first_pass *fp = ctx;
    if (fp->spilled)
        return 0;
    if (!spool_grow(fp)) {
        spool_free(fp);
        fp->spilled = true;
        return 0;
    }
    int len = sf_record_pack(r, fp->data + fp->len, SF_PACK_MAX);
    fp->index[fp->n] = pos->index;
    fp->lens[fp->n++] = (uint32_t)len;
    fp->len += (size_t)len;
    return 0;
}

/* Read path once: its content hash into hash, its rows validated (counts
 * in *st) and spooled into fp. */
static int read_once(const char *path, const sf_decode_opts *opts, first_pass *fp,
                     struct sf_progress *progress, char hash[SF_FILE_HASH_LEN], sf_decode_stats *st,
                     sf_error *err)
{
    if (strcmp(path, "-") == 0)
        return sf_error_set(err, SF_EUSAGE,
                            "cannot read standard input (it has no content hash to make "
                            "event ids from); give a file");
    sf_decode_sink sink = {spool_record, spool_error, fp};
    sf_input *in = NULL;
    sf_decoder *dec = NULL;
    XXH3_state_t *xs = XXH3_createState();
    int rc = xs ? sf_input_open(path, &in, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = sf_decoder_new(opts, &sink, &dec, err);
    if (rc == 0)
        XXH3_128bits_reset(xs);
    for (const char *block; rc == 0;) {
        size_t len;
        if ((rc = sf_input_read(in, &block, &len, err)) < 0 || len == 0)
            break;
        XXH3_128bits_update(xs, block, len);
        if ((rc = sf_decoder_feed(dec, block, len, err)) < 0)
            sf_error_prefix(err, "%s:", path);
        if (progress) {
            uint64_t done, total;
            sf_decoder_stats(dec, st);
            sf_input_progress(in, &done, &total);
            sf_progress_update(progress, st->records, done, total);
        }
    }
    if (rc == 0 && (rc = sf_decoder_finish(dec, err)) < 0)
        sf_error_prefix(err, "%s:", path);
    if (dec)
        sf_decoder_stats(dec, st);
    if (rc == 0) {
        XXH128_hash_t h = XXH3_128bits_digest(xs);
        snprintf(hash, SF_FILE_HASH_LEN, "%016llx%016llx", (unsigned long long)h.high64,
                 (unsigned long long)h.low64);
    }
    sf_decoder_free(dec);
    sf_input_close(in);
    if (xs)
        XXH3_freeState(xs);
    return rc;
}

/* The appending pass from the spool. */
static int append_spool(sf_importer *im, const first_pass *fp, struct sf_progress *progress,
                        sf_error *err)
{
    size_t at = 0;
    for (size_t i = 0; i < fp->n && im->rc == 0; at += fp->lens[i++]) {
        add_packed(im, fp->data + at, fp->lens[i], fp->index[i]);
        if (progress && (i & 16383) == 0)
            sf_progress_update(progress, i, i, fp->n);
    }
    if (im->rc < 0)
        *err = im->err;
    return im->rc;
}

int sf_import_file(sf_import_target *t, const char *path, const sf_decode_opts *opts,
                   sf_import_on_error on_error, void *ctx, struct sf_progress *progress,
                   sf_import_result *res, sf_error *err)
{
    memset(res, 0, sizeof *res);
    res->input_error = true; /* until the input has been read whole */
    char hash[SF_FILE_HASH_LEN];
    first_pass fp = {.v = {on_error, ctx}};
    sf_decode_stats st = {0};
    sf_ledger_key key;
    int rc = read_once(path, opts, &fp, progress, hash, &st, err);
    if (rc == 0 && st.invalid)
        rc = invalid_rows(path, &st, err);
    if (rc == 0 && sf_ledger_file_key(hash, &key) < 0)
        rc = sf_error_set(err, SF_EINVAL, "%s: no content hash", path);
    res->rows = st.records;
    res->invalid = st.invalid;
    sf_importer *im = NULL;
    if (rc == 0 && (rc = sf_importer_new(t, &im, err)) == 0) {
        res->input_error = false;
        if (!fp.spilled) {
            set_key(im, &key, 0); /* its error, if any, is im->rc: append_spool returns it */
            if ((rc = append_spool(im, &fp, progress, err)) < 0)
                sf_error_prefix(err, "%s: ", path);
        } else {
            rc = sf_importer_add_file(im, path, opts, &key, 0, progress, err);
            res->input_error = rc < 0 && im->rc == 0; /* the file changed since validated */
        }
        if (rc == 0)
            rc = sf_importer_flush(im, err);
        sf_importer_totals(im, &res->imported, &res->duplicates);
    }
    sf_importer_free(im);
    spool_free(&fp);
    return rc;
}

int sf_import_open(const char *location, const sf_stream_opts *opts, const char *ledger_path,
                   size_t window, sf_import_target *t, sf_error *err)
{
    *t = (sf_import_target){.window = window};
    int rc = sf_stream_open(location, opts, &t->s, err);
    if (rc == SF_EBUSY)
        sf_error_prefix(err, "cannot import while a server writes the log (post the file to it, "
                             "or stop it): ");
    if (rc == 0)
        rc = sf_ledger_open(ledger_path, location, t->s, &t->ledger, NULL, err);
    if (rc < 0) {
        sf_stream_close(t->s);
        t->s = NULL;
    }
    return rc;
}

int sf_import_close(sf_import_target *t, sf_error *err)
{
    int rc = t->ledger && t->s ? sf_ledger_save(t->ledger, t->s, err) : 0;
    if (rc < 0)
        sf_error_prefix(err, "the import ledger: ");
    sf_ledger_close(t->ledger);
    sf_dedup_free(t->d);
    sf_stream_close(t->s);
    *t = (sf_import_target){0};
    return rc;
}
