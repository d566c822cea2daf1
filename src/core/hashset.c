/*
 * hashset.c - set of 128-bit hashes (see hashset.h).
 *
 * Tables of 2 MiB and more are mapped directly and marked for transparent
 * huge pages: the big sets are written at random, and with 4 KiB pages the
 * first touch of each page (a fault and a page clear) cost more than all the
 * hashing in `check` on the bundled file.
 */
#define _GNU_SOURCE /* MADV_HUGEPAGE, MAP_ANONYMOUS */
#include "core/hashset.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "core/error.h"

#define BIG_TABLE (2u << 20)

/* A zeroed table of cap slots. */
static uint64_t *table_alloc(size_t cap)
{
    size_t bytes = cap * 2 * sizeof(uint64_t);
    if (bytes < BIG_TABLE)
        return calloc(cap, 2 * sizeof(uint64_t));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_HUGEPAGE); /* a hint: fine if refused */
    return p;
}

static void table_free(uint64_t *slots, size_t cap)
{
    size_t bytes = cap * 2 * sizeof(uint64_t);
    if (bytes < BIG_TABLE)
        free(slots);
    else if (slots)
        munmap(slots, bytes);
}

void sf_hashset_init(sf_hashset *s)
{
    s->slots = NULL;
    s->cap = 0;
    s->count = 0;
}

void sf_hashset_free(sf_hashset *s)
{
    table_free(s->slots, s->cap);
    sf_hashset_init(s);
}

/* Insert a key known not to be (0, 0); the table has room. Whether it
 * was new. */
static bool insert(uint64_t *slots, size_t cap, uint64_t lo, uint64_t hi)
{
    size_t mask = cap - 1;
    for (size_t i = (size_t)lo & mask;; i = (i + 1) & mask) {
        uint64_t *slot = &slots[2 * i];
        if (slot[0] == 0 && slot[1] == 0) {
            slot[0] = lo;
            slot[1] = hi;
            return true;
        }
        if (slot[0] == lo && slot[1] == hi)
            return false;
    }
}

static int resize(sf_hashset *s, size_t cap)
{
    uint64_t *slots = table_alloc(cap);
    if (!slots)
        return SF_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t *old = &s->slots[2 * i];
        if (old[0] || old[1])
            insert(slots, cap, old[0], old[1]);
    }
    table_free(s->slots, s->cap);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* The capacity that holds n values at a load factor of at most 0.7. */
static size_t cap_for(size_t n)
{
    size_t cap = 1024;
    while ((n + 1) * 10 > cap * 7)
        cap *= 2;
    return cap;
}

int sf_hashset_reserve(sf_hashset *s, size_t n)
{
    size_t cap = cap_for(n);
    return cap > s->cap ? resize(s, cap) : 0;
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

int sf_hashset_add_hash(sf_hashset *s, sf_hash128 h, bool *added)
{
    if ((s->count + 1) * 10 > s->cap * 7 && resize(s, cap_for(s->count + 1)) < 0)
        return SF_ENOMEM;
    bool fresh = insert(s->slots, s->cap, h.lo, h.hi);
    s->count += fresh;
    if (added)
        *added = fresh;
    return 0;
}

int sf_hashset_add(sf_hashset *s, const void *bytes, size_t len, bool *added)
{
    return sf_hashset_add_hash(s, sf_hashset_hash(bytes, len), added);
}
