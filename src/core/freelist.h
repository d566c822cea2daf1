/*
 * freelist.h - a thread-safe cache of equal-sized memory blocks.
 *
 * For objects made on one thread and freed on another at a high rate: the
 * log's queued appends are allocated by the gateway's threads and freed by
 * the commit thread, one per request. Going through malloc each time costs
 * more than the mutex here (glibc's per-thread caches do not help when the
 * freeing thread is never the allocating one).
 *
 * Blocks of block_size bytes are handed out from the cache, or malloc'd when
 * it is empty; a block put back is kept while the cache holds fewer than
 * max_cached, else freed. The memory kept is therefore at most
 * block_size * max_cached.
 *
 * Ownership: a block from sf_freelist_get belongs to the caller until it is
 * given back with sf_freelist_put (to this same list) or free()d.
 * sf_freelist_destroy frees the cached blocks; blocks still out are the
 * holders' to free.
 */
#ifndef SF_FREELIST_H
#define SF_FREELIST_H

#include <pthread.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sf_freelist {
    pthread_mutex_t mu;
    void *head; /* cached blocks, linked through their first bytes */
    size_t count;
    size_t block_size, max_cached;
} sf_freelist;

/* An empty cache of blocks of block_size bytes (at least a pointer's size),
 * keeping at most max_cached. Returns 0, or SF_EINVAL for a block size
 * too small to link, SF_ENOMEM/SF_EIO when the mutex cannot be made. */
int sf_freelist_init(sf_freelist *f, size_t block_size, size_t max_cached, sf_error *err);

/* A block of f->block_size bytes (contents undefined), or NULL when out of
 * memory. */
void *sf_freelist_get(sf_freelist *f);

/* Give back a block from sf_freelist_get (NULL: nothing). */
void sf_freelist_put(sf_freelist *f, void *block);

/* Blocks cached now (for tests and statistics). */
size_t sf_freelist_cached(sf_freelist *f);

/* Free the cached blocks and the mutex. */
void sf_freelist_destroy(sf_freelist *f);

#endif
