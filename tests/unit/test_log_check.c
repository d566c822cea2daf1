/*
 * test_log_check.c - a damaged local log never loses acknowledged records
 * silently: the acknowledged mark (DIR/ends, exact after a kill), recovery
 * that refuses below it and cuts only past it, holes (read past, counted,
 * never given again), `log verify`'s findings and `log repair` of a cut
 * tail and of a damaged entry in the middle of a segment
 * (stream/local/check.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pack.h"
#include "stream/local/check.h"
#include "stream/local/local.h"
#include "stream/stream.h"
#include "support.h"

#define NREC 400

/* Record i: 4 lines per invoice, over the 8 partitions. */
static void make_record(sf_record *r, int i)
{
    char inv[16], desc[48];
    snprintf(inv, sizeof inv, "%d", 540000 + i / 4);
    snprintf(desc, sizeof desc, "ITEM %d", i);
    ut_make(r, inv, "85123A", desc, 1 + i % 7, UT_T0 + i, 2550, 17850, "United Kingdom");
}

/* Where each record went: which[p][offset] = i. */
typedef struct book {
    int which[8][NREC + 64];
    uint64_t end[8];
} book;

static book *new_log(const char *dir, int n)
{
    book *bk = calloc(1, sizeof *bk);
    sf_stream *s = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(dir, NULL, &s, &err), 0);
    sf_record *recs = calloc((size_t)n, sizeof *recs);
    uint32_t *parts = calloc((size_t)n, sizeof *parts);
    sf_pos *offs = calloc((size_t)n, sizeof *offs);
    for (int i = 0; i < n; i++)
        make_record(&recs[i], i);
    assert_int_equal(sf_stream_append(s, recs, (size_t)n, parts, offs, &err), 0);
    for (int i = 0; i < n; i++) {
        bk->which[parts[i]][ut_off(&offs[i])] = i;
        if (ut_off(&offs[i]) + 1 > bk->end[parts[i]])
            bk->end[parts[i]] = ut_off(&offs[i]) + 1;
    }
    sf_stream_close(s);
    free(recs);
    free(parts);
    free(offs);
    return bk;
}

static void seg_path(char out[UT_PATH_MAX], const char *dir, uint32_t p)
{
    int n = snprintf(out, UT_PATH_MAX, "%s/p%04u/00000000000000000000.seg", dir, p);
    assert_true(n > 0 && n < UT_PATH_MAX);
}

static off_t size_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Flip a byte of the payload of the entry that holds byte `near`; returns
 * the byte flipped. */
static off_t flip_payload(const char *path, off_t near)
{
    int fd = open(path, O_RDWR);
    off_t at = 0;
    uint8_t h[4];
    for (;;) {
        assert_int_equal(pread(fd, h, 4, at), 4);
        off_t size = ENTRY_HEADER + (h[0] | h[1] << 8 | h[2] << 16);
        if (at + size > near)
            break;
        at += size;
    }
    at += ENTRY_HEADER + 3;
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x55;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
    return at;
}

static uint64_t mark_of(const char *dir, uint32_t p)
{
    uint64_t marks[8];
    sf_error err = {0};
    assert_int_equal(sf_log_marks(dir, 8, marks, &err), 0);
    return marks[p];
}

