/*
 * dedup.c - the event-id window (see dedup.h).
 *
 * An open-addressing table of (hash, state, references) with linear probing
 * and backward-shift deletion (no tombstones, so lookups stay short however
 * many ids come and go), plus a ring per partition of the committed hashes
 * with their offsets, in commit order: an entry leaves its ring when it is
 * full, or when the partition's newest offset is ceil(window / partitions)
 * past it (positions that fit in 64 bits only, see dedup.h), and its id
 * leaves the table with the last ring entry that holds it (an id the log
 * holds twice is in a ring twice). Unbounded (window 0): no rings, nothing
 * leaves, and the table grows.
 */
#include "stream/dedup.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <xxhash.h>

#include "core/pack.h"

typedef struct slot {
    uint64_t lo, hi; /* (0, 0) = empty */
    uint8_t state;   /* SF_DEDUP_SEEN or SF_DEDUP_IN_FLIGHT */
    uint32_t refs;   /* ring entries holding a SEEN id */
} slot;

typedef struct key {
    uint64_t lo, hi;
} key;

typedef struct entry {
    key k;
    uint64_t offset; /* UINT64_MAX: a wide position (no offset arithmetic) */
} entry;

typedef struct ring {
    entry *e; /* per entries */
    size_t head, count;
    uint64_t newest; /* the highest offset committed */
} ring;

struct sf_dedup {
    pthread_mutex_t mu;
    slot *slots;
    size_t cap;  /* power of two, >= 2 x window */
    size_t used; /* slots taken: committed + in flight; kept <= 3/4 of cap */
    size_t seen; /* slots SEEN */
    ring *rings; /* one per partition; NULL when unbounded */
    uint32_t partitions;
    size_t per; /* records of each partition in the window; 0 = unbounded */
};

static key hash_id(const char *id, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(id, len);
    key k = {h.low64, h.high64};
    if (!k.lo && !k.hi)
        k.lo = 1;
    return k;
}

int sf_dedup_new(size_t window, uint32_t partitions, sf_dedup **out, sf_error *err)
{
    sf_dedup *d = calloc(1, sizeof *d);
    if (!d)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    d->partitions = partitions ? partitions : 1;
    d->per = window ? (window + d->partitions - 1) / d->partitions : 0;
    d->cap = 1024;
    /* The window at load <= 1/2, and as many ids in flight again up to 3/4. */
    while (d->cap < 2 * d->per * d->partitions)
        d->cap *= 2;
    d->slots = calloc(d->cap, sizeof *d->slots);
    bool ok = d->slots != NULL;
    if (ok && d->per) {
        ok = (d->rings = calloc(d->partitions, sizeof *d->rings)) != NULL;
        for (uint32_t p = 0; ok && p < d->partitions; p++)
            ok = (d->rings[p].e = malloc(d->per * sizeof *d->rings[p].e)) != NULL;
    }
    if (!ok) {
        sf_dedup_free(d);
        return sf_error_set(err, SF_ENOMEM, "out of memory for a window of %zu event ids", window);
    }
    pthread_mutex_init(&d->mu, NULL);
    *out = d;
    return 0;
}

void sf_dedup_free(sf_dedup *d)
{
    if (!d)
        return;
    if (d->slots)
        pthread_mutex_destroy(&d->mu);
    for (uint32_t p = 0; d->rings && p < d->partitions; p++)
        free(d->rings[p].e);
    free(d->rings);
    free(d->slots);
    free(d);
}

static bool empty(const slot *s)
{
    return !s->lo && !s->hi;
}

/* The slot holding k, or the empty slot where it would go. */
static size_t find(const sf_dedup *d, key k)
{
    size_t mask = d->cap - 1, i = (size_t)k.lo & mask;
    while (!empty(&d->slots[i]) && (d->slots[i].lo != k.lo || d->slots[i].hi != k.hi))
        i = (i + 1) & mask;
    return i;
}

static void remove_at(sf_dedup *d, size_t i)
{
    size_t mask = d->cap - 1, j = i;
    d->used--;
    for (;;) {
        d->slots[i] = (slot){0};
        /* Shift back any later entry whose home is at or before the hole. */
        for (;;) {
            j = (j + 1) & mask;
            if (empty(&d->slots[j]))
                return;
            size_t home = (size_t)d->slots[j].lo & mask;
            bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
            if (movable)
                break;
        }
        d->slots[i] = d->slots[j];
        i = j;
    }
}

/* Unbounded: double the table when it is 3/4 full. false when out of
 * memory (the caller then answers "retry later"). */
static bool make_room(sf_dedup *d)
{
    if ((d->used + 1) * 4 <= d->cap * 3)
        return true;
    if (d->per)
        return false;
    slot *old = d->slots;
    size_t n = d->cap;
    if (!(d->slots = calloc(2 * n, sizeof *d->slots))) {
        d->slots = old;
        return false;
    }
    d->cap = 2 * n;
    for (size_t i = 0; i < n; i++)
        if (!empty(&old[i]))
            d->slots[find(d, (key){old[i].lo, old[i].hi})] = old[i];
    free(old);
    return true;
}

