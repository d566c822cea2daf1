/*
 * test_ledger.c - the import ledger (sinks/ledger.h): its ids, range sets,
 * its file read back exactly or refused when damaged, and the ledger made
 * again from a log: rebuilt when missing, damaged or another log's, caught
 * up past its positions, settled after an import either by bookkeeping or
 * by reading the log; and all of it on a stream of wide, sparse positions
 * (Kinesis's sequence numbers: wide_stream.h), with ledgers written before
 * positions were wider read as they are.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "core/pack.h"
#include "sinks/ledger.h"
#include "sinks/ledger_internal.h"
#include "stream/local/check.h"
#include "stream/stream.h"
#include "support.h"
#include "wide_stream.h"

#define HASH_A "0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210"

static sf_ledger_key file_key(const char *hash)
{
    sf_ledger_key k;
    assert_int_equal(sf_ledger_file_key(hash, &k), 0);
    return k;
}

static sf_ledger_key archive_key(uint32_t p)
{
    sf_ledger_key k = {.kind = SF_LEDGER_ARCHIVE, .lo = p};
    return k;
}

static bool parses(const char *id, sf_ledger_key *k, uint64_t *row)
{
    return sf_ledger_parse_id(id, strlen(id), k, row);
}

static void test_ids(void **state)
{
    (void)state;
    sf_ledger_key k, a = file_key(HASH_A);
    uint64_t row;
    assert_true(parses("imp-" HASH_A "-0", &k, &row));
    assert_memory_equal(&k, &a, sizeof k);
    assert_int_equal(row, 0);
    assert_true(parses("imp-" HASH_A "-18446744073709551615", &k, &row));
    assert_true(row == UINT64_MAX);
    assert_true(parses("arc-7-123", &k, &row));
    assert_int_equal(k.kind, SF_LEDGER_ARCHIVE);
    assert_int_equal(k.lo, 7);
    assert_int_equal(row, 123);
    char prefix[64];
    sf_ledger_key_prefix(&a, prefix, sizeof prefix);
    assert_string_equal(prefix, "imp-" HASH_A "-");
    sf_ledger_key_prefix(&k, prefix, sizeof prefix);
    assert_string_equal(prefix, "arc-7-");
    /* Only the exact forms: another spelling is another id. */
    const char *not_ours[] = {
        "imp-0123456789ABCDEF0123456789abcdef-1",
        "imp-0123456789abcdef0123456789abcde-1",
        "imp-" HASH_A "-01",
        "imp-" HASH_A "-",
        "imp-" HASH_A "-18446744073709551616",
        "imp-" HASH_A "-1x",
        "imp-" HASH_A "x-1",
        "arc-07-1",
        "arc--1",
        "arc-1-",
        "arc-4294967296-1",
        "ev-1",
        "IMP-" HASH_A "-1",
        ("imp-" HASH_A),
    };
    for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++)
        assert_false(parses(not_ours[i], &k, &row));
}

