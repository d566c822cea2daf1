/*
 * aggmap.c - the aggregation map (see aggmap.h). XXH3 of the key bytes picks
 * the slot; entries live in insertion order in one growing array, so
 * clearing is O(slots) and iteration touches no empty slots.
 */
#include "core/aggmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void sf_aggmap_init(sf_aggmap *m, size_t key_size, size_t val_size)
{
    /* Values hold int64s: keep them (and so every entry) 8-byte aligned. */
    size_t off = (key_size + 7u) & ~(size_t)7u;
    size_t entry = (off + val_size + 7u) & ~(size_t)7u;
    *m = (sf_aggmap){key_size, val_size, entry, off, NULL, 0, 0, NULL, 0};
}

static size_t slot_of(const sf_aggmap *m, const void *key)
{
    return (size_t)XXH3_64bits(key, m->key_size) & (m->nslots - 1);
}

static bool grow_slots(sf_aggmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    free(m->slots);
    m->slots = s;
    m->nslots = n;
    for (size_t i = 0; i < m->count; i++) {
        size_t j = slot_of(m, sf_aggmap_key(m, i));
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)(i + 1);
    }
    return true;
}

void *sf_aggmap_get(sf_aggmap *m, const void *key, bool *added)
{
    if (added)
        *added = false;
    if ((m->count + 1) * 2 > m->nslots && !grow_slots(m))
        return NULL;
    size_t j = slot_of(m, key);
    for (; m->slots[j]; j = (j + 1) & (m->nslots - 1)) {
        size_t i = m->slots[j] - 1u;
        if (memcmp(sf_aggmap_key(m, i), key, m->key_size) == 0)
            return sf_aggmap_value(m, i);
    }
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        if (cap >= UINT32_MAX)
            return NULL;
        uint8_t *e = realloc(m->entries, cap * m->entry_size);
        if (!e)
            return NULL;
        m->entries = e;
        m->cap = cap;
    }
    uint8_t *entry = m->entries + m->count * m->entry_size;
    memcpy(entry, key, m->key_size);
    memset(entry + m->key_size, 0, m->entry_size - m->key_size);
    m->slots[j] = (uint32_t)(++m->count);
    if (added)
        *added = true;
    return entry + m->val_offset;
}

/* qsort has no context argument: the key size of the sort in progress. */
static _Thread_local size_t sort_key_size;

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, sort_key_size);
}

bool sf_aggmap_sort(sf_aggmap *m)
{
    if (m->count < 2)
        return true;
    uint32_t *slots = calloc(m->nslots, sizeof *slots);
    if (!slots)
        return false;
    sort_key_size = m->key_size;
    qsort(m->entries, m->count, m->entry_size, cmp_key);
    free(m->slots);
    m->slots = slots;
    for (size_t i = 0; i < m->count; i++) {
        size_t j = slot_of(m, sf_aggmap_key(m, i));
        while (slots[j])
            j = (j + 1) & (m->nslots - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    return true;
}

void sf_aggmap_clear(sf_aggmap *m)
{
    if (m->count && m->slots)
        memset(m->slots, 0, m->nslots * sizeof *m->slots);
    m->count = 0;
}

void sf_aggmap_free(sf_aggmap *m)
{
    free(m->entries);
    free(m->slots);
    sf_aggmap_init(m, m->key_size, m->val_size);
}
