/*
 * test_log.c - the local stream log (src/stream): append and read back,
 * reopen, torn-tail recovery, corrupt entries, segment rolling and the
 * index, retention, concurrent appenders sharing fsyncs, read-only readers
 * beside a writer, the writer lock; the zero-filled space past the entries
 * (a zero tail is not data, garbage after it is, a crash leaves it behind).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pack.h"
#include "stream/local/local.h"
#include "stream/local/syncpool.h"
#include "stream/stream.h"
#include "support.h"

/* Record i of a deterministic sequence: 10 lines per invoice. */
static void make_record(sf_record *r, int i)
{
    char inv[16], stock[16], desc[64];
    snprintf(inv, sizeof inv, "%s%d", i % 70 < 10 ? "C" : "", 536000 + i / 10);
    snprintf(stock, sizeof stock, "S%05d", i % 997);
    snprintf(desc, sizeof desc, "ITEM %d WITH \"QUOTES\" AND TRAILING ", i);
    ut_make(r, inv, stock, desc, (i % 13) - 3, UT_T0 + i * 60, 1000 + i % 5000,
            i % 4 ? 12000 + i % 300 : SF_NO_CUSTOMER, "United Kingdom");
}

static sf_stream *open_log(const char *dir, const sf_stream_opts *opts)
{
    sf_stream *s = NULL;
    sf_error err = {0};
    int rc = sf_stream_open(dir, opts, &s, &err);
    if (rc != 0)
        fail_msg("open %s: %s", dir, err.msg);
    return s;
}

static void append_range(sf_stream *s, int from, int n, uint32_t *parts, sf_pos *offs)
{
    sf_record *recs = calloc((size_t)n, sizeof *recs);
    assert_non_null(recs);
    for (int i = 0; i < n; i++)
        make_record(&recs[i], from + i);
    sf_error err = {0};
    int rc = sf_stream_append(s, recs, (size_t)n, parts, offs, &err);
    if (rc != 0)
        fail_msg("append: %s", err.msg);
    free(recs);
}

/* Read all of partition p from `from`; check each entry is the expected
 * record (by the index recorded at append). Returns entries read. */
static uint64_t read_all(sf_stream *s, uint32_t p, uint64_t from, const int *which,
                         uint64_t expect_end)
{
    sf_stream_batch b;
    sf_error err = {0};
    assert_int_equal(sf_stream_batch_init(&b, 37, 4096, &err), 0); /* small: many reads */
    uint64_t at = from, n = 0;
    for (;;) {
        int rc = sf_stream_read(s, p, UT_AT(at), &b, &err);
        if (rc != 0)
            fail_msg("read p%u@%llu: rc %d: %s", p, (unsigned long long)at, rc, err.msg);
        if (b.count == 0)
            break;
        for (size_t k = 0; k < b.count; k++, at++, n++) {
            sf_record got, want;
            assert_int_equal(ut_off(&b.entries[k].pos), at);
            assert_int_equal(sf_record_unpack(b.entries[k].data, b.entries[k].len, &got), 0);
            if (which) {
                make_record(&want, which[at]);
                assert_true(sf_record_equal(&got, &want));
            }
        }
        assert_int_equal(ut_off(&b.next), at);
    }
    assert_int_equal(at, expect_end);
    sf_stream_batch_free(&b);
    return n;
}

/* Append n records one batch at a time; fill which[p][offset] = i. */
typedef struct layout {
    int *which[8];
    uint64_t end[8];
} layout;

/* Where records from..from+n must land (parts/offs, when given, are what
 * the log answered for them, checked against that). */
static void layout_expect(layout *l, int from, int n, const uint32_t *parts, const sf_pos *offs)
{
    for (int i = 0; i < n; i++) {
        sf_record r;
        make_record(&r, from + i);
        uint32_t p = sf_stream_partition_of(r.invoice_no, r.invoice_no_len, 8);
        if (parts) {
            assert_int_equal(parts[i], p);
            assert_int_equal(ut_off(&offs[i]), l->end[p]); /* contiguous, in order */
        }
        l->which[p] = realloc(l->which[p], (size_t)(l->end[p] + 1) * sizeof(int));
        l->which[p][l->end[p]++] = from + i;
    }
}

