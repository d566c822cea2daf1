/*
 * arena.h - a bump allocator over a buffer the caller provides, for the
 * few small allocations a parser makes per input (yajl's handle, lexer and
 * stacks: five mallocs and frees per single-record request in the gateway).
 * Reset between inputs, it hands out the same memory again without calling
 * malloc.
 *
 * What does not fit in the buffer is malloc'd and freed as usual: a block
 * is the arena's when its address is inside the buffer. Freeing an arena
 * block does nothing (its space comes back at the reset); growing the last
 * block grows it in place.
 *
 * Ownership: the caller owns the buffer, which must outlive the arena's
 * blocks; sf_arena_free releases malloc'd blocks. sf_arena_reset forgets
 * every arena block, so all of them must be dead by then; malloc'd blocks
 * are not tracked and must have been freed with sf_arena_free. Not thread
 * safe: one arena per user.
 */
#ifndef SF_ARENA_H
#define SF_ARENA_H

#include <stddef.h>

typedef struct sf_arena {
    unsigned char *buf;
    size_t cap;  /* bytes in buf */
    size_t used; /* bytes handed out, headers included */
    size_t last; /* offset of the last block's header (valid when used > 0) */
} sf_arena;

/* An arena over buf[0..cap), empty. */
void sf_arena_init(sf_arena *a, void *buf, size_t cap);

/* n bytes aligned for any type, from the buffer or else from malloc; NULL
 * when neither has room (n too large, or out of memory). */
void *sf_arena_alloc(sf_arena *a, size_t n);

/* realloc for both kinds of block (p NULL: sf_arena_alloc). On failure
 * returns NULL and p is left as it was. */
void *sf_arena_realloc(sf_arena *a, void *p, size_t n);

/* Free p (NULL: nothing): malloc'd blocks go back to libc. */
void sf_arena_free(sf_arena *a, void *p);

/* Forget every arena block: the whole buffer is free again. */
void sf_arena_reset(sf_arena *a);

#endif
