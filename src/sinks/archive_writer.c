/*
 * archive_writer.c - background compression and puts of archive objects (see
 * archive_writer.h).
 *
 * Two generations of objects alternate: the sink fills one while the thread
 * writes the other. gzip output is deterministic (no time in the header): the
 * same records at the same level always make the same bytes.
 */
#include "sinks/archive_writer.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "storage/objects/objects.h"

typedef struct slot {
    char *text; /* NDJSON */
    size_t len, cap;
    unsigned char *gz;
    size_t gz_len;
    uint64_t records;
    uint32_t p;     /* partition */
    uint32_t nth;   /* objects of p before it in the generation */
    int64_t day;    /* of its records */
    unsigned batch; /* its put batch */
    char key[SF_ARCHIVE_KEY_MAX];
} slot;

typedef struct generation {
    slot *slots;
    size_t n, cap;
    uint32_t *per_part; /* objects of each partition */
} generation;

struct sf_archive_writer {
    sf_objects *objects;
    int level;
    uint32_t nparts;
    _Atomic uint64_t *committed; /* records of the objects put */
    generation gen[2];
    int filling; /* the generation being filled; the other may be written */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool busy, stop; /* under mu */
    int rc;          /* first put error (under mu), with err */
    sf_error err;
};

/* A compression of one generation, shared by its threads. */
typedef struct compression {
    generation *g;
    int level;
    atomic_size_t next; /* the next slot to take */
} compression;

/* One compressing thread: takes slots until none are left, with one
 * libdeflate compressor (its setup costs more than compressing a small
 * object). libdeflate compresses a whole buffer at once, which is what an
 * object is, ~30 % faster than zlib's streaming deflate at level 1 and ~9 %
 * smaller (docs/benchmarks.md). Each slot's NDJSON is freed once
 * compressed, so a generation being written holds little more than its gzip
 * bytes. */
static void compress_some(void *ctx, size_t worker)
{
    (void)worker;
    compression *c = ctx;
    generation *g = c->g;
    struct libdeflate_compressor *z = libdeflate_alloc_compressor(c->level);
    unsigned char *out = NULL;
    size_t out_cap = 0;
    for (size_t i; z && (i = atomic_fetch_add(&c->next, 1)) < g->n;) {
        slot *s = &g->slots[i];
        size_t bound = libdeflate_gzip_compress_bound(z, s->len);
        if (bound > out_cap) {
            free(out);
            out_cap = (out = malloc(bound)) ? bound : 0;
        }
        size_t n = out ? libdeflate_gzip_compress(z, s->text, s->len, out, out_cap) : 0;
        if (n > 0 && (s->gz = malloc(n))) {
            s->gz_len = n;
            memcpy(s->gz, out, n);
        }
        free(s->text);
        s->text = NULL;
        s->cap = 0;
    }
    free(out);
    if (z)
        libdeflate_free_compressor(z);
    /* without a compressor the slots keep gz NULL: reported as failed */
}

static int by_partition(const void *x, const void *y)
{
    const slot *a = *(slot *const *)x, *b = *(slot *const *)y;
    if (a->p != b->p)
        return a->p < b->p ? -1 : 1;
    return (a->nth > b->nth) - (a->nth < b->nth);
}

/* Number the batches: repeatedly, of the next object of every partition,
 * those of the earliest day form the next batch. */
static int number_batches(const sf_archive_writer *w, generation *g)
{
    slot **by = malloc(g->n * sizeof *by);
    size_t *cur = malloc(2 * w->nparts * sizeof *cur);
    if (!by || !cur) {
        free(by);
        free(cur);
        return -1;
    }
    size_t *end = cur + w->nparts;
    for (size_t i = 0; i < g->n; i++)
        by[i] = &g->slots[i];
    qsort(by, g->n, sizeof *by, by_partition);
    for (uint32_t p = 0, at = 0; p < w->nparts; at += g->per_part[p++]) {
        cur[p] = at;
        end[p] = at + g->per_part[p];
    }
    for (unsigned batch = 0;; batch++) {
        int64_t day = INT64_MAX;
        for (uint32_t p = 0; p < w->nparts; p++)
            if (cur[p] < end[p] && by[cur[p]]->day < day)
                day = by[cur[p]]->day;
        if (day == INT64_MAX)
            break;
        for (uint32_t p = 0; p < w->nparts; p++)
            if (cur[p] < end[p] && by[cur[p]]->day == day)
                by[cur[p]++]->batch = batch;
    }
    free(by);
    free(cur);
    return 0;
}

static int found(void *ctx, const char *key)
{
    (void)key;
    *(bool *)ctx = true;
    return 1;
}

/* Count the records of g's objects that were put: all, or after a failed
 * put_many (which may have put some) those the store lists now. */