static void layout_append(layout *l, sf_stream *s, int from, int n)
{
    uint32_t *parts = calloc((size_t)n, sizeof *parts);
    sf_pos *offs = calloc((size_t)n, sizeof *offs);
    append_range(s, from, n, parts, offs);
    layout_expect(l, from, n, parts, offs);
    free(parts);
    free(offs);
}

static void layout_check(const layout *l, sf_stream *s)
{
    for (uint32_t p = 0; p < 8; p++)
        read_all(s, p, 0, l->which[p], l->end[p]);
}

static void layout_free(layout *l)
{
    for (int p = 0; p < 8; p++)
        free(l->which[p]);
}

static void test_append_read_reopen(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream *s = open_log(dir, NULL);
    assert_int_equal(sf_stream_partitions(s), 8);
    layout_append(&l, s, 0, 1000);
    layout_append(&l, s, 1000, 1);
    layout_check(&l, s);
    /* Reading at the end gives nothing; past it is an error. */
    sf_stream_batch b;
    sf_error err = {0};
    sf_stream_batch_init(&b, 10, 1 << 16, &err);
    assert_int_equal(sf_stream_read(s, 0, UT_AT(l.end[0]), &b, &err), 0);
    assert_int_equal(b.count, 0);
    assert_int_equal(sf_stream_read(s, 0, UT_AT(l.end[0] + 1), &b, &err), SF_ERANGE);
    assert_int_equal(sf_stream_read(s, 8, UT_AT(0), &b, &err), SF_EINVAL);
    sf_stream_batch_free(&b);
    /* No consumer groups here: joining says so, and every partition is the
     * caller's from the first look. */
    sf_stream_group g = {"unit", NULL, NULL, NULL};
    sf_stream_membership joined = SF_STREAM_GROUPED;
    assert_int_equal(sf_stream_join(s, &g, &joined, &err), 0);
    assert_int_equal(joined, SF_STREAM_UNGROUPED);
    uint8_t owned[8] = {0};
    uint64_t assignments = 0;
    assert_int_equal(sf_stream_owned(s, owned, &assignments, &err), 0);
    assert_int_equal(assignments, 1);
    for (int p = 0; p < 8; p++)
        assert_int_equal(owned[p], 1);
    sf_stream_leave(s);
    sf_stream_close(s);

    /* Reopened: the same content, and appends go on from the end. */
    sf_stream_opts opts = {.partitions = 3}; /* ignored: fixed at creation */
    s = open_log(dir, &opts);
    assert_int_equal(sf_stream_partitions(s), 8);
    layout_check(&l, s);
    layout_append(&l, s, 1001, 500);
    layout_check(&l, s);
    sf_stream_stats st;
    sf_stream_stats_get(s, &st);
    assert_int_equal(st.records, 500);
    assert_int_equal(st.appends, 1);
    sf_stream_close(s);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

static void last_segment(const char *dir, uint32_t p, char out[UT_PATH_MAX])
{
    int n = snprintf(out, UT_PATH_MAX, "%s/p%04u/00000000000000000000.seg", dir, p);
    assert_true(n > 0 && n < UT_PATH_MAX);
}

static void append_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static uint64_t entry_bytes(sf_stream *s, uint32_t p)
{
    sf_partition_info info;
    sf_error err = {0};
    assert_int_equal(sf_stream_info(s, p, &info, &err), 0);
    return info.bytes;
}

/* Close the writer s: a clean close leaves partition p's last segment
 * holding its entries only (the file as long as the entries' bytes). */
static void close_trimmed(sf_stream *s, const char *dir, uint32_t p)
{
    uint64_t bytes = entry_bytes(s, p);
    sf_stream_close(s);
    char seg[UT_PATH_MAX];
    last_segment(dir, p, seg);
    assert_int_equal(file_size(seg), bytes);
}

static void test_torn_tail_recovery(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream *s = open_log(dir, NULL);
    layout_append(&l, s, 0, 400);
    sf_stream_close(s);

    /* Partition 1: garbage. Partition 2: a header promising 200 bytes, then
     * 10. Partition 3: a whole entry with a wrong checksum. */
    last_segment(dir, 1, seg);
    off_t size1 = file_size(seg);
    append_bytes(seg, "garbage garbage garbage", 23);
    last_segment(dir, 2, seg);
    off_t size2 = file_size(seg);
    uint8_t half[26] = {200, 0, 0, 0, 1, 2, 3, 4};
    append_bytes(seg, half, sizeof half);
    last_segment(dir, 3, seg);
    off_t size3 = file_size(seg);
    uint8_t bad[16 + 40] = {40, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD};
    uint64_t next = l.end[3];
    memcpy(bad + 8, &next, 8); /* little-endian host, as the log */
    append_bytes(seg, bad, sizeof bad);

    s = open_log(dir, NULL);
    layout_check(&l, s);
    /* Cut back to the whole entries (while open, the file also holds the
     * zeros preallocated past them: count the entries). */
    assert_int_equal(entry_bytes(s, 1), size1);
    assert_int_equal(entry_bytes(s, 2), size2);
    assert_int_equal(entry_bytes(s, 3), size3);
    /* And the log goes on cleanly after the repair. */
    layout_append(&l, s, 400, 100);
    layout_check(&l, s);
    close_trimmed(s, dir, 1);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

static void test_corrupt_middle_is_reported(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream *s = open_log(dir, NULL);
    layout_append(&l, s, 0, 400);
    /* Flip a byte of the first entry's payload of partition 0. */
    last_segment(dir, 0, seg);
    int fd = open(seg, O_RDWR);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 20), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, 20), 1);
    close(fd);
    sf_stream_batch b;
    sf_error err = {0};
    sf_stream_batch_init(&b, 10, 1 << 16, &err);
    assert_int_equal(sf_stream_read(s, 0, UT_AT(0), &b, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "checksum"));
    sf_stream_batch_free(&b);
    sf_stream_close(s);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

