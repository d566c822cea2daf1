/*
 * hashset.h - a set of 128-bit hashes, for counting distinct values.
 *
 * `check` counts distinct invoices, products, customers, days and exact
 * duplicate rows over half a million records. Storing each value would mean
 * an allocation per value; storing a 128-bit XXH3 hash of it instead is exact
 * in practice (two different values collide with probability ~2^-128 per
 * pair, i.e. never for any input that fits on a disk) and keeps the set one
 * flat array. Open addressing with linear probing, load factor at most 0.7.
 *
 * The large sets are far bigger than the cache, so an insert is one cache
 * miss; sf_hashset_hash + sf_hashset_prefetch let a caller start that miss,
 * do other work, and then sf_hashset_add_hash.
 */
#ifndef SF_HASHSET_H
#define SF_HASHSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sf_hashset {
    uint64_t *slots; /* 2 words per slot; (0, 0) marks an empty slot */
    size_t cap;      /* slots, a power of two */
    size_t count;
} sf_hashset;

/* An empty set (no allocation until the first add). */
void sf_hashset_init(sf_hashset *s);

typedef struct sf_hash128 {
    uint64_t lo, hi;
} sf_hash128;

/* The 128-bit hash of bytes[0..len) (XXH3). */
sf_hash128 sf_hashset_hash(const void *bytes, size_t len);

/* Hint that h is about to be added. */
void sf_hashset_prefetch(const sf_hashset *s, sf_hash128 h);

/* Add a value by its hash; *added (when not NULL) says whether it was new.
 * 0, or SF_ENOMEM if the set could not grow (no message: the caller says
 * what it was counting, once for all its sets). */
int sf_hashset_add_hash(sf_hashset *s, sf_hash128 h, bool *added);

/* Add the value bytes[0..len) (hashed), as sf_hashset_add_hash. */
int sf_hashset_add(sf_hashset *s, const void *bytes, size_t len, bool *added);

/* Make room for n values without growing (a hint; 0 or SF_ENOMEM). */
int sf_hashset_reserve(sf_hashset *s, size_t n);

/* Number of distinct values added. */
static inline size_t sf_hashset_count(const sf_hashset *s)
{
    return s->count;
}

void sf_hashset_free(sf_hashset *s);

#endif