/* Range sets against a bitmap: counts, and no two ranges touching. */
static void test_ranges(void **state)
{
    (void)state;
    sf_rangeset s = {0};
    assert_int_equal(sf_rangeset_add(&s, 10, 19), 0);
    assert_int_equal(sf_rangeset_add(&s, 30, 39), 0);
    assert_int_equal(sf_rangeset_add(&s, 20, 29), 0); /* fills the gap: one range */
    assert_int_equal(s.n, 1);
    assert_true(s.r[0].first == 10 && s.r[0].last == 39);
    assert_int_equal(sf_rangeset_add(&s, 0, 3), 0);
    assert_int_equal(sf_rangeset_add(&s, 5, 5), 0);
    assert_int_equal(sf_rangeset_add(&s, 45, 50), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(sf_rangeset_add(&s, 2, 47), 0); /* swallows all but the first's start */
    assert_int_equal(s.n, 1);
    assert_true(s.r[0].first == 0 && s.r[0].last == 50);
    free(s.r);

    enum { N = 3000 };
    static unsigned char bit[N];
    memset(bit, 0, sizeof bit);
    s = (sf_rangeset){0};
    srand(15);
    for (int i = 0; i < 2000; i++) {
        uint64_t a = (uint64_t)(rand() % N), len = (uint64_t)(rand() % 4);
        uint64_t b = a + len < N ? a + len : N - 1;
        assert_int_equal(sf_rangeset_add(&s, a, b), 0);
        memset(bit + a, 1, b - a + 1);
        if (i % 100)
            continue;
        size_t runs = 0;
        for (int j = 0; j < N; j++)
            runs += bit[j] && (j == 0 || !bit[j - 1]);
        assert_int_equal(s.n, runs);
        for (int t = 0; t < 50; t++) {
            uint64_t x = (uint64_t)(rand() % N), y = x + (uint64_t)(rand() % 200);
            uint64_t want = 0;
            for (uint64_t j = x; j <= y && j < N; j++)
                want += bit[j];
            assert_int_equal(sf_rangeset_count(&s, x, y), want);
        }
    }
    free(s.r);
}

static sf_ledger *sample(void)
{
    sf_ledger *l;
    sf_error err = {0};
    assert_int_equal(sf_ledger_new(3, "somewhere/log", &l, &err), 0);
    sf_ledger_key a = file_key(HASH_A), b = file_key(HASH_B), c = archive_key(2);
    assert_int_equal(sf_ledger_add(l, &a, 0, 541908, &err), 0);
    assert_int_equal(sf_ledger_add(l, &b, 5, 5, &err), 0);
    assert_int_equal(sf_ledger_add(l, &b, 100, 4095, &err), 0);
    assert_int_equal(sf_ledger_add(l, &b, 8192, 9000, &err), 0);
    assert_int_equal(sf_ledger_add(l, &c, 0, 99, &err), 0);
    sf_pos at = ut_pos(1234);
    sf_ledger_set_position(l, 0, &at, 0xabcdefULL);
    at = ut_pos(99);
    sf_ledger_set_position(l, 2, &at, 1);
    return l;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_file_round_trip(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX], again[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "log.ledger");
    ut_join(again, dir, "again.ledger");
    sf_error err = {0};
    sf_ledger *l = sample(), *r;
    assert_int_equal(sf_ledger_write(l, path, &err), 0);
    assert_int_equal(sf_ledger_read(path, &r, &err), 0);
    assert_int_equal(sf_ledger_partitions(r), 3);
    assert_int_equal(sf_ledger_keys(r), 3);
    assert_int_equal(sf_ledger_ranges(r), 5);
    sf_ledger_key a = file_key(HASH_A), b = file_key(HASH_B), c = archive_key(2);
    assert_int_equal(sf_ledger_count(r, &a, 0, UINT64_MAX), 541909);
    assert_int_equal(sf_ledger_count(r, &b, 0, 10000), 1 + 3996 + 809);
    assert_int_equal(sf_ledger_count(r, &c, 50, 150), 50);
    sf_pos end;
    uint64_t print;
    sf_ledger_position(r, 0, &end, &print);
    assert_true(ut_off(&end) == 1234 && print == 0xabcdefULL);
    sf_ledger_position(r, 1, &end, &print);
    assert_true(ut_off(&end) == 0 && print == 0);
    /* Written again: the same bytes. */
    assert_int_equal(sf_ledger_write(r, again, &err), 0);
    size_t n1, n2;
    char *t1 = slurp(path, &n1), *t2 = slurp(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    assert_non_null(strstr(t1, "\nimp-" HASH_B " 5 100-4095 8192-9000\n"));
    assert_non_null(strstr(t1, "\narc-2 0-99\n"));
    free(t2);
    sf_ledger_free(r);

    /* Damaged: a flipped byte, a cut, a valid checksum over bad content. */
    t1[n1 / 2] ^= 0x20;
    ut_write_file(path, t1, n1);
    assert_int_equal(sf_ledger_read(path, &r, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum does not match"));
    t1[n1 / 2] ^= 0x20;
    ut_write_file(path, t1, n1 - 5);
    assert_int_equal(sf_ledger_read(path, &r, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "no checksum line"));
    free(t1);
    const char *bad = "shopflow-ledger 1\nstream x\npartitions 1\nend 0 5 0000000000000001\n"
                      "imp-" HASH_A " 10-20 15-30\n";
    char text[512];
    snprintf(text, sizeof text, "%schecksum %016llx\n", bad,
             (unsigned long long)XXH3_64bits(bad, strlen(bad)));
    ut_write_file(path, text, strlen(text));
    assert_int_equal(sf_ledger_read(path, &r, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "line 5: ranges out of order"));
    unlink(path);
    assert_int_equal(sf_ledger_read(path, &r, &err), SF_ENOENT);
    sf_ledger_free(l);
    ut_tmpdir_remove(dir);
}

/* Record i of a test log, with this id (NULL: none), over invoices enough
 * to reach every partition. */
static void make(sf_record *r, size_t i, const char *id)
{
    char inv[16];
    snprintf(inv, sizeof inv, "5%05zu", i % 41);
    ut_make(r, inv, "S1", "D", 1, UT_T0, 1000, 12345, "France");
    if (id)
        r->event_id_len = (uint8_t)snprintf(r->event_id, sizeof r->event_id, "%s", id);
}

/* Records appended to s with these ids (NULL: none); packed (may be NULL)
 * gets them as the stream was given them, lens their lengths. */
static void append_ids(sf_stream *s, const char *const *ids, size_t n, uint32_t *parts,
                       sf_pos *offsets, uint8_t *packed, uint32_t *lens)
{
    sf_record *recs = calloc(n, sizeof *recs);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        make(&recs[i], i, ids[i]);
        if (packed) {
            lens[i] = (uint32_t)sf_record_pack(&recs[i], packed + at, SF_PACK_MAX);
            at += lens[i];
        }
    }
    sf_error err = {0};
    assert_int_equal(sf_stream_append(s, recs, n, parts, offsets, &err), 0);
    free(recs);
}

/* A log holding rows 0-99 and 150-199 of file A (as an import cut short,
 * then replayed in part), offsets 0-9 of archive partition 1, client ids
 * and records without. */
static void fill_log(sf_stream *s)
{
    enum { N = 200 };
    static char text[N][80];
    const char *ids[N];
    for (int i = 0; i < N; i++) {
        if (i < 100 || i >= 150)
            snprintf(text[i], sizeof text[i], "imp-" HASH_A "-%d", i);
        else if (i < 110)
            snprintf(text[i], sizeof text[i], "arc-1-%d", i - 100);
        else if (i < 130)
            snprintf(text[i], sizeof text[i], "client-%d", i);
        ids[i] = i < 130 || i >= 150 ? text[i] : NULL;
    }
    append_ids(s, ids, N, NULL, NULL, NULL, NULL);
}

static void assert_fill(sf_ledger *l)
{
    sf_ledger_key a = file_key(HASH_A), c = archive_key(1);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 150);
    assert_int_equal(sf_ledger_count(l, &a, 100, 149), 0);
    assert_int_equal(sf_ledger_count(l, &c, 0, 1000), 10);
    assert_int_equal(sf_ledger_keys(l), 2);
}

static void test_rebuild_and_catch_up(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], logdir[UT_PATH_MAX], path[UT_PATH_MAX], aside[UT_PATH_MAX + 16];
    ut_tmpdir(dir);
    ut_join(logdir, dir, "log");
    ut_join(path, dir, "imports/log.ledger");
    sf_error err = {0};
    sf_stream *s;
    sf_stream_opts opts = {.partitions = 4};
    assert_int_equal(sf_stream_open(logdir, &opts, &s, &err), 0);
    fill_log(s);

    /* None yet: made from the whole log. */
    sf_ledger *l, *other;
    sf_ledger_opened info;
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_true(info.rebuilt);
    assert_int_equal(info.records_read, 200);
    assert_fill(l);
    /* One importer at a time. */
    assert_int_equal(sf_ledger_open(path, logdir, s, &other, NULL, &err), SF_EBUSY);
    assert_non_null(strstr(err.msg, "another import"));
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    size_t good_len;
    char *good = slurp(path, &good_len);

    /* Opened again: nothing to read. Then records appended behind its back
     * (a crash before the ledger was written): read on open. */
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_false(info.rebuilt);
    assert_int_equal(info.records_read, 0);
    sf_ledger_close(l);
    char more[50][80];
    const char *ids[50];
    for (int i = 0; i < 50; i++) {
        snprintf(more[i], sizeof more[i], "imp-" HASH_A "-%d", 100 + i);
        ids[i] = more[i];
    }
    append_ids(s, ids, 50, NULL, NULL, NULL, NULL);
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_false(info.rebuilt);
    assert_int_equal(info.records_read, 50);
    sf_ledger_key a = file_key(HASH_A);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 200);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    free(good);
    good = slurp(path, &good_len);

    /* Damaged: set aside, rebuilt, the same ledger, and the reason says so. */
    char *bad = malloc(good_len);
    memcpy(bad, good, good_len);
    bad[good_len / 3] ^= 1;
    ut_write_file(path, bad, good_len);
    free(bad);
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_true(info.rebuilt);
    assert_non_null(strstr(info.reason, "damaged"));
    assert_non_null(strstr(info.reason, "checksum"));
    assert_int_equal(info.records_read, 250);
    snprintf(aside, sizeof aside, "%s.damaged", path);
    struct stat st;
    assert_int_equal(stat(aside, &st), 0);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    size_t len;
    char *rebuilt = slurp(path, &len);
    assert_int_equal(len, good_len);
    assert_memory_equal(rebuilt, good, len);
    free(rebuilt);
    sf_stream_close(s);

    /* Another log, as long in every partition, its last records others:
     * told by the fingerprints, not trusted. */
    char log2[UT_PATH_MAX];
    ut_join(log2, dir, "log2");
    assert_int_equal(sf_stream_open(log2, &opts, &s, &err), 0);
    fill_log(s);
    for (int i = 0; i < 50; i++)
        snprintf(more[i], sizeof more[i], "imp-" HASH_B "-%d", i);
    append_ids(s, ids, 50, NULL, NULL, NULL, NULL);
    assert_int_equal(sf_ledger_open(path, log2, s, &l, &info, &err), 0);
    assert_true(info.rebuilt);
    assert_non_null(strstr(info.reason, "is not the record it read there: not this log"));
    sf_ledger_key b = file_key(HASH_B);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 150);
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 50);
    sf_ledger_close(l);
    sf_stream_close(s);
    free(good);
    ut_tmpdir_remove(dir);
}

