/*
 * bench_fsync.c - what an fdatasync costs after a small write, appending
 * versus overwriting space that is already written, zero-filled and synced.
 *
 *   bench_fsync DIR [N] [RECORD_BYTES] [EXTEND_MIB]
 *
 * Three runs of N x (pwrite RECORD_BYTES + fdatasync) in a file in DIR:
 *  append     each write grows the file (what the local log did before it
 *             preallocated its segments);
 *  overwrite  the file was zero-filled and synced first, each write lands
 *             inside it (what the log does now);
 *  extend     EXTEND_MIB of zeros written and synced at once, the cost of
 *             one preallocation step, repeated 5 times.
 * Prints mean, p50, p99 and max in ms. Plain C (no shopflow code) so that it
 * measures the disk and the file system alone; results in docs/benchmarks.md.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"

static void report(const char *name, double *t, int n)
{
    bench_summary s = bench_summarise(t, n);
    printf("%-10s n=%-5d mean %7.3f ms  p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", name, n,
           s.mean * 1e3, s.p50 * 1e3, s.p99 * 1e3, s.max * 1e3);
}

static int fail(const char *what)
{
    perror(what);
    return 1;
}

/* n x (pwrite rec bytes at the running position + fdatasync). */
static int writes(int fd, int n, const char *rec, size_t rec_len, double *t)
{
    for (int i = 0; i < n; i++) {
        double t0 = bench_now();
        if (pwrite(fd, rec, rec_len, (off_t)((size_t)i * rec_len)) != (ssize_t)rec_len ||
            fdatasync(fd) != 0)
            return -1;
        t[i] = bench_now() - t0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_fsync DIR [N] [RECORD_BYTES] [EXTEND_MIB]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 300;
    size_t rec_len = argc > 3 ? (size_t)atoi(argv[3]) : 250;
    size_t ext = (argc > 4 ? (size_t)atoi(argv[4]) : 2) << 20;
    if (n < 1 || rec_len < 1 || ext < 1)
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_fsync.%ld", argv[1], (long)getpid());
    char *rec = malloc(rec_len), *zeros = calloc(1, ext);
    double *t = calloc((size_t)n, sizeof *t);
    if (!rec || !zeros || !t)
        return fail("malloc");
    memset(rec, 'x', rec_len);

    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fsync(fd) != 0 || writes(fd, n, rec, rec_len, t) != 0)
        return fail(path);
    report("append", t, n);

    /* Zero-fill the same span again from scratch, sync, then overwrite. */
    if (ftruncate(fd, 0) != 0 || fsync(fd) != 0)
        return fail(path);
    size_t span = (size_t)n * rec_len;
    for (size_t at = 0; at < span; at += ext)
        if (pwrite(fd, zeros, span - at < ext ? span - at : ext, (off_t)at) < 0)
            return fail(path);
    if (fdatasync(fd) != 0 || writes(fd, n, rec, rec_len, t) != 0)
        return fail(path);
    report("overwrite", t, n);

    /* One preallocation step: ext bytes of zeros past the end, synced. */
    off_t end = (off_t)span;
    for (int i = 0; i < 5; i++) {
        double t0 = bench_now();
        if (pwrite(fd, zeros, ext, end) != (ssize_t)ext || fdatasync(fd) != 0)
            return fail(path);
        t[i] = bench_now() - t0;
        end += (off_t)ext;
    }
    report("extend", t, 5);
    close(fd);
    unlink(path);
    free(rec);
    free(zeros);
    free(t);
    return 0;
}
