/*
 * bench_zerofill.c - what keeping a file zero-filled ahead of its writes
 * costs the writes, depending on who writes the zeros and how.
 *
 *   bench_zerofill DIR [ROUNDS] [ROUND_BYTES] [CHUNK_KIB]
 *
 * A "commit thread" does ROUNDS x (pwrite ROUND_BYTES at the running end +
 * fdatasync), like the local log's commit rounds, while the file is kept
 * zero-filled and synced 4 MiB ahead of it (extended by 2 MiB when half is
 * left), in one of four ways:
 *  none       no zeros: every write grows the file;
 *  inline     the commit thread writes 2 MiB of zeros + fdatasync between
 *             two rounds (what the log did up to session 4);
 *  bg-sfr     a second thread writes the zeros in CHUNK_KIB pieces, each
 *             pushed to the disk at once with sync_file_range (so the
 *             commit thread's fdatasync finds at most one chunk dirty),
 *             and fdatasyncs at the end of each step;
 *  bg-direct  the same with O_DIRECT | O_DSYNC writes from an aligned
 *             buffer (never in the page cache).
 * Prints, per mode, the round time (pwrite + fdatasync) and the gap from
 * one round's start to the next (a request arriving then waits that long):
 * mean, p50, p99, max in ms, and for the gaps the p99 weighted by time (what
 * a request arriving at a random moment waits at worst 1 % of the time). Plain C, no shopflow code:
 * the disk and the file system alone. Results in docs/benchmarks.md.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_time.h"

#define AHEAD (4u << 20)
#define STEP  (2u << 20)

typedef struct zstate {
    int fd, dfd;      /* buffered, O_DIRECT|O_DSYNC */
    bool direct, sfr; /* sfr: sync_file_range each buffered chunk */
    size_t chunk;
    _Atomic unsigned long long written; /* end of the commit thread's writes */
    _Atomic unsigned long long zeroed;  /* zeros written and synced up to here */
    _Atomic bool stop;
    unsigned char *zeros;
} zstate;

/* Zero [from, to) in chunks; 0 or -1. */
static int zero_range(zstate *z, unsigned long long from, unsigned long long to)
{
    for (unsigned long long at = from; at < to;) {
        size_t n = to - at < z->chunk ? (size_t)(to - at) : z->chunk;
        if (z->direct) {
            if (pwrite(z->dfd, z->zeros, n, (off_t)at) != (ssize_t)n)
                return -1;
        } else if (pwrite(z->fd, z->zeros, n, (off_t)at) != (ssize_t)n ||
                   (z->sfr && sync_file_range(z->fd, (off_t)at, (off_t)n,
                                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                                  SYNC_FILE_RANGE_WAIT_AFTER) != 0)) {
            return -1;
        }
        at += n;
    }
    return z->direct ? 0 : fdatasync(z->fd);
}

static void *zeroer(void *arg)
{
    zstate *z = arg;
    while (!atomic_load(&z->stop)) {
        unsigned long long w = atomic_load(&z->written), zd = atomic_load(&z->zeroed);
        if (zd - w >= AHEAD / 2 && zd > w) {
            usleep(200);
            continue;
        }
        /* aligned steps: the commit thread never writes this far ahead */
        unsigned long long from = zd > w ? zd : (w + 4095) / 4096 * 4096 + 4096;
        if (zero_range(z, from, from + STEP) != 0) {
            perror("zero");
            return NULL;
        }
        atomic_store(&z->zeroed, from + STEP);
    }
    return NULL;
}

/* The p99 of what a request arriving at a random moment waits for the next
 * round to start: gaps weighted by their length (a 10 ms gap catches 50
 * times the arrivals of a 0.2 ms one). t must be sorted. */
static double time_weighted_p99(const double *t, int n)
{
    double total = 0, tail = 0;
    for (int i = 0; i < n; i++)
        total += t[i];
    for (int i = n - 1; i >= 0; i--)
        if ((tail += t[i]) >= total / 100)
            return t[i];
    return t[0];
}