static void test_segments_and_index(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream_opts opts = {.segment_bytes = 4096};
    sf_stream *s = open_log(dir, &opts);
    for (int i = 0; i < 40; i++)
        layout_append(&l, s, i * 100, 100);
    sf_partition_info info;
    sf_error err = {0};
    assert_int_equal(sf_stream_info(s, 5, &info, &err), 0);
    assert_true(info.segments > 5);
    assert_int_equal(ut_off(&info.start), 0);
    assert_int_equal(ut_off(&info.end), l.end[5]);
    layout_check(&l, s);
    /* Reads starting in the middle of segments, at every offset. */
    for (uint64_t from = 0; from < l.end[5]; from += 7)
        read_all(s, 5, from, l.which[5], l.end[5]);
    sf_stream_close(s);

    /* Remove every index file: reopening rebuilds them from the segments. */
    char cmd[UT_PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -f %s/p*/*.idx", dir);
    assert_int_equal(system(cmd), 0);
    s = open_log(dir, &opts);
    layout_check(&l, s);
    for (uint64_t from = 0; from < l.end[2]; from += 11)
        read_all(s, 2, from, l.which[2], l.end[2]);
    sf_stream_close(s);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

static void test_retention(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream_opts opts = {.segment_bytes = 4096, .retention_bytes = 16384};
    sf_stream *s = open_log(dir, &opts);
    for (int i = 0; i < 40; i++)
        layout_append(&l, s, i * 100, 100);
    sf_partition_info info;
    sf_error err = {0};
    assert_int_equal(sf_stream_info(s, 4, &info, &err), 0);
    assert_true(ut_off(&info.start) > 0);
    assert_true(info.bytes <= 16384 + 8192);
    sf_stream_batch b;
    sf_stream_batch_init(&b, 10, 1 << 16, &err);
    assert_int_equal(sf_stream_read(s, 4, UT_AT(0), &b, &err), SF_ERANGE);
    assert_int_equal(ut_off(&b.next), ut_off(&info.start));
    sf_stream_batch_free(&b);
    read_all(s, 4, ut_off(&info.start), l.which[4], l.end[4]);
    sf_stream_close(s);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

typedef struct appender_arg {
    sf_stream *s;
    int first, count;
    int failures;
} appender_arg;

static void *appender(void *p)
{
    appender_arg *a = p;
    for (int i = 0; i < a->count; i++) {
        sf_record r;
        make_record(&r, a->first + i);
        sf_error err = {0};
        if (sf_stream_append(a->s, &r, 1, NULL, NULL, &err) != 0)
            a->failures++;
    }
    return NULL;
}

static void test_concurrent_appenders_share_fsyncs(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = open_log(dir, NULL);
    enum { THREADS = 8, EACH = 150 };
    pthread_t t[THREADS];
    appender_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (appender_arg){s, i * EACH, EACH, 0};
        pthread_create(&t[i], NULL, appender, &args[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    sf_stream_stats st;
    sf_stream_stats_get(s, &st);
    assert_int_equal(st.appends, THREADS * EACH);
    assert_int_equal(st.records, THREADS * EACH);
    assert_true(st.groups <= st.appends);
    /* Every record is there exactly once. */
    char *seen = calloc(THREADS * EACH, 1);
    sf_stream_batch b;
    sf_error err = {0};
    sf_stream_batch_init(&b, 256, 1 << 16, &err);
    uint64_t total = 0;
    for (uint32_t p = 0; p < 8; p++) {
        uint64_t at = 0;
        while (sf_stream_read(s, p, UT_AT(at), &b, &err) == 0 && b.count) {
            for (size_t k = 0; k < b.count; k++) {
                sf_record r;
                assert_int_equal(sf_record_unpack(b.entries[k].data, b.entries[k].len, &r), 0);
                int i = atoi(r.description + 5);
                assert_true(i >= 0 && i < THREADS * EACH);
                assert_int_equal(seen[i], 0);
                seen[i] = 1;
                total++;
            }
            at = ut_off(&b.next);
        }
    }
    assert_int_equal(total, THREADS * EACH);
    free(seen);
    sf_stream_batch_free(&b);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

static void test_reader_beside_writer_and_lock(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream_opts wopts = {.segment_bytes = 4096};
    sf_stream *w = open_log(dir, &wopts);
    layout_append(&l, w, 0, 50);

    /* A second writer is refused, naming the process that holds the log. */
    sf_stream *w2 = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(dir, NULL, &w2, &err), SF_EBUSY);
    assert_non_null(strstr(err.msg, "open for writing by process"));

    sf_stream_opts ropts = {.read_only = true};
    sf_stream *r = open_log(dir, &ropts);
    layout_check(&l, r);
    /* New records, in new segments, become visible to the reader. */
    for (int i = 0; i < 10; i++)
        layout_append(&l, w, 50 + i * 60, 60);
    layout_check(&l, r);
    sf_record rec;
    make_record(&rec, 0);
    assert_int_equal(sf_stream_append(r, &rec, 1, NULL, NULL, &err), SF_EINVAL);
    sf_stream_close(r);
    sf_stream_close(w);
    layout_free(&l);

    /* A folder with no log cannot be opened read-only. */
    char empty[UT_PATH_MAX];
    ut_tmpdir(empty);
    assert_int_equal(sf_stream_open(empty, &ropts, &r, &err), SF_ENOENT);
    ut_tmpdir_remove(empty);
    ut_tmpdir_remove(dir);
}

static void test_syncpool(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 16];
    ut_tmpdir(dir);
    int fds[12];
    double secs[12];
    for (int i = 0; i < 12; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        fds[i] = open(path, O_RDWR | O_CREAT, 0644);
        assert_true(fds[i] >= 0);
        assert_int_equal(write(fds[i], "x", 1), 1);
    }
    sf_syncpool *p = sf_syncpool_new(3);
    int err_no = 0;
    size_t failed = 99;
    for (int round = 0; round < 200; round++) /* many calls: helpers must never mix them */
        assert_int_equal(sf_syncpool_sync(p, fds, (size_t)(round % 12) + 1, secs, &failed, &err_no),
                         0);
    assert_int_equal(failed, 99); /* untouched when all succeed */
    int bad = fds[7];
    fds[7] = 1000; /* not an open descriptor */
    assert_int_equal(sf_syncpool_sync(p, fds, 12, secs, &failed, &err_no), SF_EIO);
    assert_int_equal(failed, 7);
    assert_int_equal(err_no, EBADF);
    fds[7] = bad;
    assert_int_equal(sf_syncpool_sync(p, fds, 0, secs, &failed, &err_no), 0);
    sf_syncpool_free(p);
    p = sf_syncpool_new(0); /* no helpers: the caller does it all */
    assert_int_equal(sf_syncpool_sync(p, fds, 12, secs, &failed, &err_no), 0);
    sf_syncpool_free(p);
    for (int i = 0; i < 12; i++)
        close(fds[i]);
    ut_tmpdir_remove(dir);
}

