/*
 * arena.c - the bump allocator (see arena.h).
 *
 * Each arena block is preceded by a header holding its size, so realloc
 * knows how much to copy; blocks start on max_align_t boundaries, like
 * malloc's.
 */
#include "core/arena.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN  (alignof(max_align_t))
#define HEADER ((sizeof(size_t) + ALIGN - 1) / ALIGN * ALIGN)

void sf_arena_init(sf_arena *a, void *buf, size_t cap)
{
    /* Start the first block aligned whatever buf's own alignment is. */
    size_t skip = (ALIGN - (uintptr_t)buf % ALIGN) % ALIGN;
    a->buf = (unsigned char *)buf + (skip < cap ? skip : cap);
    a->cap = skip < cap ? cap - skip : 0;
    a->used = 0;
    a->last = 0;
}

void sf_arena_reset(sf_arena *a)
{
    a->used = 0;
    a->last = 0;
}

/* Compared as integers: p may point anywhere (a malloc'd block). */
static int owns(const sf_arena *a, const void *p)
{
    uintptr_t u = (uintptr_t)p, b = (uintptr_t)a->buf;
    return u >= b && u < b + a->cap;
}

static size_t size_of(const unsigned char *block)
{
    size_t n;
    memcpy(&n, block - HEADER, sizeof n);
    return n;
}

/* Room for a block of n bytes at the end of the buffer, or NULL. */
static void *bump(sf_arena *a, size_t n)
{
    size_t free_bytes = a->cap - a->used;
    if (n > free_bytes || HEADER > free_bytes - n)
        return NULL;
    size_t span = (HEADER + n + ALIGN - 1) / ALIGN * ALIGN;
    if (span > free_bytes)
        span = free_bytes; /* the tail: HEADER + n fits, the padding need not */
    unsigned char *h = a->buf + a->used;
    memcpy(h, &n, sizeof n);
    a->last = a->used;
    a->used += span;
    return h + HEADER;
}

void *sf_arena_alloc(sf_arena *a, size_t n)
{
    void *p = bump(a, n);
    return p ? p : malloc(n ? n : 1);
}

void *sf_arena_realloc(sf_arena *a, void *p, size_t n)
{
    if (!p)
        return sf_arena_alloc(a, n);
    if (!owns(a, p))
        return realloc(p, n ? n : 1);
    unsigned char *block = p;
    size_t old = size_of(block), at = (size_t)(block - a->buf) - HEADER;
    if (at == a->last) { /* the last block: grow or shrink in place if it fits */
        size_t used = a->used;
        a->used = at;
        if (bump(a, n))
            return p;
        a->used = used;
    }
    if (n <= old) {
        memcpy(block - HEADER, &n, sizeof n);
        return p;
    }
    void *q = sf_arena_alloc(a, n);
    if (q)
        memcpy(q, p, old);
    return q;
}

void sf_arena_free(sf_arena *a, void *p)
{
    if (p && !owns(a, p))
        free(p);
}
