/*
 * test_archive.c - the archive's object names (sinks/archive_name.h) and
 * what they promise, on a stream of offsets and on one of wide, sparse
 * positions (Kinesis's: wide_stream.h):
 *  - names written and read back exactly; which record may follow which in
 *    one object; the ids of a run's records (arc-P-HASH-INDEX, ledger.h);
 *  - the archive sink over a stream of wide positions writes runs (an
 *    object per partition and day, not one per record) and resumes after
 *    the highest LAST; over offsets it writes the names it always did;
 *  - `import --from-archive` of the runs into a local log: every record in
 *    its partition's order, ids arc-P-HASH-INDEX for those without one, a
 *    second import loading nothing; runs ordered by their positions'
 *    values, not their names' text (and so is status's last object); a run
 *    holding fewer or more records than its name allows refused; `log
 *    repair` refusing an archive of runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/fsutil.h"
#include "core/json.h"
#include "core/pack.h"
#include "sinks/archive_name.h"
#include "sinks/archive_restore.h"
#include "sinks/import.h"
#include "sinks/ledger.h"
#include "sinks/sink.h"
#include "stream/stream.h"
#include "support.h"
#include "wide_stream.h"

static void test_names(void **state)
{
    (void)state;
    char text[SF_POS_TEXT_MAX];
    sf_archive_pos_text(UT_AT(42), text);
    assert_string_equal(text, "00000000000000000042");
    sf_pos k = ut_parsed(UT_KSEQ), k1 = k, wide = ut_wide_pos(0);
    sf_archive_pos_text(&k, text);
    assert_string_equal(text, UT_KSEQ);
    assert_int_equal(sf_pos_add_one(&k1, NULL), 0);

    uint32_t p;
    sf_pos first, last;
    assert_true(sf_archive_name_parse(
        "part-0003-00000000000000000010-00000000000000000019.ndjson.gz", &p, &first, &last));
    assert_true(p == 3 && ut_off(&first) == 10 && ut_off(&last) == 19);
    assert_false(sf_archive_is_run(&last));
    assert_true(
        sf_archive_name_parse("part-0001-" UT_KSEQ "-" UT_KSEQ ".ndjson.gz", &p, &first, &last));
    assert_true(p == 1 && sf_pos_cmp(&first, &k) == 0 && sf_archive_is_run(&last));
    const char *not_names[] = {
        "part-0003-10-19.ndjson.gz",                                         /* offsets unpadded */
        "part-3-00000000000000000010-00000000000000000019.ndjson.gz",        /* partition */
        "part-0001-0" UT_KSEQ "-0" UT_KSEQ ".ndjson.gz",                     /* wide, padded */
        "part-0003-00000000000000000019-00000000000000000010.ndjson.gz",     /* FIRST > LAST */
        "part-0003-00000000000000000010-00000000000000000019.ndjson",        /* suffix */
        "part-0003-00000000000000000010.bin",                                /* quarantine */
        "part-0003-00000000000000000010-00000000000000000019.ndjson.gz.tmp", /* temporary */
    };
    for (size_t i = 0; i < sizeof not_names / sizeof *not_names; i++)
        assert_false(sf_archive_name_parse(not_names[i], &p, &first, &last));

    /* Offsets follow one by one; a run takes any later position; a run
     * never starts inside an object of offsets. */
    assert_true(sf_archive_follows(UT_AT(11), UT_AT(10)));
    assert_false(sf_archive_follows(UT_AT(12), UT_AT(10)));
    assert_true(sf_archive_follows(&k1, &k));
    sf_pos far = ut_wide_pos(1000);
    assert_true(sf_archive_follows(&far, &wide));
    assert_false(sf_archive_follows(&k, &k));
    assert_false(sf_archive_follows(&wide, UT_AT(UINT64_MAX)));
}

/* The run ids of an archive of a stream of wide positions, beside the
 * other forms. */
