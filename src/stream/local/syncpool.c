/*
 * syncpool.c - concurrent fdatasync (see syncpool.h).
 *
 * Each call is a generation. Its slots are claimed through one 64-bit atomic
 * holding (generation, next slot): a claim succeeds only for the generation
 * the claimer was woken for, so a helper that wakes late can never take a
 * slot of a later call, and each slot is synced exactly once. The caller
 * claims slots too and returns only when every slot is finished, so the
 * arrays of a call live as long as anyone may touch them.
 */
#include "stream/local/syncpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/progress.h"

typedef struct call {
    uint32_t gen;
    const int *fds;
    size_t n;
    double *seconds;
    int *errs;
} call;

struct sf_syncpool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t *threads;
    unsigned nthreads;
    bool stopping;
    call cur;               /* under mu */
    size_t finished;        /* slots of cur done (under mu) */
    _Atomic uint64_t claim; /* gen << 32 | next slot */
};

/* Claim and sync slots of call c until none are left. */
static void drain(sf_syncpool *p, const call *c)
{
    size_t done = 0;
    for (;;) {
        uint64_t v = atomic_load(&p->claim);
        if ((uint32_t)(v >> 32) != c->gen || (v & 0xffffffffu) >= c->n)
            break;
        if (!atomic_compare_exchange_weak(&p->claim, &v, v + 1))
            continue;
        size_t i = (size_t)(v & 0xffffffffu);
        double t0 = sf_monotonic();
        c->errs[i] = fdatasync(c->fds[i]) == 0 ? 0 : errno;
        c->seconds[i] = sf_monotonic() - t0;
        done++;
    }
    if (done) {
        pthread_mutex_lock(&p->mu);
        p->finished += done;
        if (p->finished == c->n)
            pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *helper(void *arg)
{
    sf_syncpool *p = arg;
    uint32_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && p->cur.gen == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stopping)
            break;
        call c = p->cur;
        seen = c.gen;
        pthread_mutex_unlock(&p->mu);
        drain(p, &c);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sf_syncpool *sf_syncpool_new(unsigned threads)
{
    sf_syncpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc(threads ? threads : 1, sizeof *p->threads);
    for (unsigned i = 0; p->threads && i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, helper, p) != 0)
            break;
        p->nthreads++;
    }
    return p;
}

int sf_syncpool_sync(sf_syncpool *p, const int *fds, size_t n, double *seconds, size_t *failed,
                     int *err_no)
{
    int errs_local[64];
    int *errs = n <= 64 ? errs_local : malloc(n * sizeof *errs);
    if (!errs) { /* no memory for the slots: sync here, one by one */
        for (size_t i = 0; i < n; i++)
            if (fdatasync(fds[i]) != 0) {
                *err_no = errno;
                *failed = i;
                return SF_EIO;
            }
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    call c = {p->cur.gen + 1, fds, n, seconds, errs};
    if (c.gen == 0)
        c.gen = 1; /* 0 is "no call yet" for the helpers */
    p->cur = c;
    p->finished = 0;
    atomic_store(&p->claim, (uint64_t)c.gen << 32);
    if (n > 1)
        pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    drain(p, &c);
    pthread_mutex_lock(&p->mu);
    while (p->finished < n)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (errs[i]) {
            *failed = i;
            *err_no = errs[i];
            rc = SF_EIO;
        }
    if (errs != errs_local)
        free(errs);
    return rc;
}

void sf_syncpool_free(sf_syncpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
