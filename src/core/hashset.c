/*
 * hashset.c - set of 128-bit hashes (see hashset.h).
 */
#include "core/hashset.h"

#include <stdlib.h>
#include <xxhash.h>

#include "core/error.h"

void sf_hashset_init(sf_hashset *s)
{
    s->slots = NULL;
    s->cap = 0;
    s->count = 0;
}

void sf_hashset_free(sf_hashset *s)
{
    free(s->slots);
    sf_hashset_init(s);
}

/* Insert a key known not to be (0, 0); the table has room. */
static int insert(uint64_t *slots, size_t cap, uint64_t lo, uint64_t hi)
{
    size_t mask = cap - 1;
    for (size_t i = (size_t)lo & mask;; i = (i + 1) & mask) {
        uint64_t *slot = &slots[2 * i];
        if (slot[0] == 0 && slot[1] == 0) {
            slot[0] = lo;
            slot[1] = hi;
            return 1;
        }
        if (slot[0] == lo && slot[1] == hi)
            return 0;
    }
}

static int grow(sf_hashset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, 2 * sizeof *slots);
    if (!slots)
        return SF_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t *old = &s->slots[2 * i];
        if (old[0] || old[1])
            insert(slots, cap, old[0], old[1]);
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

sf_hash128 sf_hashset_hash(const void *bytes, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(bytes, len);
    sf_hash128 r = {h.low64, h.high64};
    if (r.lo == 0 && r.hi == 0)
        r.lo = 1; /* (0, 0) marks empty slots */
    return r;
}

void sf_hashset_prefetch(const sf_hashset *s, sf_hash128 h)
{
    if (s->cap)
        __builtin_prefetch(&s->slots[2 * ((size_t)h.lo & (s->cap - 1))], 1);
}

int sf_hashset_add_hash(sf_hashset *s, sf_hash128 h)
{
    /* Grow at a load factor of 0.7. */
    if ((s->count + 1) * 10 > s->cap * 7 && grow(s) < 0)
        return SF_ENOMEM;
    int added = insert(s->slots, s->cap, h.lo, h.hi);
    s->count += (size_t)added;
    return added;
}

int sf_hashset_add(sf_hashset *s, const void *bytes, size_t len)
{
    return sf_hashset_add_hash(s, sf_hashset_hash(bytes, len));
}
