/*
 * freelist.c - the block cache (see freelist.h): a stack of blocks under a
 * mutex, the link stored in each cached block's first bytes.
 */
#include "core/freelist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int sf_freelist_init(sf_freelist *f, size_t block_size, size_t max_cached, sf_error *err)
{
    memset(f, 0, sizeof *f);
    if (block_size < sizeof(void *))
        return sf_error_set(err, SF_EINVAL, "a free list's blocks must hold a pointer (%zu bytes)",
                            block_size);
    int rc = pthread_mutex_init(&f->mu, NULL);
    if (rc != 0)
        return sf_error_set(err, rc == ENOMEM ? SF_ENOMEM : SF_EIO,
                            "cannot make a free list's mutex: %s", strerror(rc));
    f->block_size = block_size;
    f->max_cached = max_cached;
    return 0;
}

void *sf_freelist_get(sf_freelist *f)
{
    pthread_mutex_lock(&f->mu);
    void *b = f->head;
    if (b) {
        memcpy(&f->head, b, sizeof f->head);
        f->count--;
    }
    pthread_mutex_unlock(&f->mu);
    return b ? b : malloc(f->block_size);
}

void sf_freelist_put(sf_freelist *f, void *block)
{
    if (!block)
        return;
    pthread_mutex_lock(&f->mu);
    bool keep = f->count < f->max_cached;
    if (keep) {
        memcpy(block, &f->head, sizeof f->head);
        f->head = block;
        f->count++;
    }
    pthread_mutex_unlock(&f->mu);
    if (!keep)
        free(block);
}

size_t sf_freelist_cached(sf_freelist *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->count;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void sf_freelist_destroy(sf_freelist *f)
{
    if (!f->block_size)
        return; /* never initialised, or init failed */
    while (f->head) {
        void *b = f->head;
        memcpy(&f->head, b, sizeof f->head);
        free(b);
    }
    f->count = 0;
    pthread_mutex_destroy(&f->mu);
    f->block_size = 0;
}
