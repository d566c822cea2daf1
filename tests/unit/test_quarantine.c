/*
 * test_quarantine.c - entries of the log that are not records (sinks/
 * quarantine.h), in each sink's own store: the history's LMDB, the SQLite
 * warehouse (or PostgreSQL, with SF_TEST_PG_URL set: tests/integration/
 * quarantine_pg.sh) and the archive's files.
 *
 * The log holds 10 records, an entry that is not one (offset 10: a packed
 * record with bytes after it), and 10 records more. Each sink, run by the
 * runner:
 *  - stops there by default, having committed the 10 before it;
 *  - with quarantine, sets it aside once and applies the 20 records once,
 *    also when it crashed in between (its open transaction lost, or for the
 *    archive, the entry's .json put but not its .bin);
 *  - retries it: the record given applied once, the entry gone, a second
 *    retry refused (the archive: also after a retry with another record was
 *    cut short between its object and the entry's removal).
 * And the runner counts as applied only what a sink committed: a run rolled
 * back counts nothing.
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
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include "core/pack.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"
#include "storage/store/store.h"
#include "stream/stream.h"
#include "support.h"

#define BEFORE 10
#define AFTER  10
#define BAD    BEFORE /* the offset of the entry that is not a record */

static const char *pg_url; /* the warehouse on PostgreSQL, when set */

static uint8_t bad[SF_PACK_MAX + 4];
static uint32_t bad_len;

static void make_records(sf_record *recs, int n, int from)
{
    for (int i = 0; i < n; i++) {
        char inv[16], stock[16];
        snprintf(inv, sizeof inv, "%d", 536000 + (from + i) / 3);
        snprintf(stock, sizeof stock, "S%03d", (from + i) % 7);
        ut_make(&recs[i], inv, stock, "AN ITEM", 1 + i % 4, UT_T0 + (from + i) * 60, 1000 + i,
                12000 + i % 5, "United Kingdom");
    }
}

static void appended(void *ctx, int status, const uint32_t *parts, const sf_pos *positions,
                     const char *errmsg)
{
    (void)parts, (void)errmsg;
    uint64_t at;
    *(int *)ctx = status == 0 && sf_pos_u64(&positions[0], &at) && at == BAD ? 1 : -1;
}

/* PostgreSQL: each test starts from an empty database. */
static void reset_pg(void)
{
    PGconn *c = PQconnectdb(pg_url);
    PGresult *res = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(c);
}

/* A one-partition log: BEFORE records, the bad entry, AFTER records. */
static sf_stream *make_log(const char *dir)
{
    if (pg_url)
        reset_pg();
    char at[UT_PATH_MAX];
    ut_join(at, dir, "log");
    sf_stream_opts opts = {.partitions = 1};
    sf_stream *s = NULL;
    sf_error err = {0};
    sf_record recs[BEFORE + AFTER];
    make_records(recs, BEFORE + AFTER, 0);
    if (sf_stream_open(at, &opts, &s, &err) != 0 ||
        sf_stream_append(s, recs, BEFORE, NULL, NULL, &err) != 0)
        fail_msg("log: %s", err.msg);
    int len = sf_record_pack(&recs[0], bad, sizeof bad);
    memcpy(bad + len, "JUNK", 4); /* its lengths no longer add up */
    bad_len = (uint32_t)len + 4;
    int done = 0;
    assert_int_equal(sf_stream_append_packed_async(s, bad, &bad_len, 1, appended, &done, &err), 0);
    sf_stream_close(s); /* waits for the append */
    assert_int_equal(done, 1);
    if (sf_stream_open(at, &opts, &s, &err) != 0 ||
        sf_stream_append(s, recs + BEFORE, AFTER, NULL, NULL, &err) != 0)
        fail_msg("log: %s", err.msg);
    return s;
}

