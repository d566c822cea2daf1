/*
 * bench_time.h - what the benchmark programs share: a monotonic clock, and
 * the summary of a set of timed runs (sorted in place: p50, p99, mean, max).
 * Header-only, so a bench program still builds with a bare `cc`.
 */
#ifndef SF_BENCH_TIME_H
#define SF_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_summary {
    double p50, p99, mean, max; /* seconds */
} bench_summary;

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort t[0..n) (n > 0) and summarise it. */
static inline bench_summary bench_summarise(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    int p99 = (n * 99) / 100 < n ? (n * 99) / 100 : n - 1;
    return (bench_summary){t[n / 2], t[p99], sum / n, t[n - 1]};
}

#endif