static void count_put(sf_archive_writer *w, const generation *g, bool all)
{
    uint64_t records = 0;
    for (size_t i = 0; w->committed && i < g->n; i++) {
        bool there = all;
        sf_error err = {0};
        if (!all)
            sf_objects_list(w->objects, g->slots[i].key, found, &there, &err);
        records += there ? g->slots[i].records : 0;
    }
    if (w->committed)
        atomic_fetch_add(w->committed, records);
}

/* Put the generation being written (compressed by flush). */
static int write_generation(sf_archive_writer *w, sf_error *err)
{
    generation *g = &w->gen[!w->filling];
    sf_object_put *puts = malloc(g->n * sizeof *puts);
    if (!puts || number_batches(w, g) < 0) {
        free(puts);
        return sf_error_set(err, SF_ENOMEM, "archive: out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < g->n && rc == 0; i++) {
        slot *s = &g->slots[i];
        if (!s->gz)
            rc = sf_error_set(err, SF_ENOMEM, "archive: cannot compress %s", s->key);
        puts[i] = (sf_object_put){s->key, s->gz, s->gz_len, s->batch, s->p};
    }
    if (rc == 0)
        rc = sf_objects_put_many(w->objects, puts, g->n, err);
    free(puts);
    count_put(w, g, rc == 0);
    return rc;
}

/* Empty a generation (its NDJSON was freed when compressed). */
static void reset(sf_archive_writer *w, generation *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->slots[i].gz);
        g->slots[i].gz = NULL;
        g->slots[i].gz_len = 0;
    }
    g->n = 0;
    memset(g->per_part, 0, w->nparts * sizeof *g->per_part);
}

static void *writer_main(void *arg)
{
    sf_archive_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        pthread_mutex_unlock(&w->mu);
        sf_error err = {0};
        int rc = write_generation(w, &err);
        pthread_mutex_lock(&w->mu);
        if (rc < 0 && w->rc == 0) {
            w->rc = rc;
            w->err = err;
        }
        reset(w, &w->gen[!w->filling]);
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int sf_archive_writer_new(sf_objects *objects, int level, uint32_t nparts,
                          _Atomic uint64_t *committed, sf_archive_writer **out, sf_error *err)
{
    sf_archive_writer *w = calloc(1, sizeof *w);
    uint32_t *counts = calloc(2 * (size_t)(nparts ? nparts : 1), sizeof *counts);
    if (!w || !counts) {
        free(w);
        free(counts);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    w->objects = objects;
    w->committed = committed;
    w->level = level;
    w->nparts = nparts;
    w->gen[0].per_part = counts;
    w->gen[1].per_part = counts + (nparts ? nparts : 1);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        sf_archive_writer_free(w);
        return sf_error_set(err, SF_ENOMEM, "archive: cannot start the writer thread");
    }
    w->started = true;
    *out = w;
    return 0;
}

int sf_archive_writer_add(sf_archive_writer *w, uint32_t p, int64_t day, uint64_t records,
                          const char *key, char **text, size_t *len, size_t *cap, sf_error *err)
{
    generation *g = &w->gen[w->filling]; /* only the sink touches it */
    if (g->n == g->cap) {
        size_t n = g->cap ? g->cap * 2 : 64;
        slot *s = realloc(g->slots, n * sizeof *s);
        if (!s)
            return sf_error_set(err, SF_ENOMEM, "archive: out of memory");
        memset(s + g->cap, 0, (n - g->cap) * sizeof *s);
        g->slots = s;
        g->cap = n;
    }
    slot *s = &g->slots[g->n++];
    s->text = *text, s->len = *len, s->cap = *cap;
    s->p = p, s->nth = g->per_part[p]++, s->day = day, s->records = records;
    snprintf(s->key, sizeof s->key, "%s", key);
    *text = NULL, *len = 0, *cap = 0;
    return 0;
}

int sf_archive_writer_flush(sf_archive_writer *w, bool wait, sf_error *err)
{
    /* Compressing here, on every core, overlaps with the writer's syncs of
     * the previous generation: the syncs wait on the device, not the CPU. */
    compression c = {&w->gen[w->filling], w->level, 0};
    unsigned threads = sf_cpu_count();
    if (c.g->n > 0) /* most passes close no object: start no threads for them */
        sf_parallel_for(c.g->n < threads ? (unsigned)c.g->n : threads, threads, compress_some, &c);
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->rc == 0 && w->gen[w->filling].n > 0) {
        w->filling = !w->filling;
        w->busy = true;
        pthread_cond_broadcast(&w->cv);
    }
    while (wait && w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int rc = w->rc;
    if (rc < 0)
        *err = w->err;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void sf_archive_writer_free(sf_archive_writer *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    for (int i = 0; i < 2; i++) {
        generation *g = &w->gen[i];
        for (size_t j = 0; j < g->cap; j++) {
            free(g->slots[j].text);
            free(g->slots[j].gz);
        }
        free(g->slots);
    }
    free(w->gen[0].per_part); /* both generations' counts */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