static void test_run_ids(void **state)
{
    (void)state;
    sf_pos first = ut_parsed(UT_KSEQ), other = ut_parsed(UT_NINES);
    sf_ledger_key run, again, k;
    sf_ledger_run_key(3, &first, &run);
    sf_ledger_run_key(3, &first, &again);
    assert_memory_equal(&run, &again, sizeof run);
    sf_ledger_run_key(3, &other, &again);
    assert_memory_not_equal(&run, &again, sizeof run);
    sf_ledger_run_key(2, &first, &again);
    assert_memory_not_equal(&run, &again, sizeof run);
    char prefix[64], id[SF_EVENT_ID_MAX + 8];
    sf_ledger_key_prefix(&run, prefix, sizeof prefix);
    assert_int_equal(strlen(prefix), strlen("arc-3--") + 32);
    snprintf(id, sizeof id, "%s%d", prefix, 12345);
    uint64_t row;
    assert_true(sf_ledger_parse_id(id, strlen(id), &k, &row));
    assert_memory_equal(&k, &run, sizeof k);
    assert_int_equal(row, 12345);
    /* The longest an import makes (partition 1023, a 20-digit row) fits an
     * event id. */
    sf_ledger_run_key(1023, &other, &again);
    sf_ledger_key_prefix(&again, prefix, sizeof prefix);
    assert_true(strlen(prefix) + 20 <= SF_EVENT_ID_MAX);
    const char *not_ours[] = {
        "arc-3-0123456789abcdef0123456789abcde-1",   /* 31 hex digits */
        "arc-3-0123456789abcdef0123456789abcdef0-1", /* 33 */
        "arc-3-0123456789ABCDEF0123456789abcdef-1",  "arc-03-0123456789abcdef0123456789abcdef-1",
        "arc--0123456789abcdef0123456789abcdef-1",   "arc-3-0123456789abcdef0123456789abcdef-",
        "arc-3-0123456789abcdef0123456789abcdef",    "arc-3-0123456789abcdef0123456789abcdef-1-2",
    };
    for (size_t i = 0; i < sizeof not_ours / sizeof *not_ours; i++)
        assert_false(sf_ledger_parse_id(not_ours[i], strlen(not_ours[i]), &k, &row));
}

/* ---- the sink and the import over a stream ---- */

enum { N = 2000, PARTS = 3 };

/* Record i: a minute after i - 1 (so the records span two days), every
 * third without an event id. */
static void make(sf_record *r, int i)
{
    ut_make_numbered(r, i);
    r->invoice_date = UT_T0 + (int64_t)i * 60;
    if (i % 3 == 0)
        r->event_id_len = 0;
}

static void fill(sf_stream *s)
{
    static sf_record recs[N];
    for (int i = 0; i < N; i++)
        make(&recs[i], i);
    sf_error err = {0};
    assert_int_equal(sf_stream_append(s, recs, N, NULL, NULL, &err), 0);
}

typedef struct listing {
    int objects;
    long lines;
    int runs;
    char first_name[SF_ARCHIVE_KEY_MAX];
} listing;

static long gz_lines(const char *path)
{
    gzFile f = gzopen(path, "rb");
    assert_non_null(f);
    char buf[8192];
    long n = 0;
    int got;
    while ((got = gzread(f, buf, sizeof buf)) > 0)
        for (int i = 0; i < got; i++)
            n += buf[i] == '\n';
    gzclose(f);
    return n;
}

