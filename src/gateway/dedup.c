/*
 * dedup.c - the event-id window (see dedup.h).
 *
 * An open-addressing table of (hash, state) with linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short however many
 * ids come and go), plus a ring of the committed hashes in commit order: when
 * the ring is full, its oldest entry leaves the table.
 */
#include "gateway/dedup.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <xxhash.h>

#include "core/pack.h"

typedef struct slot {
    uint64_t lo, hi; /* (0, 0) = empty */
    uint8_t state;   /* SF_DEDUP_SEEN or SF_DEDUP_IN_FLIGHT */
} slot;

typedef struct key {
    uint64_t lo, hi;
} key;

struct sf_dedup {
    pthread_mutex_t mu;
    slot *slots;
    size_t cap;  /* power of two, >= 2 x window */
    size_t used; /* slots taken: committed + in flight; kept <= 3/4 of cap */
    key *ring;   /* committed ids, oldest at head */
    size_t window, head, count;
};

static key hash_id(const char *id, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(id, len);
    key k = {h.low64, h.high64};
    if (!k.lo && !k.hi)
        k.lo = 1;
    return k;
}

int sf_dedup_new(size_t window, sf_dedup **out, sf_error *err)
{
    sf_dedup *d = calloc(1, sizeof *d);
    if (!d)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    d->window = window ? window : 1;
    d->cap = 1024;
    /* The window at load <= 1/2, and as many ids in flight again up to 3/4. */
    while (d->cap < 2 * d->window)
        d->cap *= 2;
    d->slots = calloc(d->cap, sizeof *d->slots);
    d->ring = calloc(d->window, sizeof *d->ring);
    if (!d->slots || !d->ring) {
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
    free(d->slots);
    free(d->ring);
    free(d);
}

/* The slot holding k, or the empty slot where it would go. */
static size_t find(const sf_dedup *d, key k)
{
    size_t mask = d->cap - 1, i = (size_t)k.lo & mask;
    while ((d->slots[i].lo || d->slots[i].hi) && (d->slots[i].lo != k.lo || d->slots[i].hi != k.hi))
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
            if (!d->slots[j].lo && !d->slots[j].hi)
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

/* Add k to the window; evict the oldest when full. Caller holds mu. */
static void commit_key(sf_dedup *d, key k)
{
    size_t i = find(d, k);
    if ((d->slots[i].lo || d->slots[i].hi) && d->slots[i].state == SF_DEDUP_SEEN)
        return; /* already in the window (and in the ring) */
    if (!d->slots[i].lo && !d->slots[i].hi)
        d->used++;
    d->slots[i] = (slot){k.lo, k.hi, SF_DEDUP_SEEN};
    if (d->count == d->window) {
        key old = d->ring[d->head];
        size_t j = find(d, old);
        if ((d->slots[j].lo || d->slots[j].hi) && d->slots[j].state == SF_DEDUP_SEEN)
            remove_at(d, j);
        d->ring[d->head] = k;
        d->head = (d->head + 1) % d->window;
    } else {
        d->ring[(d->head + d->count++) % d->window] = k;
    }
}

sf_dedup_state sf_dedup_reserve(sf_dedup *d, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    size_t i = find(d, k);
    sf_dedup_state st = SF_DEDUP_NEW;
    if (d->slots[i].lo || d->slots[i].hi) {
        st = (sf_dedup_state)d->slots[i].state;
    } else if ((d->used + 1) * 4 > d->cap * 3) {
        st = SF_DEDUP_IN_FLIGHT; /* too many ids in flight at once: retry later */
    } else {
        d->slots[i] = (slot){k.lo, k.hi, SF_DEDUP_IN_FLIGHT};
        d->used++;
    }
    pthread_mutex_unlock(&d->mu);
    return st;
}

void sf_dedup_commit(sf_dedup *d, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    commit_key(d, k);
    pthread_mutex_unlock(&d->mu);
}

void sf_dedup_release(sf_dedup *d, const char *id, size_t len)
{
    key k = hash_id(id, len);
    pthread_mutex_lock(&d->mu);
    size_t i = find(d, k);
    if ((d->slots[i].lo || d->slots[i].hi) && d->slots[i].state == SF_DEDUP_IN_FLIGHT)
        remove_at(d, i);
    pthread_mutex_unlock(&d->mu);
}

size_t sf_dedup_count(sf_dedup *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

int sf_dedup_load(sf_dedup *d, sf_stream *s, sf_error *err)
{
    uint32_t parts = sf_stream_partitions(s);
    size_t per = (d->window + parts - 1) / parts;
    sf_stream_batch b;
    int rc = sf_stream_batch_init(&b, 4096, 1 << 20, err);
    for (uint32_t p = 0; rc == 0 && p < parts; p++) {
        sf_partition_info info;
        if ((rc = sf_stream_info(s, p, &info, err)) < 0)
            break;
        uint64_t at = info.end_offset > per ? info.end_offset - per : 0;
        if (at < info.start_offset)
            at = info.start_offset;
        /* A read that skipped a hole has no entry but moved on (stream.h). */
        while ((rc = sf_stream_read(s, p, at, &b, err)) == 0 && (b.count || b.next_offset > at)) {
            for (size_t i = 0; i < b.count; i++) {
                sf_record r;
                if (sf_record_unpack(b.entries[i].data, b.entries[i].len, &r) == 0 &&
                    r.event_id_len) {
                    pthread_mutex_lock(&d->mu);
                    commit_key(d, hash_id(r.event_id, r.event_id_len));
                    pthread_mutex_unlock(&d->mu);
                }
            }
            at = b.next_offset;
        }
    }
    sf_stream_batch_free(&b);
    return rc;
}