static sf_sink *open_sink(const char *name, const char *dir, sf_bad_entry how)
{
    sf_sink_places at = {.data_dir = dir, .warehouse = pg_url};
    sf_sink *k = NULL;
    sf_error err = {0};
    if (sf_sink_open(name, &at, NULL, false, &k, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    k->on_bad_entry = how;
    return k;
}

/* ---- what a store holds ---- */

static long sql_count(const char *dir, const char *sql)
{
    long n = -1;
    if (pg_url) {
        PGconn *c = PQconnectdb(pg_url);
        PGresult *res = PQexec(c, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        PQfinish(c);
        return n;
    }
    char path[UT_PATH_MAX];
    ut_join(path, dir, "warehouse.db");
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* Lines in the archive's objects under dir (recursively). */
static long archive_lines(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long n = 0;
    while (d && (e = readdir(d))) {
        char path[UT_PATH_MAX * 2];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = strlen(e->d_name);
        if (len > 10 && strcmp(e->d_name + len - 10, ".ndjson.gz") == 0) {
            gzFile f = gzopen(path, "rb");
            int c;
            while (f && (c = gzgetc(f)) != -1)
                n += c == '\n';
            if (f)
                gzclose(f);
        } else if (!strchr(e->d_name, '.')) {
            n += archive_lines(path);
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* Records the sink's store holds. */
static long records_in(const char *name, const char *dir, sf_sink *k)
{
    if (strcmp(name, "warehouse") == 0)
        return sql_count(dir, "SELECT count(*) FROM fact_sales");
    if (strcmp(name, "archive") == 0) {
        char at[UT_PATH_MAX];
        ut_join(at, dir, "archive");
        return archive_lines(at);
    }
    return ut_history_lines(k->backend);
}

typedef struct seen {
    int n;
    uint32_t p;
    uint64_t offset;
    bool same_bytes, has_reason;
} seen;

static int note(void *ctx, const sf_quarantined *q)
{
    seen *s = ctx;
    s->n++;
    s->p = q->partition;
    s->offset = ut_off(&q->pos);
    s->same_bytes = q->len == bad_len && memcmp(q->data, bad, bad_len) == 0;
    s->has_reason = q->reason && strstr(q->reason, "do not add up") && q->at && strlen(q->at) == 24;
    return 0;
}

typedef struct wide_seen {
    int n;
    sf_pos pos;
} wide_seen;

static int note_wide(void *ctx, const sf_quarantined *q)
{
    wide_seen *s = ctx;
    s->n++;
    s->pos = q->pos;
    return 0;
}

/* The sink's quarantine holds exactly the bad entry (n 1), or nothing. */
static void assert_set_aside(sf_sink *k, int n)
{
    seen s = {0};
    sf_error err = {0};
    if (k->ops->quarantined(k, note, &s, &err) != 0)
        fail_msg("quarantined: %s", err.msg);
    assert_int_equal(s.n, n);
    if (n) {
        assert_int_equal(s.p, 0);
        assert_int_equal(s.offset, BAD);
        assert_true(s.same_bytes);
        assert_true(s.has_reason);
    }
}

static uint64_t position(sf_sink *k)
{
    sf_pos next = {0};
    sf_error err = {0};
    if (k->ops->resume(k, &next, 1, &err) != 0)
        fail_msg("resume: %s", err.msg);
    return ut_off(&next);
}

static int run(sf_stream *s, sf_sink *k, sf_runner_stats *st, sf_error *err)
{
    return sf_runner_run(s, k, true, NULL, NULL, st, err);
}

/* ---- the tests, each for one sink (its name the state) ---- */

/* Default: the sink stops at the entry, the records before it committed,
 * its position the entry's, and says where and what to do. */
static void test_stop(void **state)
{
    const char *name = *state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_sink *k = open_sink(name, dir, SF_BAD_ENTRY_STOP);
    sf_runner_stats st = {0};
    sf_error err = {0};
    assert_int_equal(run(s, k, &st, &err), SF_ECORRUPT);
    assert_true(atomic_load(&st.bad_entry));
    assert_non_null(strstr(err.msg, "stops at partition 0 offset 10"));
    assert_non_null(strstr(err.msg, "--on-bad-entry quarantine"));
    assert_int_equal(atomic_load(&st.applied), BEFORE);
    assert_int_equal(records_in(name, dir, k), BEFORE);
    assert_int_equal(position(k), BAD);
    assert_set_aside(k, 0);
    /* Again: the same stop, nothing more. */
    assert_int_equal(run(s, k, &st, &err), SF_ECORRUPT);
    assert_int_equal(atomic_load(&st.applied), 0);
    assert_int_equal(records_in(name, dir, k), BEFORE);
    sf_sink_close(k);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* quarantine: set aside once, every record once, also when run again. */
static void test_quarantine(void **state)
{
    const char *name = *state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_sink *k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    sf_runner_stats st = {0};
    sf_error err = {0};
    if (run(s, k, &st, &err) != 0)
        fail_msg("run: %s", err.msg);
    assert_int_equal(atomic_load(&st.applied), BEFORE + AFTER);
    assert_int_equal(atomic_load(&st.quarantined), 1);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER);
    assert_int_equal(position(k), BEFORE + 1 + AFTER);
    assert_set_aside(k, 1);
    sf_sink_close(k);
    k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    assert_int_equal(run(s, k, &st, &err), 0);
    assert_int_equal(atomic_load(&st.applied), 0);
    assert_int_equal(atomic_load(&st.quarantined), 0);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER);
    assert_set_aside(k, 1);
    sf_sink_close(k);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* Remove an object of the archive (a crash before it was put). */
static void unput(const char *dir, const char *key)
{
    sf_objects *o;
    sf_error err = {0};
    char at[UT_PATH_MAX];
    ut_join(at, dir, "archive");
    assert_int_equal(sf_objects_open(at, NULL, &o, &err), 0);
    if (sf_objects_del(o, key, &err) != 0)
        fail_msg("del %s: %s", key, err.msg);
    sf_objects_close(o);
}

/* A crash between setting the entry aside and going on. History and
 * warehouse: the entry and the records read with it were in a transaction
 * not committed yet (the sink closed without a flush). Archive: the
 * entry's .json was put, its .bin and the objects after it were not. Run
 * again, every record lands once and the entry is set aside once. */
static void test_crash(void **state)
{
    const char *name = *state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_sink *k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    sf_error err = {0};
    if (strcmp(name, "archive") == 0) {
        sf_runner_stats st = {0};
        assert_int_equal(run(s, k, &st, &err), 0);
        unput(dir, "quarantine/part-0000-00000000000000000010.bin");
        unput(dir, "raw/transactions/dt=2010-12-01/"
                   "part-0000-00000000000000000011-00000000000000000020.ndjson.gz");
    } else {
        sf_pos next;
        sf_stream_batch b;
        sf_record scratch;
        bool stopped = false;
        assert_int_equal(k->ops->resume(k, &next, 1, &err), 0);
        assert_int_equal(sf_stream_batch_init(&b, 64, 1 << 16, &err), 0);
        assert_int_equal(sf_stream_read(s, 0, UT_AT(0), &b, &err), 0);
        assert_int_equal(b.count, BEFORE + 1 + AFTER);
        if (sf_sink_apply_checked(k, 0, &b, &scratch, &stopped, &err) != 0)
            fail_msg("apply: %s", err.msg);
        assert_false(stopped);
        sf_stream_batch_free(&b);
    }
    sf_sink_close(k); /* the crash: what was not committed is gone */
    k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    if (strcmp(name, "archive") == 0) {
        assert_set_aside(k, 0); /* a .json alone is not an entry set aside */
        assert_int_equal(position(k), BAD);
    } else {
        assert_set_aside(k, 0);
        assert_int_equal(position(k), 0);
        assert_int_equal(records_in(name, dir, k), 0);
    }
    sf_runner_stats st = {0};
    if (run(s, k, &st, &err) != 0)
        fail_msg("run: %s", err.msg);
    assert_int_equal(atomic_load(&st.quarantined), 1);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER);
    assert_int_equal(position(k), BEFORE + 1 + AFTER);
    assert_set_aside(k, 1);
    sf_sink_close(k);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* An object of the archive, one line (gzopen reads it plain). */
static void put_stray(const char *dir, const char *key)
{
    sf_objects *o;
    sf_error err = {0};
    char at[UT_PATH_MAX];
    ut_join(at, dir, "archive");
    assert_int_equal(sf_objects_open(at, NULL, &o, &err), 0);
    assert_int_equal(sf_objects_put(o, key, "{}\n", 3, &err), 0);
    sf_objects_close(o);
}

/* A retry with the fixed record: applied once, the entry gone; a second
 * retry, or one of an entry never set aside, is refused with nothing done. */
static void test_retry(void **state)
{
    const char *name = *state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_sink *k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    sf_runner_stats st = {0};
    sf_error err = {0};
    assert_int_equal(run(s, k, &st, &err), 0);
    sf_sink_close(k);
    k = open_sink(name, dir, SF_BAD_ENTRY_STOP); /* as `shopflow quarantine` opens it */
    if (strcmp(name, "archive") == 0)            /* a retry with another record, cut short */
        put_stray(dir, "raw/transactions/dt=2011-01-01/"
                       "part-0000-00000000000000000010-00000000000000000010.ndjson.gz");
    sf_record fixed;
    ut_make(&fixed, "536003", "FIXED", "THE FIXED LINE", 2, UT_T0 + 600, 1500, 12001,
            "United Kingdom");
    if (k->ops->retry(k, 0, UT_AT(BAD), &fixed, &err) != 0)
        fail_msg("retry: %s", err.msg);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER + 1);
    assert_set_aside(k, 0);
    assert_int_equal(k->ops->retry(k, 0, UT_AT(BAD), &fixed, &err), SF_ENOENT);
    assert_non_null(strstr(err.msg, "offset 10 is not in its quarantine"));
    assert_int_equal(k->ops->retry(k, 0, UT_AT(3), &fixed, &err), SF_ENOENT);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER + 1);
    if (strcmp(name, "warehouse") == 0) /* in its place: the offset it stands for */
        assert_int_equal(sql_count(dir, "SELECT count(*) FROM fact_sales WHERE log_offset = 10 "
                                        "AND stock_code = 'FIXED'"),
                         1);
    assert_int_equal(position(k), BEFORE + 1 + AFTER);
    sf_sink_close(k);
    k = open_sink(name, dir, SF_BAD_ENTRY_STOP); /* and the sink goes on as before */
    assert_int_equal(run(s, k, &st, &err), 0);
    assert_int_equal(records_in(name, dir, k), BEFORE + AFTER + 1);
    sf_sink_close(k);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* A history sink whose flush of everything fails once, its open
 * transaction rolled back (a full disk at the commit). */
typedef struct failing {
    sf_sink base;
    sf_sink *inner;
    int failures; /* flushes of everything still to fail */
} failing;

static void mirror(failing *f)
{
    atomic_store(&f->base.committed, atomic_load(&f->inner->committed));
    atomic_store(&f->base.quarantined, atomic_load(&f->inner->quarantined));
}

static int f_resume(sf_sink *s, sf_pos *next, uint32_t n, sf_error *err)
{
    failing *f = (failing *)s;
    return f->inner->ops->resume(f->inner, next, n, err);
}

static int f_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    failing *f = (failing *)s;
    int rc = f->inner->ops->apply(f->inner, p, b, err);
    mirror(f);
    return rc;
}

static int f_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                        const sf_pos *next, sf_error *err)
{
    failing *f = (failing *)s;
    return f->inner->ops->quarantine(f->inner, p, e, reason, next, err);
}

static int f_flush(sf_sink *s, bool all, sf_error *err)
{
    failing *f = (failing *)s;
    sf_pos next;
    if (all && f->failures > 0) {
        f->failures--;
        f->inner->ops->resume(f->inner, &next, 1, err); /* rolls the open transaction back */
        return sf_error_set(err, SF_EIO, "history: commit: No space left on device");
    }
    int rc = f->inner->ops->flush(f->inner, all, err);
    mirror(f);
    return rc;
}

static const sf_sink_ops failing_ops = {.name = "history",
                                        .resume = f_resume,
                                        .apply = f_apply,
                                        .flush = f_flush,
                                        .quarantine = f_quarantine};

/* A run rolled back counts nothing as applied; the next run counts what it
 * commits: every record once in all. */
static void test_applied_counts_commits(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    failing f = {.base = {.ops = &failing_ops, .on_bad_entry = SF_BAD_ENTRY_QUARANTINE},
                 .inner = open_sink("history", dir, SF_BAD_ENTRY_QUARANTINE),
                 .failures = 1};
    sf_runner_stats st = {0};
    sf_error err = {0};
    assert_int_equal(run(s, &f.base, &st, &err), SF_EIO);
    assert_int_equal(atomic_load(&st.applied), 0);
    assert_int_equal(atomic_load(&st.quarantined), 0);
    assert_int_equal(records_in("history", dir, f.inner), 0);
    if (run(s, &f.base, &st, &err) != 0)
        fail_msg("run: %s", err.msg);
    assert_int_equal(atomic_load(&st.applied), BEFORE + AFTER);
    assert_int_equal(atomic_load(&st.quarantined), 1);
    assert_int_equal(atomic_load(&f.inner->committed), BEFORE + AFTER);
    assert_int_equal(records_in("history", dir, f.inner), BEFORE + AFTER);
    sf_sink_close(f.inner);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* The columns schema 6 added, gone (then sql makes an older file). */
#define BEFORE_6                                                                                   \
    "DROP TABLE sink_quarantine; ALTER TABLE sink_offsets DROP COLUMN next_pos; "                  \
    "ALTER TABLE sink_offsets DROP COLUMN ordinal; "

/* A new warehouse in a new folder dir, made older by sql. */
static void older_warehouse(char dir[UT_PATH_MAX], const char *sql)
{
    char path[UT_PATH_MAX];
    ut_tmpdir(dir);
    ut_join(path, dir, "warehouse.db");
    sf_sink_close(open_sink("warehouse", dir, SF_BAD_ENTRY_STOP));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* SQLite schema 4 (before sink_quarantine): readers refuse it and say to
 * run the sink once, which upgrades it in place. */
static void test_sqlite_upgrade(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    older_warehouse(dir, BEFORE_6 "PRAGMA user_version = 4");
    sf_sink_places at = {.data_dir = dir};
    sf_sink *k = NULL;
    sf_error err = {0};
    assert_int_equal(sf_sink_open("warehouse", &at, NULL, true, &k, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "schema version 4"));
    assert_non_null(strstr(err.msg, "once to upgrade it"));
    k = open_sink("warehouse", dir, SF_BAD_ENTRY_STOP);
    assert_set_aside(k, 0);
    sf_sink_close(k);
    assert_int_equal(sql_count(dir, "PRAGMA user_version"), 6);
    assert_int_equal(sql_count(dir, "SELECT count(*) FROM sink_quarantine"), 0);
    ut_tmpdir_remove(dir);
}

/* SQLite schema 5 (before wide positions), with a position and an entry
 * set aside: a reader reads it as it is; the sink upgrades it to 6, the
 * ordinal starting at the next offset (so new fact_ids follow the old),
 * the entry kept under its offset. */
static void test_sqlite_upgrade_5(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX];
    older_warehouse(dir, BEFORE_6
                    "CREATE TABLE sink_quarantine (log_partition INTEGER NOT NULL,"
                    "  log_offset INTEGER NOT NULL, reason TEXT NOT NULL, bytes BLOB NOT NULL,"
                    "  quarantined_at TEXT NOT NULL, PRIMARY KEY (log_partition, log_offset));"
                    "INSERT INTO sink_offsets VALUES (0, 12);"
                    "INSERT INTO sink_quarantine VALUES (0, 7, 'why', x'00', 'then');"
                    "PRAGMA user_version = 5");
    sf_sink_places at = {.data_dir = dir};
    sf_sink *k = NULL;
    sf_error err = {0};
    assert_int_equal(sf_sink_open("warehouse", &at, NULL, true, &k, &err), 0);
    assert_int_equal(position(k), 12); /* read as it is */
    seen s = {0};
    assert_int_equal(k->ops->quarantined(k, note, &s, &err), 0);
    assert_true(s.n == 1 && s.offset == 7);
    sf_sink_close(k);
    assert_int_equal(sql_count(dir, "PRAGMA user_version"), 5);
    k = open_sink("warehouse", dir, SF_BAD_ENTRY_STOP);
    assert_int_equal(position(k), 12);
    sf_sink_close(k);
    assert_int_equal(sql_count(dir, "PRAGMA user_version"), 6);
    assert_int_equal(sql_count(dir, "SELECT ordinal FROM sink_offsets WHERE log_partition = 0"),
                     12);
    assert_int_equal(sql_count(dir, "SELECT log_offset FROM sink_quarantine WHERE log_pos = x''"),
                     7);
    ut_tmpdir_remove(dir);
}

/* What the runner's check says of an entry: a record, or why not. */
static void test_entry_check(void **state)
{
    (void)state;
    sf_record r, back;
    ut_make(&r, "536365", "85123A", "WHITE HANGING HEART", 6, 1291191960, 2550, 17850,
            "United Kingdom");
    uint8_t packed[SF_PACK_MAX];
    int len = sf_record_pack(&r, packed, sizeof packed);
    char why[SF_QUARANTINE_REASON_MAX] = "";
    sf_stream_entry e = {ut_pos(7), packed, (uint32_t)len};
    assert_true(sf_entry_check(&e, &back, why, sizeof why));
    assert_string_equal(back.invoice_no, "536365");
    e.len = 3;
    assert_false(sf_entry_check(&e, &back, why, sizeof why));
    assert_non_null(strstr(why, "3 bytes, shorter than a packed record's header"));
    static const uint8_t json[] = "{\"invoice_no\":\"536365\",\"quantity\":6,\"more\":\"....\"}";
    e = (sf_stream_entry){ut_pos(8), json, sizeof json - 1};
    assert_false(sf_entry_check(&e, &back, why, sizeof why));
    assert_non_null(strstr(why, "format byte 0x7b ('{'), not 1"));
}

/* Position k of a stream of Kinesis-like positions: 56 digits, 1,000 apart. */
static sf_pos kinesis(int k)
{
    static const char seq[] = "49590338271490256608559692538361571095921575989136588898";
    sf_pos p;
    assert_int_equal(sf_pos_parse(seq, strlen(seq), &p, NULL), 0);
    for (int i = 0; i < 1000 * k; i++)
        assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    return p;
}

/* Every sink on a stream of wide, sparse positions: it applies the
 * records, sets an entry aside at its position, and resumes past the last
 * (the archive after its highest LAST, its objects named in full decimal). */
static void test_wide_positions(void **state)
{
    const char *name = *state;
    char dir[UT_PATH_MAX];
    ut_tmpdir(dir);
    if (pg_url)
        reset_pg();
    enum { N = 6 };
    static sf_record recs[N];
    static uint8_t data[N][SF_PACK_MAX];
    sf_stream_entry e[N];
    make_records(recs, N, 0);
    for (int i = 0; i < N; i++) {
        int len = sf_record_pack(&recs[i], data[i], sizeof data[i]);
        e[i] = (sf_stream_entry){kinesis(i), data[i], (uint32_t)len};
    }
    e[3].data = bad, e[3].len = bad_len; /* not a record: set aside */
    sf_stream_batch b = {.entries = e, .count = N, .cap = N, .next = kinesis(N - 1)};
    assert_int_equal(sf_pos_add_one(&b.next, NULL), 0);
    sf_sink *k = open_sink(name, dir, SF_BAD_ENTRY_QUARANTINE);
    sf_pos next[1];
    sf_record scratch;
    bool stopped = false;
    sf_error err = {0};
    assert_int_equal(k->ops->resume(k, next, 1, &err), 0);
    if (sf_sink_apply_checked(k, 0, &b, &scratch, &stopped, &err) != 0 ||
        sf_sink_flush(k, true, &err) != 0)
        fail_msg("%s: %s", name, err.msg);
    assert_int_equal(records_in(name, dir, k), N - 1);
    assert_int_equal(k->ops->resume(k, next, 1, &err), 0);
    assert_int_equal(sf_pos_cmp(&next[0], &b.next), 0);
    wide_seen l = {0};
    assert_int_equal(k->ops->quarantined(k, note_wide, &l, &err), 0);
    sf_pos third = kinesis(3);
    assert_true(l.n == 1 && sf_pos_cmp(&l.pos, &third) == 0);
    sf_sink_close(k);
    if (strcmp(name, "archive") == 0) {
        char at[UT_PATH_MAX];
        ut_join(at, dir,
                "archive/quarantine/part-0000-"
                "49590338271490256608559692538361571095921575989136591898.bin");
        assert_int_equal(access(at, F_OK), 0);
    }
    ut_tmpdir_remove(dir);
}

#define FOR_SINK(name)                                                                             \
    cmocka_unit_test_prestate(test_stop, name), cmocka_unit_test_prestate(test_quarantine, name),  \
        cmocka_unit_test_prestate(test_crash, name), cmocka_unit_test_prestate(test_retry, name),  \
        cmocka_unit_test_prestate(test_wide_positions, name)

int main(void)
{
    static char history[] = "history", warehouse[] = "warehouse", archive[] = "archive";
    const struct CMUnitTest tests[] = {
        FOR_SINK(history),
        FOR_SINK(warehouse),
        FOR_SINK(archive),
        cmocka_unit_test(test_applied_counts_commits),
        cmocka_unit_test(test_sqlite_upgrade),
        cmocka_unit_test(test_sqlite_upgrade_5),
        cmocka_unit_test(test_entry_check),
    };
    const struct CMUnitTest pg_tests[] = {
        FOR_SINK(warehouse),
    };
    pg_url = getenv("SF_TEST_PG_URL");
    if (pg_url && *pg_url)
        return cmocka_run_group_tests(pg_tests, NULL, NULL);
    pg_url = NULL;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