/* The objects under dir/raw/transactions/dt=*\/. */
static listing list_archive(const char *dir)
{
    listing l = {0};
    char root[UT_PATH_MAX];
    snprintf(root, sizeof root, "%s/" SF_ARCHIVE_PREFIX, dir);
    DIR *days = opendir(root);
    assert_non_null(days);
    struct dirent *d;
    while ((d = readdir(days))) {
        if (d->d_name[0] == '.')
            continue;
        char day[UT_PATH_MAX * 2];
        snprintf(day, sizeof day, "%s%s", root, d->d_name);
        DIR *objs = opendir(day);
        assert_non_null(objs);
        struct dirent *o;
        while ((o = readdir(objs))) {
            uint32_t p;
            sf_pos first, last;
            if (o->d_name[0] == '.')
                continue;
            assert_true(sf_archive_name_parse(o->d_name, &p, &first, &last));
            char path[UT_PATH_MAX * 3];
            snprintf(path, sizeof path, "%s/%s", day, o->d_name);
            l.objects++;
            l.lines += gz_lines(path);
            l.runs += sf_archive_is_run(&last);
            snprintf(l.first_name, sizeof l.first_name, "%s", o->d_name);
        }
        closedir(objs);
    }
    closedir(days);
    return l;
}

/* The archive sink of dir over s, run until caught up; its positions
 * then are the stream's ends. */
static void archive(sf_stream *s, const char *dir)
{
    sf_sink_places at = {.data_dir = dir};
    sf_sink *k = NULL;
    sf_error err = {0};
    sf_runner_stats st = {0};
    assert_int_equal(sf_sink_open("archive", &at, NULL, false, &k, &err), 0);
    if (sf_runner_run(s, k, true, NULL, NULL, &st, &err) != 0)
        fail_msg("archive: %s", err.msg);
    sf_pos next[PARTS];
    assert_int_equal(k->ops->resume(k, next, PARTS, &err), 0);
    for (uint32_t p = 0; p < PARTS; p++) {
        sf_partition_info info;
        assert_int_equal(sf_stream_info(s, p, &info, &err), 0);
        assert_int_equal(sf_pos_cmp(&next[p], &info.end), 0);
    }
    sf_sink_close(k);
}

static sf_stream *open_log(const char *dir, const char *name)
{
    char at[UT_PATH_MAX];
    ut_join(at, dir, name);
    sf_stream *s;
    sf_error err = {0};
    sf_stream_opts opts = {.partitions = PARTS};
    assert_int_equal(sf_stream_open(at, &opts, &s, &err), 0);
    return s;
}

/* Import the archive of dir into the log dir/NAME; its result. */
static sf_import_result import(const char *dir, const char *name, sf_archive_set *set)
{
    char at[UT_PATH_MAX], log[UT_PATH_MAX], ledger[UT_PATH_MAX];
    ut_join(at, dir, "archive");
    ut_join(log, dir, name);
    ut_join(ledger, dir, "imports/log.ledger");
    sf_error err = {0};
    *set = (sf_archive_set){0};
    assert_int_equal(sf_archive_set_add(set, at, &err), 0);
    assert_int_equal(sf_archive_set_finish(set, &err), 0);
    sf_import_target t;
    sf_stream_opts opts = {.partitions = PARTS};
    sf_import_result res;
    assert_int_equal(sf_import_open(log, &opts, ledger, 0, &t, &err), 0);
    if (sf_import_archive(&t, set, NULL, NULL, NULL, &res, &err) != 0)
        fail_msg("import: %s", err.msg);
    assert_int_equal(sf_import_close(&t, &err), 0);
    return res;
}

/* Every entry of partition p of s, from its start, into e[0..*n). */
static void read_all(sf_stream *s, uint32_t p, sf_record *e, size_t *n)
{
    sf_stream_batch b;
    sf_error err = {0};
    sf_pos from = {0};
    *n = 0;
    assert_int_equal(sf_stream_batch_init(&b, 256, 1 << 16, &err), 0);
    for (;;) {
        assert_int_equal(sf_stream_read(s, p, &from, &b, &err), 0);
        if (!b.count)
            break;
        for (size_t i = 0; i < b.count; i++)
            assert_int_equal(sf_stream_entry_record(&b.entries[i], p, &e[(*n)++], &err), 0);
        from = b.next;
    }
    sf_stream_batch_free(&b);
}

