/*
 * parallel.c - a parallel for loop over threads started per call (see
 * parallel.h). Items are handed out one at a time through an atomic counter,
 * so uneven items (a large object beside small ones) balance themselves.
 */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define THREADS_MAX 16

typedef struct job {
    void (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next;
} job;

static void *work(void *arg)
{
    job *j = arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        j->fn(j->ctx, i);
    return NULL;
}

void sf_parallel_for(size_t n, unsigned threads, void (*fn)(void *ctx, size_t i), void *ctx)
{
    job j = {fn, ctx, n, 0};
    pthread_t th[THREADS_MAX];
    unsigned started = 0;
    if (threads > THREADS_MAX)
        threads = THREADS_MAX;
    if (threads > n)
        threads = (unsigned)n;
    while (started + 1 < threads && pthread_create(&th[started], NULL, work, &j) == 0)
        started++;
    work(&j);
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

unsigned sf_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}