/* What an import does: reserve rows, append them, tell the ledger where
 * they landed, save. */
static void import_rows(sf_ledger *l, sf_stream *s, const sf_ledger_key *k, uint64_t from,
                        uint64_t n, bool append)
{
    size_t h;
    assert_int_equal(sf_ledger_handle(l, k, &h, NULL), 0);
    char prefix[40], (*text)[80] = calloc(n, sizeof *text);
    const char **ids = calloc(n, sizeof *ids);
    uint32_t *parts = calloc(n, sizeof *parts), *lens = calloc(n, sizeof *lens);
    sf_pos *offsets = calloc(n, sizeof *offsets);
    uint8_t *packed = malloc(n * SF_PACK_MAX);
    sf_ledger_key_prefix(k, prefix, sizeof prefix);
    size_t m = 0;
    for (uint64_t r = from; r < from + n; r++) {
        bool reserved;
        assert_int_equal(sf_ledger_reserve(l, h, r, &reserved, NULL), 0);
        if (!reserved)
            continue;
        snprintf(text[m], sizeof text[m], "%s%llu", prefix, (unsigned long long)r);
        ids[m] = text[m];
        m++;
    }
    if (append && m) {
        append_ids(s, ids, m, parts, offsets, packed, lens);
        sf_ledger_landed(l, packed, lens, parts, offsets, m, m);
    }
    free(packed);
    free(lens);
    free(text);
    free(ids);
    free(parts);
    free(offsets);
}