/* The stream of wide positions archived in runs; the runs imported into a
 * local log give every record in its partition's order. */
static void test_runs(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], arc[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(arc, dir, "archive");
    sf_stream *s = ut_wide_stream(open_log(dir, "log"));
    fill(s);
    archive(s, dir);
    listing l = list_archive(arc);
    /* One object per partition and day (the records span two), not one per
     * record: each record skips 1,024 positions. */
    assert_true(l.objects >= PARTS && l.objects <= 2 * PARTS);
    assert_int_equal(l.runs, l.objects);
    assert_int_equal(l.lines, N);
    assert_int_equal(strlen(l.first_name), strlen("part-0000--.ndjson.gz") + 2 * 56);
    /* Nothing more to archive: resumed after the highest LAST. */
    archive(s, dir);
    assert_int_equal(list_archive(arc).objects, l.objects);

    sf_archive_set set;
    sf_import_result res = import(dir, "rebuilt", &set);
    assert_int_equal(set.runs, l.objects);
    assert_int_equal(set.records, 0);
    assert_int_equal(set.missing, 0);
    assert_int_equal(set.partitions, PARTS);
    assert_true(res.rows == N && res.imported == N && res.duplicates == 0);
    sf_archive_set_free(&set);

    static sf_record was[N], now[N];
    sf_stream *r = open_log(dir, "rebuilt");
    size_t total = 0;
    for (uint32_t p = 0; p < PARTS; p++) {
        size_t n, m;
        read_all(s, p, was, &n);
        read_all(r, p, now, &m);
        assert_int_equal(n, m);
        total += n;
        for (size_t i = 0; i < n; i++) {
            char a[SF_JSON_RECORD_MAX], b[SF_JSON_RECORD_MAX];
            sf_ledger_key key;
            uint64_t row;
            if (!was[i].event_id_len) { /* named by its run and index */
                assert_true(sf_ledger_parse_id(now[i].event_id, now[i].event_id_len, &key, &row));
                assert_int_equal(key.kind, SF_LEDGER_RUN);
                assert_int_equal(key.part, p);
                now[i].event_id_len = 0;
            }
            int na = sf_json_encode(&was[i], a, sizeof a),
                nb = sf_json_encode(&now[i], b, sizeof b);
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, (size_t)na);
        }
    }
    assert_int_equal(total, N);
    sf_stream_close(r);
    /* Again: nothing loaded. */
    res = import(dir, "rebuilt", &set);
    assert_true(res.rows == N && res.imported == 0 && res.duplicates == N);
    sf_archive_set_free(&set);

    /* log repair of a local log cannot use it. */
    sf_archive_restorer *rs = NULL;
    sf_adapter_settings none = {0};
    sf_error err = {0};
    assert_int_equal(sf_archive_restorer_open(arc, &none, PARTS, &rs, NULL, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "not of a local log"));
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* The same records on the local log: objects of offsets, as ever. */
static void test_offsets(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], arc[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(arc, dir, "archive");
    sf_stream *s = open_log(dir, "log");
    fill(s);
    archive(s, dir);
    listing l = list_archive(arc);
    assert_true(l.objects >= PARTS && l.objects <= 2 * PARTS);
    assert_int_equal(l.runs, 0);
    assert_int_equal(l.lines, N);
    assert_int_equal(strlen(l.first_name), strlen("part-0000--.ndjson.gz") + 2 * 20);
    sf_archive_set set;
    sf_import_result res = import(dir, "rebuilt", &set);
    assert_true(set.runs == 0 && set.records == N && set.missing == 0);
    assert_true(res.imported == N);
    sf_archive_set_free(&set);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* Objects put by hand into dir/archive: day 2010-12-01, partition 0. */
static void put(const char *dir, const char *first, const char *last, int records)
{
    char path[UT_PATH_MAX * 2], text[8192] = "";
    snprintf(path, sizeof path, "%s/archive/" SF_ARCHIVE_PREFIX "dt=2010-12-01", dir);
    assert_int_equal(sf_mkdirs(path, NULL), 0);
    size_t len = 0;
    for (int i = 0; i < records; i++) {
        sf_record r;
        make(&r, i);
        len += (size_t)sf_json_encode(&r, text + len, sizeof text - len);
        text[len++] = '\n';
    }
    snprintf(path + strlen(path), sizeof path - strlen(path), "/part-0000-%s-%s.ndjson.gz", first,
             last);
    ut_write_gzip(path, text, len, 1);
}

/* Runs sorted by their positions' values: a FIRST of 56 digits before one
 * of 57, whatever their text; counts checked against what a name allows. */
static void test_run_order(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], arc[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(arc, dir, "archive");
    const char *big = "1" UT_KSEQ; /* 57 digits: after UT_KSEQ, though "1" < "4" */
    put(dir, big, big, 1);
    put(dir, UT_KSEQ, "9" UT_KSEQ, 3); /* a run from UT_KSEQ to past big: big is inside it */
    sf_archive_set set = {0};
    sf_error err = {0};
    assert_int_equal(sf_archive_set_add(&set, arc, &err), 0);
    assert_int_equal(sf_archive_set_finish(&set, &err), SF_EFORMAT);
    assert_non_null(strstr(err.msg, "position "
                                    "1" UT_KSEQ));
    sf_archive_set_free(&set);
    ut_tmpdir_remove(dir);

    ut_tmpdir(dir);
    ut_join(arc, dir, "archive");
    put(dir, big, big, 1);
    put(dir, UT_KSEQ, UT_KSEQ, 1);
    set = (sf_archive_set){0};
    assert_int_equal(sf_archive_set_add(&set, arc, &err), 0);
    assert_int_equal(sf_archive_set_finish(&set, &err), 0);
    assert_int_equal(set.n, 2);
    sf_pos k = ut_parsed(UT_KSEQ);
    assert_int_equal(sf_pos_cmp(&set.parts[0].first, &k), 0);
    sf_archive_set_free(&set);
    /* status's last object is the greatest by value too. */
    sf_archive_summary sum;
    sf_sink_places at = {.data_dir = dir};
    assert_int_equal(sf_archive_describe(&at, &sum, &err), 0);
    assert_int_equal(sum.objects, 2);
    assert_non_null(strstr(sum.last, "part-0000-1" UT_KSEQ "-1" UT_KSEQ ".ndjson.gz"));
    ut_tmpdir_remove(dir);

    /* FIRST = LAST holds one record; FIRST < LAST two or more. */
    struct {
        const char *first, *last;
        int records;
        const char *says;
    } bad[] = {{UT_KSEQ, UT_KSEQ, 2, "its name says one"},
               {UT_KSEQ, big, 1, "its name says two or more"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ut_tmpdir(dir);
        ut_join(arc, dir, "archive");
        put(dir, bad[i].first, bad[i].last, bad[i].records);
        char log[UT_PATH_MAX], ledger[UT_PATH_MAX];
        ut_join(log, dir, "log");
        ut_join(ledger, dir, "log.ledger");
        set = (sf_archive_set){0};
        assert_int_equal(sf_archive_set_add(&set, arc, &err), 0);
        assert_int_equal(sf_archive_set_finish(&set, &err), 0);
        sf_import_target t;
        sf_import_result res;
        assert_int_equal(sf_import_open(log, NULL, ledger, 0, &t, &err), 0);
        assert_int_equal(sf_import_archive(&t, &set, NULL, NULL, NULL, &res, &err), SF_EFORMAT);
        assert_non_null(strstr(err.msg, bad[i].says));
        assert_int_equal(res.imported, 0);
        assert_int_equal(sf_import_close(&t, &err), 0);
        sf_archive_set_free(&set);
        ut_tmpdir_remove(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),     cmocka_unit_test(test_run_ids),
        cmocka_unit_test(test_runs),      cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_run_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