/* The oldest entry of ring r leaves: its id leaves the table with its last
 * reference. */
static void evict(sf_dedup *d, ring *r)
{
    key old = r->e[r->head].k;
    r->head = (r->head + 1) % d->per;
    r->count--;
    size_t j = find(d, old);
    if (!empty(&d->slots[j]) && d->slots[j].state == SF_DEDUP_SEEN && --d->slots[j].refs == 0) {
        remove_at(d, j);
        d->seen--;
    }
}

/* Add k, appended at offset of partition, to the window; what is now out of
 * the partition's window leaves. Caller holds mu. */
static void commit_key(sf_dedup *d, uint32_t partition, const sf_pos *pos, key k)
{
    uint64_t offset;
    if (!sf_pos_u64(pos, &offset))
        offset = UINT64_MAX;
    size_t i = find(d, k);
    if (empty(&d->slots[i])) {
        if (!make_room(d))
            return; /* unbounded and out of memory: the id is not remembered */
        i = find(d, k);
        d->used++;
    }
    if (d->slots[i].state != SF_DEDUP_SEEN) {
        d->slots[i] = (slot){k.lo, k.hi, SF_DEDUP_SEEN, 0};
        d->seen++;
    }
    if (!d->per)
        return;
    ring *r = &d->rings[partition % d->partitions];
    if (r->count == d->per)
        evict(d, r);
    r->e[(r->head + r->count++) % d->per] = (entry){k, offset};
    d->slots[i].refs++;
    if (offset == UINT64_MAX)
        return; /* wide: the ring's size alone bounds the window */
    if (offset > r->newest || r->count == 1)
        r->newest = offset;
    while (r->count && r->e[r->head].offset + d->per <= r->newest)
        evict(d, r);
}

sf_dedup_state sf_dedup_reserve(sf_dedup *d, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    size_t i = find(d, k);
    sf_dedup_state st = SF_DEDUP_NEW;
    if (!empty(&d->slots[i])) {
        st = (sf_dedup_state)d->slots[i].state;
    } else if (!make_room(d)) {
        st = SF_DEDUP_IN_FLIGHT; /* too many ids in flight at once: retry later */
    } else {
        d->slots[find(d, k)] = (slot){k.lo, k.hi, SF_DEDUP_IN_FLIGHT, 0};
        d->used++;
    }
    pthread_mutex_unlock(&d->mu);
    return st;
}

void sf_dedup_commit(sf_dedup *d, uint32_t partition, const sf_pos *pos, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    commit_key(d, partition, pos, k);
    pthread_mutex_unlock(&d->mu);
}

void sf_dedup_release(sf_dedup *d, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    size_t i = find(d, k);
    if (!empty(&d->slots[i]) && d->slots[i].state == SF_DEDUP_IN_FLIGHT)
        remove_at(d, i);
    pthread_mutex_unlock(&d->mu);
}

size_t sf_dedup_count(sf_dedup *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->seen;
    pthread_mutex_unlock(&d->mu);
    return n;
}

size_t sf_dedup_per_partition(const sf_dedup *d)
{
    return d->per;
}

int sf_dedup_load(sf_dedup *d, sf_stream *s, sf_error *err)
{
    return sf_dedup_load_except(d, s, NULL, err);
}

int sf_dedup_load_except(sf_dedup *d, sf_stream *s, bool (*skip)(const char *id, size_t len),
                         sf_error *err)
{
    uint32_t parts = sf_stream_partitions(s);
    sf_stream_batch b;
    int rc = sf_stream_batch_init(&b, 4096, 1 << 20, err);
    for (uint32_t p = 0; rc == 0 && p < parts; p++) {
        sf_partition_info info;
        sf_pos at;
        if (d->per)
            rc = sf_stream_tail_start(s, p, d->per, &at, err);
        else if ((rc = sf_stream_info(s, p, &info, err)) == 0)
            at = info.start; /* unbounded: every record still stored */
        if (rc < 0)
            break;
        /* A read that skipped a hole has no entry but moved on (stream.h). */
        while ((rc = sf_stream_read(s, p, &at, &b, err)) == 0 &&
               (b.count || sf_pos_cmp(&b.next, &at) > 0)) {
            pthread_mutex_lock(&d->mu);
            for (size_t i = 0; i < b.count; i++) {
                const char *id, *inv;
                size_t idlen, invlen;
                if (sf_packed_keys(b.entries[i].data, b.entries[i].len, &id, &idlen, &inv,
                                   &invlen) == 0 &&
                    idlen && !(skip && skip(id, idlen)))
                    commit_key(d, p, &b.entries[i].pos, hash_id(id, idlen));
            }
            pthread_mutex_unlock(&d->mu);
            at = b.next;
        }
    }
    sf_stream_batch_free(&b);
    return rc;
}