static void test_settle(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], logdir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(logdir, dir, "log");
    ut_join(path, dir, "log.ledger");
    sf_error err = {0};
    sf_stream *s;
    sf_stream_opts opts = {.partitions = 3};
    assert_int_equal(sf_stream_open(logdir, &opts, &s, &err), 0);
    sf_ledger *l;
    sf_ledger_opened info;
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    sf_ledger_key a = file_key(HASH_A);
    /* The only writer: saved by bookkeeping; rows reserved are held. */
    import_rows(l, s, &a, 0, 300, true);
    size_t h;
    bool reserved = true;
    assert_int_equal(sf_ledger_handle(l, &a, &h, &err), 0);
    assert_int_equal(sf_ledger_reserve(l, h, 299, &reserved, &err), 0);
    assert_false(reserved); /* held */
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 300);
    /* Again, with rows 300-399 of which only 300-349 land: reserved rows
     * that did not land are forgotten (the log is read instead). */
    import_rows(l, s, &a, 250, 100, true);
    import_rows(l, s, &a, 350, 50, false);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 400);
    assert_int_equal(sf_ledger_reserve(l, h, 360, &reserved, &err), 0);
    assert_false(reserved); /* reserved already: not twice */
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 350);
    /* Another writer's records before the import's: read, not counted. */
    const char *theirs[] = {"imp-" HASH_B "-7", "someone"};
    append_ids(s, theirs, 2, NULL, NULL, NULL, NULL);
    import_rows(l, s, &a, 350, 10, true);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_key b = file_key(HASH_B);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 360);
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 1);
    /* After the import's: the ledger stops before them; the next open
     * reads them. */
    import_rows(l, s, &a, 360, 10, true);
    const char *later[] = {"imp-" HASH_B "-8"};
    append_ids(s, later, 1, NULL, NULL, NULL, NULL);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), 370);
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 1);
    sf_ledger_close(l);
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_false(info.rebuilt);
    assert_int_equal(info.records_read, 1);
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 2);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    /* What was saved is what a rebuild makes. */
    size_t n1, n2;
    char *saved = slurp(path, &n1);
    unlink(path);
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_true(info.rebuilt);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    char *rebuilt = slurp(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(saved, rebuilt, n1);
    free(saved);
    free(rebuilt);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* A log whose tail was lost and marked a hole (log repair without an
 * archive), then appended to: the ledger made from it knows the rows after
 * the hole too. A reader that stopped at the hole's empty batch would not,
 * and their file would be imported again. */
static void test_rows_past_a_hole(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], logdir[UT_PATH_MAX], path[UT_PATH_MAX], seg[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(logdir, dir, "log");
    ut_join(path, dir, "imports/log.ledger");
    ut_join(seg, logdir, "p0000/00000000000000000000.seg");
    sf_error err = {0};
    sf_stream *s;
    sf_stream_opts opts = {.partitions = 1};
    char text[10][80];
    const char *ids[10];
    for (int i = 0; i < 10; i++) {
        snprintf(text[i], sizeof text[i], "imp-" HASH_A "-%d", i);
        ids[i] = text[i];
    }
    assert_int_equal(sf_stream_open(logdir, &opts, &s, &err), 0);
    append_ids(s, ids, 5, NULL, NULL, NULL, NULL);
    sf_stream_close(s);

    /* The last entry cut short, then marked lost for good. */
    struct stat st;
    assert_int_equal(stat(seg, &st), 0);
    assert_int_equal(truncate(seg, st.st_size - 5), 0);
    sf_log_check_opts co = {0};
    sf_log_check_result res;
    assert_int_equal(sf_log_repair(logdir, &co, &res, &err), 0);
    assert_int_equal(res.marked, 1);

    assert_int_equal(sf_stream_open(logdir, &opts, &s, &err), 0);
    append_ids(s, ids + 5, 5, NULL, NULL, NULL, NULL);
    sf_ledger *l;
    sf_ledger_opened info;
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_true(info.rebuilt);
    assert_int_equal(info.records_read, 9);
    sf_ledger_key a = file_key(HASH_A);
    assert_int_equal(sf_ledger_count(l, &a, 0, 3), 4);
    assert_int_equal(sf_ledger_count(l, &a, 4, 4), 0);
    assert_int_equal(sf_ledger_count(l, &a, 5, 9), 5);
    /* Saved and opened again: positioned past the hole, nothing to read. */
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    assert_int_equal(sf_ledger_open(path, logdir, s, &l, &info, &err), 0);
    assert_false(info.rebuilt);
    assert_int_equal(info.records_read, 0);
    sf_ledger_close(l);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* ---- wide positions ---- */

static void test_wide_file(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX], again[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "wide.ledger");
    ut_join(again, dir, "again.ledger");
    sf_error err = {0};
    sf_ledger *l = sample(), *r;
    sf_pos big = ut_parsed(UT_NINES), k = ut_parsed(UT_KSEQ), end;
    uint64_t print;
    sf_ledger_set_position(l, 1, &big, 7);
    sf_ledger_set_position(l, 2, &k, 0x1234);
    sf_pos first = ut_parsed(UT_KSEQ);
    sf_ledger_key run;
    sf_ledger_run_key(3, &first, &run);
    assert_int_equal(sf_ledger_add(l, &run, 0, 4999, &err), 0);
    assert_int_equal(sf_ledger_write(l, path, &err), 0);
    assert_int_equal(sf_ledger_read(path, &r, &err), 0);
    sf_ledger_position(r, 1, &end, &print);
    assert_true(sf_pos_cmp(&end, &big) == 0 && print == 7);
    sf_ledger_position(r, 2, &end, &print);
    assert_true(sf_pos_cmp(&end, &k) == 0 && print == 0x1234);
    assert_int_equal(sf_ledger_count(r, &run, 0, UINT64_MAX), 5000);
    assert_int_equal(sf_ledger_write(r, again, &err), 0);
    size_t n1, n2;
    char *t1 = slurp(path, &n1), *t2 = slurp(again, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    assert_non_null(strstr(t1, "\nend 1 " UT_NINES " 0000000000000007\n"));
    char line[128], prefix[64];
    sf_ledger_key_prefix(&run, prefix, sizeof prefix);
    snprintf(line, sizeof line, "\n%.*s 0-4999\n", (int)strlen(prefix) - 1, prefix);
    assert_non_null(strstr(t1, line));
    free(t1);
    free(t2);
    sf_ledger_free(r);
    sf_ledger_free(l);

    /* As main wrote it before positions were wider: read, and written
     * again byte for byte. Positions that are no decimal: damaged. */
    const char *texts[] = {
        "shopflow-ledger 1\nstream var/log\npartitions 2\nend 0 541909 5a1c9e0f3d2b4c6a\n"
        "end 1 0 0000000000000000\narc-0 0-99\nimp-" HASH_A " 0-541908\n",
        "shopflow-ledger 1\nstream x\npartitions 1\nend 0 0" UT_KSEQ " 0000000000000001\n",
        "shopflow-ledger 1\nstream x\npartitions 1\nend 0 1" UT_NINES " 0000000000000001\n",
        "shopflow-ledger 1\nstream x\npartitions 1\nend 0 -1 0000000000000001\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%schecksum %016llx\n", texts[i],
                 (unsigned long long)XXH3_64bits(texts[i], strlen(texts[i])));
        ut_write_file(path, text, strlen(text));
        int rc = sf_ledger_read(path, &r, &err);
        if (i > 0) {
            assert_int_equal(rc, SF_EFORMAT);
            assert_non_null(strstr(err.msg, "line 4: not \"end PARTITION POSITION FINGERPRINT\""));
            continue;
        }
        assert_int_equal(rc, 0);
        sf_ledger_position(r, 0, &end, &print);
        assert_true(ut_off(&end) == 541909 && print == 0x5a1c9e0f3d2b4c6aULL);
        assert_int_equal(sf_ledger_write(r, again, &err), 0);
        t2 = slurp(again, &n2);
        assert_int_equal(n2, strlen(text));
        assert_memory_equal(t2, text, n2);
        free(t2);
        sf_ledger_free(r);
    }
    ut_tmpdir_remove(dir);
}

/* The rows of file A the ledger holds, and that every partition's
 * position is a wide one or 0. */
static void assert_wide(sf_ledger *l, uint64_t rows_a)
{
    sf_ledger_key a = file_key(HASH_A);
    assert_int_equal(sf_ledger_count(l, &a, 0, 1000), rows_a);
    for (uint32_t p = 0; p < sf_ledger_partitions(l); p++) {
        sf_pos end;
        uint64_t print;
        sf_ledger_position(l, p, &end, &print);
        assert_true(end.len == 0 || end.len == 24);
    }
}

/* Open the ledger at path on s: rebuilt or not, records read. */
static sf_ledger *opened(const char *path, sf_stream *s, bool rebuilt, uint64_t read,
                         const char *reason)
{
    sf_ledger *l;
    sf_ledger_opened info;
    sf_error err = {0};
    if (sf_ledger_open(path, "kinesis://test", s, &l, &info, &err) != 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(info.rebuilt, rebuilt);
    assert_int_equal(info.records_read, read);
    if (reason && !strstr(info.reason, reason))
        fail_msg("reason: %s", info.reason);
    return l;
}

static sf_stream *wide_log(const char *dir, const char *name, uint32_t parts)
{
    char logdir[UT_PATH_MAX];
    ut_join(logdir, dir, name);
    sf_stream *inner;
    sf_error err = {0};
    sf_stream_opts opts = {.partitions = parts};
    assert_int_equal(sf_stream_open(logdir, &opts, &inner, &err), 0);
    return ut_wide_stream(inner);
}

/* Everything the ledger does, on a stream whose positions are wide and
 * skip (Kinesis's): made from it, caught up, settled by reading back (the
 * positions cannot show another writer's records among the import's),
 * another stream told by its records, one made again under the name by its
 * start, and a record gone by retention taken as such. */
static void test_wide_stream(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "imports/k.ledger");
    sf_error err = {0};
    sf_stream *s = wide_log(dir, "log", 4);
    fill_log(s);
    sf_ledger *l = opened(path, s, true, 200, "no ledger file yet");
    assert_fill(l);
    assert_wide(l, 150);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    l = opened(path, s, false, 0, NULL);
    /* Another writer's records before the import's, one after: all read
     * back at the save. */
    const char *theirs[] = {"imp-" HASH_B "-7", "someone"}, *later[] = {"imp-" HASH_B "-8"};
    append_ids(s, theirs, 2, NULL, NULL, NULL, NULL);
    sf_ledger_key a = file_key(HASH_A), b = file_key(HASH_B);
    import_rows(l, s, &a, 90, 60, true); /* rows 100-149 are new */
    append_ids(s, later, 1, NULL, NULL, NULL, NULL);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    assert_wide(l, 200);
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 2);
    sf_ledger_close(l);
    l = opened(path, s, false, 0, NULL);
    assert_wide(l, 200);
    sf_ledger_close(l);
    /* Records appended behind its back (a crash before the ledger was
     * written): read on open. */
    import_rows(l = opened(path, s, false, 0, NULL), s, &a, 200, 20, true);
    sf_ledger_close(l); /* not saved */
    l = opened(path, s, false, 20, NULL);
    assert_wide(l, 220);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    /* What was saved is what a rebuild makes. */
    size_t n1, n2;
    char *saved = slurp(path, &n1);
    unlink(path);
    l = opened(path, s, true, 223 + 50, NULL);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    char *rebuilt = slurp(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(saved, rebuilt, n1);
    free(rebuilt);

    /* Retention took the last record it read in partition 0 and those
     * before: the ledger keeps what it knew (ledger_gap is logged). */
    sf_pos end;
    uint64_t print;
    l = opened(path, s, false, 0, NULL);
    sf_ledger_position(l, 0, &end, &print);
    sf_ledger_close(l);
    assert_int_equal(sf_pos_sub_one(&end, NULL), 0);
    ut_wide_hide(s, 0, (uint64_t)1 << 40); /* past everything: nothing left */
    l = opened(path, s, false, 0, NULL);
    assert_wide(l, 220);
    sf_ledger_close(l);
    sf_stream_close(s);

    /* Another stream as long, its records others: rebuilt. */
    s = wide_log(dir, "log2", 4);
    fill_log(s);
    const char *ids[73];
    char text[73][80];
    for (int i = 0; i < 73; i++) {
        snprintf(text[i], sizeof text[i], "imp-" HASH_B "-%d", i);
        ids[i] = text[i];
    }
    append_ids(s, ids, 73, NULL, NULL, NULL, NULL);
    l = opened(path, s, true, 273, "is not the record it read there: not this log");
    assert_int_equal(sf_ledger_count(l, &b, 0, 1000), 73);
    sf_ledger_close(l);
    sf_stream_close(s);

    /* A position before the stream's start: another stream made under the
     * same name (a shard's start never moves). */
    ut_write_file(path, saved, n1);
    s = wide_log(dir, "log", 4);
    l = opened(path, s, false, 0, NULL);
    sf_pos low = ut_pos(5);
    sf_ledger_set_position(l, 1, &low, 1);
    assert_int_equal(sf_ledger_write(l, path, &err), 0);
    sf_ledger_close(l);
    l = opened(path, s, true, 273, "before the stream's first");
    sf_ledger_close(l);
    sf_stream_close(s);
    free(saved);
    ut_tmpdir_remove(dir);
}

/* A stream that grows (a reshard adds partitions): the ledger takes in
 * the new ones, also when an import's records land in them meanwhile. */
static void test_wide_growth(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "imports/k.ledger");
    sf_error err = {0};
    sf_stream *s = wide_log(dir, "log", 4);
    ut_wide_show(s, 2);
    fill_log(s);
    sf_ledger *l;
    sf_ledger_opened info;
    assert_int_equal(sf_ledger_open(path, "kinesis://test", s, &l, &info, &err), 0);
    assert_true(info.rebuilt && info.records_read > 0 && info.records_read < 200);
    assert_int_equal(sf_ledger_partitions(l), 2);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    ut_wide_show(s, 0);
    l = opened(path, s, false, 200 - info.records_read, NULL);
    assert_int_equal(sf_ledger_partitions(l), 4);
    assert_fill(l);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    sf_ledger_close(l);
    /* An import whose records land where the ledger has no partition yet. */
    ut_wide_show(s, 2);
    char small[UT_PATH_MAX];
    ut_join(small, dir, "imports/small.ledger");
    l = opened(small, s, true, info.records_read, NULL);
    ut_wide_show(s, 0);
    sf_ledger_key a = file_key(HASH_A);
    import_rows(l, s, &a, 1000, 40, true);
    assert_int_equal(sf_ledger_save(l, s, &err), 0);
    assert_int_equal(sf_ledger_partitions(l), 4);
    assert_int_equal(sf_ledger_count(l, &a, 1000, 1039), 40);
    assert_int_equal(sf_ledger_count(l, &a, 0, 999), 150);
    sf_ledger_close(l);
    l = opened(small, s, false, 0, NULL);
    sf_ledger_close(l);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_rebuild_and_catch_up),
        cmocka_unit_test(test_settle),
        cmocka_unit_test(test_rows_past_a_hole),
        cmocka_unit_test(test_wide_file),
        cmocka_unit_test(test_wide_stream),
        cmocka_unit_test(test_wide_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