static void test_mark_is_exact_after_a_kill(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    free(new_log(dir, 10));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* appends, then dies without closing (as under SIGKILL) */
        sf_stream *s = NULL;
        sf_error err = {0};
        sf_record r;
        make_record(&r, 11);
        uint32_t p;
        sf_pos off;
        if (sf_stream_open(dir, NULL, &s, &err) != 0 || sf_stream_append(s, &r, 1, &p, &off, &err))
            _exit(2);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    sf_record r;
    make_record(&r, 11);
    uint32_t p = sf_stream_partition_of(r.invoice_no, r.invoice_no_len, 8);
    sf_stream *s = NULL;
    sf_error err = {0};
    sf_stream_opts ro = {.read_only = true};
    assert_int_equal(sf_stream_open(dir, &ro, &s, &err), 0);
    sf_partition_info info;
    assert_int_equal(sf_stream_info(s, p, &info, &err), 0);
    assert_int_equal(mark_of(dir, p), ut_off(&info.end)); /* what the dead writer acknowledged */
    assert_int_equal(info.missing, 0);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

static void test_recovery_refuses_below_the_mark(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    book *bk = new_log(dir, NREC);
    seg_path(seg, dir, 2);
    off_t size = size_of(seg);
    uint8_t *whole = malloc((size_t)size);
    int fd = open(seg, O_RDONLY);
    assert_int_equal(read(fd, whole, (size_t)size), size);
    close(fd);
    assert_int_equal(truncate(seg, size - 5), 0);
    sf_stream *s = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(dir, NULL, &s, &err), SF_ECORRUPT);
    char want[64];
    snprintf(want, sizeof want, "offsets %llu to %llu (1 record)",
             (unsigned long long)bk->end[2] - 1, (unsigned long long)bk->end[2] - 1);
    assert_non_null(strstr(err.msg, "partition 2"));
    assert_non_null(strstr(err.msg, "00000000000000000000.seg"));
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "shopflow log repair"));
    assert_int_equal(size_of(seg), size - 5);      /* nothing cut: repair needs the bytes */
    assert_int_equal(mark_of(dir, 2), bk->end[2]); /* nor the witness overwritten */

    /* A reader says what it found, and its reads stop there, saying why. */
    sf_stream_opts ro = {.read_only = true};
    assert_int_equal(sf_stream_open(dir, &ro, &s, &err), 0);
    sf_partition_info info;
    assert_int_equal(sf_stream_info(s, 2, &info, &err), 0);
    assert_int_equal(info.missing, 1);
    sf_stream_batch b;
    sf_stream_batch_init(&b, 4096, 1 << 20, &err);
    assert_int_equal(sf_stream_read(s, 2, UT_AT(0), &b, &err), 0);
    assert_int_equal(b.count, bk->end[2] - 1);
    assert_int_equal(sf_stream_read(s, 2, UT_AT(ut_off(&b.next)), &b, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "were acknowledged but are missing"));
    sf_stream_batch_free(&b);
    sf_stream_close(s);

    /* Bytes past the mark were never acknowledged: a writer drops them. */
    ut_write_file(seg, whole, (size_t)size); /* whole again */
    fd = open(seg, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "torn write", 10), 10);
    close(fd);
    free(whole);
    assert_int_equal(sf_stream_open(dir, NULL, &s, &err), 0);
    sf_stream_close(s);
    assert_int_equal(size_of(seg), size);
    free(bk);
    ut_tmpdir_remove(dir);
}

/* The restore callback: the records as appended, except `missing` ones. */
typedef struct truth {
    const book *bk;
    uint32_t missing_part;
    uint64_t missing_from, missing_to;
    int calls;
} truth;

static int restore(void *ctx, uint32_t p, uint64_t first, size_t n, uint8_t *out, uint32_t *lens,
                   sf_error *err)
{
    (void)err;
    truth *t = ctx;
    t->calls++;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = first + i;
        lens[i] = 0;
        if (off >= t->bk->end[p] ||
            (p == t->missing_part && off >= t->missing_from && off < t->missing_to))
            continue;
        sf_record r;
        make_record(&r, t->bk->which[p][off]);
        lens[i] = (uint32_t)sf_record_pack(&r, out + i * SF_PACK_MAX, SF_PACK_MAX);
    }
    return 0;
}

typedef struct seen {
    sf_log_finding f[16];
    char what[16][512];
    size_t n;
} seen;

static void on_finding(void *ctx, const sf_log_finding *f)
{
    seen *s = ctx;
    if (s->n < 16) {
        s->f[s->n] = *f;
        snprintf(s->what[s->n], sizeof s->what[0], "%s", f->what);
        s->f[s->n].what = s->what[s->n];
        s->f[s->n].segment = NULL;
        s->n++;
    }
}

static const sf_log_finding *find(const seen *s, sf_log_finding_kind kind)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].kind == kind)
            return &s->f[i];
    return NULL;
}

