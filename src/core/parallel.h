/*
 * parallel.h - run independent pieces of work on a few threads.
 *
 * For batches of work done now and then (compressing the objects of an
 * archive pass, syncing the files of a put): threads are started for the call
 * and joined before it returns, so there is no pool to own, start or stop,
 * and nothing outlives the call. The caller's thread works too, and if a
 * thread cannot be started the work still gets done by the others.
 */
#ifndef SF_PARALLEL_H
#define SF_PARALLEL_H

#include <stddef.h>

/* Call fn(ctx, i) once for every i in [0, n), on up to `threads` threads
 * (the caller's included; 0 or 1 = the caller only), in no particular order.
 * Returns when every call has returned. fn must be safe to run concurrently
 * for different i. */
void sf_parallel_for(size_t n, unsigned threads, void (*fn)(void *ctx, size_t i), void *ctx);

/* The number of online CPUs, at least 1. */
unsigned sf_cpu_count(void);

#endif
