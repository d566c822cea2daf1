/*
 * aggmap.h - a hash map from fixed-size keys to fixed-size values, for
 * aggregating many rows into few keys in memory (the warehouse sink's
 * rollups: a batch of thousands of lines becomes one upsert per key).
 *
 * Keys are compared as bytes, so a caller zeroes a key struct before filling
 * it (padding and the tail of text fields included). Entries are kept in one
 * array in insertion order (key, then the value at an 8-byte boundary), so iterating is a plain
 * loop and the order is deterministic; an index of 32-bit slots (open addressing, linear probing,
 * load at most 1/2) finds them. Values start zeroed.
 *
 * Pointers returned by sf_aggmap_get / sf_aggmap_value are valid until the
 * next sf_aggmap_get that adds a key (the array may move).
 */
#ifndef SF_AGGMAP_H
#define SF_AGGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sf_aggmap {
    size_t key_size, val_size, entry_size;
    size_t val_offset; /* the value follows the key, 8-byte aligned */
    uint8_t *entries;  /* count entries of entry_size bytes: key, then value */
    size_t count, cap;
    uint32_t *slots; /* nslots (a power of two); 0 = empty, else entry index + 1 */
    size_t nslots;
} sf_aggmap;

/* An empty map for keys of key_size bytes and values of val_size bytes. */
void sf_aggmap_init(sf_aggmap *m, size_t key_size, size_t val_size);

/* The value of key, added (zeroed) if absent; *added (may be NULL) says
 * which. NULL when out of memory. */
void *sf_aggmap_get(sf_aggmap *m, const void *key, bool *added);

/* Entry i (0 <= i < count), in insertion order. */
static inline const void *sf_aggmap_key(const sf_aggmap *m, size_t i)
{
    return m->entries + i * m->entry_size;
}
static inline void *sf_aggmap_value(const sf_aggmap *m, size_t i)
{
    return m->entries + i * m->entry_size + m->val_offset;
}

/* Reorder the entries by their key bytes (a text key padded with NULs sorts
 * as strcmp would), so that writing them to an ordered store goes through it
 * in order. Returns false when out of memory (the map is then unchanged). */
bool sf_aggmap_sort(sf_aggmap *m);

/* Forget every entry, keep the memory. */
void sf_aggmap_clear(sf_aggmap *m);

void sf_aggmap_free(sf_aggmap *m);

#endif