static void test_verify_and_repair_a_damaged_middle_and_tail(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg1[UT_PATH_MAX], seg3[UT_PATH_MAX], saved[UT_PATH_MAX];
    ut_tmpdir(dir);
    book *bk = new_log(dir, NREC);
    seg_path(seg1, dir, 1);
    seg_path(seg3, dir, 3);
    off_t size1 = size_of(seg1), size3 = size_of(seg3);
    ut_join(saved, dir, "saved.seg");
    char cmd[3 * UT_PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp %s %s", seg1, saved);
    assert_int_equal(system(cmd), 0);

    sf_log_check_result res;
    sf_error err = {0};
    seen sn = {0};
    sf_log_check_opts o = {.on_finding = on_finding, .ctx = &sn};
    assert_int_equal(sf_log_verify(dir, &o, &res, &err), 0);
    assert_int_equal(res.problems, 0); /* a sound log */
    assert_int_equal(res.entries, NREC);

    off_t flipped = flip_payload(seg1, size1 / 2);  /* an entry in the middle */
    assert_int_equal(truncate(seg3, size3 - 5), 0); /* the tail */
    sn.n = 0;
    assert_int_equal(sf_log_verify(dir, &o, &res, &err), 0);
    assert_int_equal(res.problems, 2);
    const sf_log_finding *mid = find(&sn, SF_LOG_DAMAGED);
    assert_non_null(mid);
    assert_int_equal(mid->partition, 1);
    assert_true(mid->pos < (uint64_t)flipped && mid->pos + mid->bytes > (uint64_t)flipped);
    assert_int_equal(mid->count, 1);
    assert_non_null(strstr(mid->what, "fails its checksum"));

    /* Not while a writer holds the log. */
    sf_stream *w = NULL;
    int lock_fd;
    assert_int_equal(sf_log_lock(dir, &lock_fd, &err), 0);
    truth t = {bk, 9, 0, 0, 0};
    o.restore = restore;
    o.restore_ctx = &t;
    assert_int_equal(sf_log_repair(dir, &o, &res, &err), SF_EBUSY);
    close(lock_fd);

    sn.n = 0;
    assert_int_equal(sf_log_repair(dir, &o, &res, &err), 0);
    assert_int_equal(res.restored, 2);
    assert_int_equal(res.confirmed, 2); /* both entries still showed their checksums */
    assert_int_equal(res.marked, 0);
    assert_int_equal(res.rewritten, 2);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", seg1, saved);
    assert_int_equal(system(cmd), 0); /* byte for byte the sound segment */
    assert_int_equal(size_of(seg3), size3);
    assert_int_equal(sf_log_verify(dir, &o, &res, &err), 0);
    assert_int_equal(res.problems, 0);
    assert_int_equal(sf_stream_open(dir, NULL, &w, &err), 0);
    sf_stream_close(w);
    free(bk);
    ut_tmpdir_remove(dir);
}

/* Read all of partition p; entries into got[] by offset, holes counted. */
static uint64_t read_through(sf_stream *s, uint32_t p, uint64_t from, uint64_t *holes,
                             uint64_t *hole_from, uint64_t *hole_to)
{
    sf_stream_batch b;
    sf_error err = {0};
    sf_stream_batch_init(&b, 16, 1 << 16, &err);
    uint64_t n = 0;
    for (;;) {
        assert_int_equal(sf_stream_read(s, p, UT_AT(from), &b, &err), 0);
        if (b.count == 0 && ut_off(&b.next) == from)
            break;
        if (b.count == 0) { /* a hole: skipped, said */
            assert_true(sf_pos_cmp(&b.hole.to, &b.hole.from) > 0);
            assert_int_equal(ut_off(&b.next), ut_off(&b.hole.to));
            assert_non_null(strstr(b.hole.reason, "not in the archive"));
            (*holes)++;
            *hole_from = ut_off(&b.hole.from);
            *hole_to = ut_off(&b.hole.to);
        }
        for (size_t i = 0; i < b.count; i++)
            assert_int_equal(ut_off(&b.entries[i].pos), from + i); /* a batch never spans a hole */
        n += b.count;
        from = ut_off(&b.next);
    }
    sf_stream_batch_free(&b);
    return n;
}

static void test_holes_are_skipped_said_and_never_reused(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], seg[UT_PATH_MAX], meta[UT_PATH_MAX + 8];
    ut_tmpdir(dir);
    book *bk = new_log(dir, NREC);
    seg_path(seg, dir, 4);
    assert_int_equal(truncate(seg, size_of(seg) - 200), 0); /* the last few entries */
    truth t = {bk, 4, 0, bk->end[4], 0}; /* the archive holds none of partition 4 */
    sf_log_check_opts o = {.restore = restore, .restore_ctx = &t};
    sf_log_check_result res;
    sf_error err = {0};
    assert_int_equal(sf_log_repair(dir, &o, &res, &err), 0);
    uint64_t lost = res.marked;
    assert_true(lost >= 2);
    assert_int_equal(res.restored, 0);
    snprintf(meta, sizeof meta, "%s/meta", dir);
    FILE *f = fopen(meta, "r");
    char line[32] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "shopflow-log 2\n"); /* older binaries refuse it */

    sf_stream *s = NULL;
    assert_int_equal(sf_stream_open(dir, NULL, &s, &err), 0);
    uint64_t holes = 0, hf = 0, ht = 0;
    assert_int_equal(read_through(s, 4, 0, &holes, &hf, &ht), bk->end[4] - lost);
    assert_int_equal(holes, 1);
    assert_int_equal(hf, bk->end[4] - lost);
    assert_int_equal(ht, bk->end[4]);
    /* From inside the hole: skipped to its end. */
    holes = 0;
    assert_int_equal(read_through(s, 4, hf + 1, &holes, &hf, &ht), 0);
    assert_int_equal(holes, 1);
    assert_int_equal(hf, ht - lost + 1);
    sf_stream_stats st;
    sf_stream_stats_get(s, &st);
    assert_int_equal(st.hole_skips, 2);
    assert_int_equal(st.hole_offsets, 2 * lost - 1);
    /* The next record of partition 4 comes after the hole. */
    sf_record r;
    uint32_t p = 0;
    sf_pos off = {0};
    for (int i = NREC; p != 4; i++) {
        make_record(&r, i);
        p = sf_stream_partition_of(r.invoice_no, r.invoice_no_len, 8);
    }
    assert_int_equal(sf_stream_append(s, &r, 1, &p, &off, &err), 0);
    assert_int_equal(ut_off(&off), bk->end[4]);
    sf_stream_close(s);
    /* verify: a recorded hole is no problem. */
    seen sn = {0};
    sf_log_check_opts vo = {.on_finding = on_finding, .ctx = &sn};
    assert_int_equal(sf_log_verify(dir, &vo, &res, &err), 0);
    assert_int_equal(res.problems, 0);
    assert_int_equal(res.holes, lost);
    assert_non_null(find(&sn, SF_LOG_HOLE));
    free(bk);
    ut_tmpdir_remove(dir);
}

