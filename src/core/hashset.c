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

int sf_hashset_add(sf_hashset *s, const void *bytes, size_t len)
{
    if ((s->count + 1) * 2 > s->cap && grow(s) < 0)
        return SF_ENOMEM;
    XXH128_hash_t h = XXH3_128bits(bytes, len);
    if (h.low64 == 0 && h.high64 == 0)
        h.low64 = 1; /* (0, 0) marks empty slots */
    int added = insert(s->slots, s->cap, h.low64, h.high64);
    s->count += (size_t)added;
    return added;
}