static void report(const char *mode, const char *what, double *t, int n)
{
    bench_summary s = bench_summarise(t, n);
    printf("%-10s %-6s mean %6.3f ms  p50 %6.3f ms  p99 %6.3f ms  max %7.3f ms", mode, what,
           s.mean * 1e3, s.p50 * 1e3, s.p99 * 1e3, s.max * 1e3);
    if (strcmp(what, "gap") == 0)
        printf("  time-weighted p99 %6.3f ms", time_weighted_p99(t, n) * 1e3);
    printf("\n");
}

static int run(const char *dir, const char *mode, int rounds, size_t round_bytes, size_t chunk)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_zerofill.%s", dir, mode);
    zstate z = {.chunk = chunk,
                .direct = strcmp(mode, "bg-direct") == 0,
                .sfr = strcmp(mode, "bg-sfr") == 0};
    z.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    z.dfd = z.direct ? open(path, O_WRONLY | O_DIRECT | O_DSYNC) : -1;
    if (z.fd < 0 || (z.direct && z.dfd < 0) || posix_memalign((void **)&z.zeros, 4096, chunk))
        return perror(path), -1;
    memset(z.zeros, 0, chunk);
    unsigned char *rec = malloc(round_bytes);
    double *t = malloc(sizeof *t * (size_t)rounds), *gap = malloc(sizeof *gap * (size_t)rounds);
    memset(rec, 'x', round_bytes);
    bool bg = strncmp(mode, "bg-", 3) == 0, in = strcmp(mode, "inline") == 0;
    pthread_t th;
    if (bg && pthread_create(&th, NULL, zeroer, &z) != 0)
        return -1;
    unsigned long long at = 0, zeroed = 0;
    double prev = bench_now();
    for (int i = 0; i < rounds; i++) {
        double t0 = bench_now();
        if (pwrite(z.fd, rec, round_bytes, (off_t)at) != (ssize_t)round_bytes || fdatasync(z.fd))
            return perror("commit"), -1;
        at += round_bytes;
        atomic_store(&z.written, at);
        double t1 = bench_now();
        t[i] = t1 - t0;
        gap[i] = t0 - prev;
        prev = t0;
        if (in && (zeroed < at || zeroed - at < AHEAD / 2)) {
            unsigned long long from = zeroed > at ? zeroed : at;
            if (zero_range(&z, from, at + AHEAD) != 0)
                return perror("zero"), -1;
            zeroed = at + AHEAD;
        }
    }
    atomic_store(&z.stop, true);
    if (bg)
        pthread_join(th, NULL);
    report(mode, "round", t, rounds);
    report(mode, "gap", gap + 1, rounds - 1);
    close(z.fd);
    if (z.dfd >= 0)
        close(z.dfd);
    unlink(path);
    free(z.zeros);
    free(rec);
    free(t);
    free(gap);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_zerofill DIR [ROUNDS] [ROUND_BYTES] [CHUNK_KIB]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3000;
    size_t round_bytes = argc > 3 ? (size_t)atoi(argv[3]) : 4096;
    size_t chunk = (argc > 4 ? (size_t)atoi(argv[4]) : 256) << 10;
    if (rounds < 2 || round_bytes == 0 || chunk == 0 || chunk % 4096)
        return fprintf(stderr, "bad arguments (CHUNK_KIB a multiple of 4)\n"), 2;
    printf("%d rounds of %zu bytes + fdatasync, zeros %u MiB ahead, chunks of %zu KiB\n", rounds,
           round_bytes, AHEAD >> 20, chunk >> 10);
    const char *modes[] = {"none", "inline", "bg-sfr", "bg-direct"};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        if (run(argv[1], modes[m], rounds, round_bytes, chunk) != 0)
            return 1;
    return 0;
}