static void test_verify_finds_a_wrong_index_and_a_lost_offset(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], idx[UT_PATH_MAX + 64];
    ut_tmpdir(dir);
    book *bk = new_log(dir, NREC);
    snprintf(idx, sizeof idx, "%s/p0005/00000000000000000000.idx", dir);
    int fd = open(idx, O_WRONLY | O_APPEND);
    uint8_t bad[8] = {3, 0, 0, 0, 7, 0, 0, 0}; /* offset 3 at byte 7: no entry starts there */
    assert_int_equal(write(fd, bad, 8), 8);
    close(fd);
    /* A witness (a sink's position) past the log: acknowledged offsets lost. */
    uint64_t witness[8] = {0};
    witness[6] = bk->end[6] + 3;
    seen sn = {0};
    sf_log_check_opts o = {.witness = witness, .on_finding = on_finding, .ctx = &sn};
    sf_log_check_result res;
    sf_error err = {0};
    assert_int_equal(sf_log_verify(dir, &o, &res, &err), 0);
    assert_int_equal(res.problems, 2);
    const sf_log_finding *f = find(&sn, SF_LOG_INDEX);
    assert_non_null(f);
    assert_int_equal(f->partition, 5);
    f = find(&sn, SF_LOG_MISSING);
    assert_non_null(f);
    assert_int_equal(f->partition, 6);
    assert_int_equal(f->offset, bk->end[6]);
    assert_int_equal(f->count, 3);
    /* repair with no archive: the index rewritten, the lost offsets a hole. */
    assert_int_equal(sf_log_repair(dir, &o, &res, &err), 0);
    assert_int_equal(res.marked, 3);
    assert_int_equal(sf_log_verify(dir, &o, &res, &err), 0);
    assert_int_equal(res.problems, 0);
    free(bk);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mark_is_exact_after_a_kill),
        cmocka_unit_test(test_recovery_refuses_below_the_mark),
        cmocka_unit_test(test_verify_and_repair_a_damaged_middle_and_tail),
        cmocka_unit_test(test_holes_are_skipped_said_and_never_reused),
        cmocka_unit_test(test_verify_finds_a_wrong_index_and_a_lost_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