/* Recover partition p's first segment read-only, as another process would:
 * its whole entries (size, next) and what the note calls dropped. */
static void recover_ro(const char *dir, uint32_t p, uint64_t *size, uint64_t *next,
                       uint64_t *dropped)
{
    char pdir[UT_PATH_MAX];
    int n = snprintf(pdir, sizeof pdir, "%s/p%04u", dir, p);
    assert_true(n > 0 && n < UT_PATH_MAX);
    segment seg;
    recovery_note note = {0};
    sf_error err = {0};
    assert_int_equal(sf_segment_open(pdir, 0, true, &seg, &err), 0);
    assert_int_equal(sf_segment_recover(&seg, false, &note, &err), 0);
    *size = seg.size;
    *next = seg.next;
    *dropped = note.dropped_bytes;
    sf_segment_close(&seg);
}

static void append_zeros(const char *path, size_t len)
{
    uint8_t *z = calloc(1, len);
    append_bytes(path, z, len);
    free(z);
}

static void test_zero_tail_is_not_dropped(void **state)
{
    (void)state;
    /* A header of zeros cannot pass: its length is 0, and its checksum
     * field (0) is not that of an empty payload at offset 0. */
    assert_int_not_equal(sf_entry_checksum(0, (const uint8_t *)"", 0), 0);
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    layout l = {0};
    sf_stream *s = open_log(dir, NULL);
    layout_append(&l, s, 0, 400);
    sf_stream_close(s);
    off_t size[4];
    for (uint32_t p = 1; p <= 3; p++) {
        last_segment(dir, p, seg);
        size[p] = file_size(seg);
    }
    /* 1: zeros only (a crash with space preallocated). 2: garbage after
     * zeros. 3: half an entry, then zeros. */
    last_segment(dir, 1, seg);
    append_zeros(seg, 3u << 20);
    last_segment(dir, 2, seg);
    append_zeros(seg, 1000);
    append_bytes(seg, "garbage", 7);
    append_zeros(seg, 5000);
    last_segment(dir, 3, seg);
    uint8_t half[26] = {200, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    append_bytes(seg, half, sizeof half);
    append_zeros(seg, 8192);

    uint64_t esize, next, dropped;
    recover_ro(dir, 1, &esize, &next, &dropped);
    assert_int_equal(esize, size[1]);
    assert_int_equal(next, l.end[1]);
    assert_int_equal(dropped, 0);
    recover_ro(dir, 2, &esize, &next, &dropped);
    assert_int_equal(esize, size[2]);
    assert_int_equal(next, l.end[2]);
    assert_int_equal(dropped, 1000 + 7); /* up to the last non-zero byte */
    recover_ro(dir, 3, &esize, &next, &dropped);
    assert_int_equal(esize, size[3]);
    assert_int_equal(next, l.end[3]);
    assert_int_equal(dropped, 14);

    /* A read-only opener sees the records and counts entries, not zeros. */
    sf_stream_opts ropts = {.read_only = true};
    s = open_log(dir, &ropts);
    layout_check(&l, s);
    for (uint32_t p = 1; p <= 3; p++)
        assert_int_equal(entry_bytes(s, p), size[p]);
    sf_stream_close(s);
    /* A writer cuts them all back, goes on, and a clean close leaves only
     * the entries. */
    s = open_log(dir, NULL);
    layout_check(&l, s);
    layout_append(&l, s, 400, 200);
    layout_check(&l, s);
    close_trimmed(s, dir, 2);
    s = open_log(dir, &ropts);
    layout_check(&l, s);
    sf_stream_close(s);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

static void test_crash_with_preallocated_tail(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    /* A writer that dies without closing (as under SIGKILL): its segments
     * keep the zeros preallocated past the entries. */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        layout cl = {0};
        sf_stream *w = open_log(dir, NULL);
        layout_append(&cl, w, 0, 300);
        layout_append(&cl, w, 300, 1);
        /* The commit thread zero-fills while idle: die once partition 4
         * has its space (or after 60 s, and the parent's check fails). */
        last_segment(dir, 4, seg);
        struct timespec tick = {0, 100 * 1000 * 1000};
        for (int i = 0; i < 600 && file_size(seg) < (off_t)PREALLOC_AHEAD; i++)
            nanosleep(&tick, NULL);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    layout l = {0};
    layout_expect(&l, 0, 301, NULL, NULL);
    last_segment(dir, 4, seg);
    assert_true(file_size(seg) >= (off_t)PREALLOC_AHEAD);

    /* Read-only (no writer): the records, no zeros taken for data. */
    uint64_t esize, next, dropped;
    recover_ro(dir, 4, &esize, &next, &dropped);
    assert_int_equal(next, l.end[4]);
    assert_int_equal(dropped, 0);
    assert_true(esize < PREALLOC_AHEAD);
    sf_stream_opts ropts = {.read_only = true};
    sf_stream *r = open_log(dir, &ropts);
    layout_check(&l, r);
    assert_int_equal(entry_bytes(r, 4), esize);
    sf_stream_close(r);

    /* The writer reopens, appends right after the last entry. */
    sf_stream *w = open_log(dir, NULL);
    layout_check(&l, w);
    assert_int_equal(entry_bytes(w, 4), esize);
    layout_append(&l, w, 301, 300);
    layout_check(&l, w);
    /* A reader beside it, in the preallocated segments. */
    r = open_log(dir, &ropts);
    layout_check(&l, r);
    layout_append(&l, w, 601, 50);
    layout_check(&l, r);
    for (uint32_t p = 0; p < 8; p++)
        assert_int_equal(entry_bytes(r, p), entry_bytes(w, p));
    sf_stream_close(r);
    close_trimmed(w, dir, 4);
    w = open_log(dir, NULL);
    layout_check(&l, w);
    sf_stream_close(w);
    layout_free(&l);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_reopen),
        cmocka_unit_test(test_torn_tail_recovery),
        cmocka_unit_test(test_corrupt_middle_is_reported),
        cmocka_unit_test(test_segments_and_index),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_concurrent_appenders_share_fsyncs),
        cmocka_unit_test(test_reader_beside_writer_and_lock),
        cmocka_unit_test(test_syncpool),
        cmocka_unit_test(test_zero_tail_is_not_dropped),
        cmocka_unit_test(test_crash_with_preallocated_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
