/*
 * test_zero.c - the local log's zero-filler (src/stream/local/zero.h): it
 * fills ahead on its own thread; it never writes zeros where the commit
 * thread wrote entries, even when the writes overtake the zeros or wait
 * for a chunk; nothing is in flight while held; and through the whole log,
 * records appended from several threads while segments roll read back
 * whole, with files trimmed to their entries at close.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "stream/local/local.h"
#include "stream/local/zero.h"
#include "stream/stream.h"
#include "support.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static off_t fd_size(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return st.st_size;
}

/* Byte i of the "entries" the simulated commit thread writes: never 0. */
static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(1 + i % 251);
}

/* Wait (at most 30 s) until the zeroer completed `steps` steps. */
static void wait_steps(sf_zero *z, uint64_t steps)
{
    uint64_t n = 0;
    double s;
    for (int i = 0; i < 3000 && n < steps; i++) {
        sf_zero_stats(z, &n, &s);
        if (n < steps)
            sleep_ms(10);
    }
    assert_true(n >= steps);
}

static void test_zeros_never_cover_entries(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    partition p;
    recovery_note note = {0};
    sf_error err = {0};
    assert_int_equal(sf_partition_open(&p, dir, 0, false, &note, &err), 0);
    segment *seg = &p.segs[p.nsegs - 1];
    sf_zero *z = NULL;
    assert_int_equal(sf_zero_start(&p, 1, 64u << 20, &z, &err), 0);
    /* Idle: it fills PREALLOC_AHEAD ahead on its own. */
    wait_steps(z, 1);
    assert_true(fd_size(seg->fd) >= (off_t)PREALLOC_AHEAD);

    /* The commit thread's part: claim, write, publish; writes from 1 byte to
     * 1.5 MiB, so that some land in zeros, some overtake them and some reach
     * into a chunk being written. */
    size_t cap = 3u << 19;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    uint64_t size = 0;
    unsigned seed = 7;
    while (size < (24u << 20)) {
        seed = seed * 1103515245u + 12345u;
        size_t len = 1 + (seed >> 8) % (seed % 4 ? 4096 : cap);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(size + i);
        sf_zero_claim(z, &p, size + len);
        assert_int_equal(pwrite(seg->fd, buf, len, (off_t)size), (ssize_t)len);
        size += len;
        __atomic_store_n(&seg->size, size, __ATOMIC_RELAXED);
        sf_zero_kick(z);
    }
    /* Held: no chunk in flight, the file does not move. */
    sf_zero_hold(z);
    off_t held = fd_size(seg->fd);
    sleep_ms(50);
    assert_int_equal(fd_size(seg->fd), held);
    sf_zero_release(z);
    sf_zero_stop(z);

    /* Every byte written is there; past them, zeros only. */
    off_t end = fd_size(seg->fd);
    assert_true((uint64_t)end >= size);
    for (uint64_t at = 0; at < (uint64_t)end;) {
        size_t n = (uint64_t)end - at < cap ? (size_t)((uint64_t)end - at) : cap;
        assert_int_equal(pread(seg->fd, buf, n, (off_t)at), (ssize_t)n);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != (at + i < size ? pattern(at + i) : 0))
                fail_msg("byte %llu is %u", (unsigned long long)(at + i), buf[i]);
        at += n;
    }
    free(buf);
    sf_partition_close(&p);
    ut_tmpdir_remove(dir);
}

/* Through the log: appenders on several threads, small segments (rolls
 * while zeros are written), then every record back and trimmed files. */
typedef struct job {
    sf_stream *s;
    int base, n;
} job;

static void *appender(void *arg)
{
    job *j = arg;
    sf_record r;
    for (int i = 0; i < j->n; i++) {
        char inv[16];
        snprintf(inv, sizeof inv, "%d", 536000 + (j->base + i) / 3);
        ut_make(&r, inv, "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 6, UT_T0 + i, 2550, 17850,
                "United Kingdom");
        uint32_t part;
        sf_pos off;
        sf_error err = {0};
        if (sf_stream_append(j->s, &r, 1, &part, &off, &err) != 0)
            return (void *)1;
    }
    return NULL;
}

/* Bytes of the *.seg files in dir (stat, not the log's code). */
static uint64_t seg_files_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".seg") != 0)
            continue;
        char path[UT_PATH_MAX];
        struct stat st;
        ut_join(path, dir, e->d_name);
        assert_int_equal(stat(path, &st), 0);
        total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static void test_log_appends_beside_the_zeroer(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream_opts opts = {.partitions = 2, .segment_bytes = 768u << 10};
    sf_stream *s = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(dir, &opts, &s, &err), 0);
    enum { THREADS = 4, EACH = 10000 };
    job jobs[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){s, t * EACH, EACH};
        assert_int_equal(pthread_create(&th[t], NULL, appender, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        void *rc;
        pthread_join(th[t], &rc);
        assert_null(rc);
    }
    sf_stream_stats st;
    sf_stream_stats_get(s, &st);
    assert_true(st.preallocs > 0);
    assert_int_equal(st.records, THREADS * EACH);
    sf_stream_close(s);

    /* Closed cleanly: every segment holds its entries only. */
    sf_stream_opts ro = {.read_only = true};
    assert_int_equal(sf_stream_open(dir, &ro, &s, &err), 0);
    uint64_t total = 0;
    for (uint32_t p = 0; p < 2; p++) {
        sf_partition_info info;
        assert_int_equal(sf_stream_info(s, p, &info, &err), 0);
        assert_true(info.segments >= 2); /* rolled at least once */
        /* The segment files together hold the bytes of entries, no more. */
        char pdir[UT_PATH_MAX], name[32];
        snprintf(name, sizeof name, "p%04u", p);
        ut_join(pdir, dir, name);
        assert_int_equal(seg_files_bytes(pdir), info.bytes);
        /* And every record reads back (checksums checked by the read). */
        sf_stream_batch b;
        assert_int_equal(sf_stream_batch_init(&b, 512, 1u << 20, &err), 0);
        uint64_t at = 0;
        for (;;) {
            assert_int_equal(sf_stream_read(s, p, UT_AT(at), &b, &err), 0);
            if (b.count == 0)
                break;
            at = ut_off(&b.next);
        }
        assert_int_equal(at, ut_off(&info.end));
        total += at;
        sf_stream_batch_free(&b);
    }
    assert_int_equal(total, THREADS * EACH);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_never_cover_entries),
        cmocka_unit_test(test_log_appends_beside_the_zeroer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
