/*
 * test_fence.c - the sinks' fence against a zombie member of a consumer
 * group (sink.h, runner.c): a batch that does not start at its partition's
 * stored position is refused, SF_ESTALE, in the transaction of its effects,
 * and leaves nothing behind; the runner then reads again from the stored
 * position, so nothing is applied twice and nothing is skipped.
 *
 * The zombie is played by a second sink (or a second view of the same one)
 * that still believes in an older position. The checks read the stores
 * directly: the warehouse with the sqlite3 API (or libpq), the history
 * store by counting the lines its port gives. With SF_TEST_PG_URL set (an empty
 * database; tests/integration/warehouse_fence_pg.sh), the warehouse checks
 * run on PostgreSQL too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "sinks/history.h"
#include "sinks/sink.h"
#include "storage/store/store.h"
#include "stream/stream.h"
#include "support.h"

#define RECORDS 50

/* A one-partition local log of RECORDS records (5 lines per invoice). */
static sf_stream *make_log(const char *dir)
{
    char at[UT_PATH_MAX];
    ut_join(at, dir, "log");
    sf_stream_opts opts = {.partitions = 1};
    sf_stream *s = NULL;
    sf_error err = {0};
    if (sf_stream_open(at, &opts, &s, &err) != 0)
        fail_msg("open %s: %s", at, err.msg);
    sf_record recs[RECORDS];
    for (int i = 0; i < RECORDS; i++) {
        char inv[16], stock[16];
        snprintf(inv, sizeof inv, "%d", 536000 + i / 5);
        snprintf(stock, sizeof stock, "S%03d", i % 17);
        ut_make(&recs[i], inv, stock, "AN ITEM", 1 + i % 4, UT_T0 + i * 60, 1000 + i, 12000 + i % 7,
                "United Kingdom");
    }
    if (sf_stream_append(s, recs, RECORDS, NULL, NULL, &err) != 0)
        fail_msg("append: %s", err.msg);
    return s;
}

/* The batch of partition 0 from offset `from`, at most n entries. */
static void read_batch(sf_stream *s, uint64_t from, size_t n, sf_stream_batch *b)
{
    sf_error err = {0};
    if (sf_stream_batch_init(b, n, 1 << 16, &err) != 0 ||
        sf_stream_read(s, 0, UT_AT(from), b, &err) != 0)
        fail_msg("read from %llu: %s", (unsigned long long)from, err.msg);
    assert_int_equal(b->count, n);
    assert_int_equal(ut_off(&b->entries[0].pos), from);
}

/* The warehouse under test: SQLite in dir, or PostgreSQL at SF_TEST_PG_URL. */
static const char *pg_url;

static sf_sink *open_warehouse(const char *dir)
{
    sf_sink_places at = {.data_dir = dir, .warehouse = pg_url};
    sf_sink *k = NULL;
    sf_error err = {0};
    if (sf_sink_open("warehouse", &at, NULL, false, &k, &err) != 0)
        fail_msg("warehouse: %s", err.msg);
    return k;
}

#define STATE_SQL                                                                                  \
    ("SELECT (SELECT count(*) FROM fact_sales) || ' ' || "                                         \
     "(SELECT count(DISTINCT log_offset) FROM fact_sales) || ' ' || "                              \
     "(SELECT next_offset FROM sink_offsets WHERE log_partition = 0)")

/* "facts distinct_offsets position", by libpq itself. */
static void pg_state(char *out, size_t cap)
{
    PGconn *c = PQconnectdb(pg_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *res = PQexec(c, STATE_SQL);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
}

/* "facts distinct_offsets position" of DIR/warehouse.db, by sqlite3 itself
 * (or of the PostgreSQL database). */
static void warehouse_state(const char *dir, char *out, size_t cap)
{
    if (pg_url) {
        pg_state(out, cap);
        return;
    }
    char path[UT_PATH_MAX];
    ut_join(path, dir, "warehouse.db");
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, STATE_SQL, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Apply b to partition 0, then flush it: a sink may report the fence's
 * refusal from either call (the SQLite warehouse checks it on its writer
 * thread, behind apply; PostgreSQL and the history store inside apply). */
static int load(sf_sink *k, const sf_stream_batch *b, sf_error *err)
{
    int rc = k->ops->apply(k, 0, b, err);
    return rc < 0 ? rc : k->ops->flush(k, true, err);
}

/* Two loaders of one warehouse, each refused once it is behind the other. */
static void test_warehouse(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], got[64];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_stream_batch first, rest;
    read_batch(s, 0, 20, &first);
    read_batch(s, 20, RECORDS - 20, &rest);
    sf_sink *a = open_warehouse(dir), *zombie = open_warehouse(dir);
    sf_error err = {0};

    assert_int_equal(load(a, &first, &err), 0);
    /* The zombie still reads from 0: refused, nothing of it stays. */
    assert_int_equal(load(zombie, &first, &err), SF_ESTALE);
    assert_non_null(
        strstr(err.msg, "partition 0: a batch from offset 0, but the warehouse is at 20"));
    assert_int_equal(zombie->ops->flush(zombie, true, &err), 0);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "20 20 20");
    /* From the stored position it may go on; then the first one is behind. */
    assert_int_equal(load(zombie, &rest, &err), 0);
    assert_int_equal(load(a, &rest, &err), SF_ESTALE);
    assert_int_equal(a->ops->flush(a, true, &err), 0);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "50 50 50");

    sf_sink_close(a);
    sf_sink_close(zombie);
    sf_stream_batch_free(&first);
    sf_stream_batch_free(&rest);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* One loader after another (PostgreSQL lets one hold the loader's lock at
 * a time), and a batch again inside one transaction: refused, and the whole
 * open transaction with it. */
static void test_warehouse_sequential(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], got[64];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_stream_batch first, rest;
    read_batch(s, 0, 20, &first);
    read_batch(s, 20, RECORDS - 20, &rest);
    sf_error err = {0};
    sf_sink *a = open_warehouse(dir);
    assert_int_equal(load(a, &first, &err), 0);
    sf_sink_close(a);

    sf_sink *z = open_warehouse(dir);
    assert_int_equal(load(z, &first, &err), SF_ESTALE);
    assert_int_equal(z->ops->flush(z, true, &err), 0);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "20 20 20");
    assert_int_equal(z->ops->apply(z, 0, &rest, &err), 0);
    assert_int_equal(load(z, &rest, &err), SF_ESTALE);
    assert_non_null(strstr(err.msg, "a batch from offset 20, but the warehouse is at 50"));
    assert_int_equal(z->ops->flush(z, true, &err), 0);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "20 20 20");
    assert_int_equal(load(z, &rest, &err), 0);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "50 50 50");

    sf_sink_close(z);
    sf_stream_batch_free(&first);
    sf_stream_batch_free(&rest);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* The history sink: a batch again, or one that skips ahead, is refused. */
static void test_history(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], at[UT_PATH_MAX];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_stream_batch first, rest, ahead;
    read_batch(s, 0, 20, &first);
    read_batch(s, 20, RECORDS - 20, &rest);
    read_batch(s, 30, 10, &ahead);
    ut_join(at, dir, "history");
    sf_store *st;
    sf_sink *h;
    sf_error err = {0};
    assert_int_equal(sf_store_open(at, NULL, &st, &err), 0);
    assert_int_equal(sf_history_sink_new(st, &h, &err), 0);

    assert_int_equal(load(h, &first, &err), 0);
    assert_int_equal(load(h, &first, &err), SF_ESTALE);
    assert_non_null(strstr(err.msg, "a batch from offset 0, but the store is at 20"));
    assert_int_equal(load(h, &ahead, &err), SF_ESTALE);
    assert_int_equal(ut_history_lines(st), 20);
    assert_int_equal(load(h, &rest, &err), 0);
    assert_int_equal(ut_history_lines(st), RECORDS);

    h->ops->close(h);
    sf_store_close(st);
    sf_stream_batch_free(&first);
    sf_stream_batch_free(&rest);
    sf_stream_batch_free(&ahead);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

/* A sink that resumed before another member moved the store on: its first
 * resume answers 0 (the stale view), later ones the store's truth. */
typedef struct zombie {
    sf_sink base;
    sf_sink *inner;
    int resumes, refused;
} zombie;

static int z_resume(sf_sink *s, sf_pos *next, uint32_t n, sf_error *err)
{
    zombie *z = (zombie *)s;
    if (z->resumes++ == 0) {
        memset(next, 0, n * sizeof *next);
        return 0;
    }
    return z->inner->ops->resume(z->inner, next, n, err);
}

static int z_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    zombie *z = (zombie *)s;
    int rc = z->inner->ops->apply(z->inner, p, b, err);
    z->refused += rc == SF_ESTALE;
    return rc;
}

static int z_flush(sf_sink *s, bool all, sf_error *err)
{
    zombie *z = (zombie *)s;
    int rc = z->inner->ops->flush(z->inner, all, err);
    z->refused += rc == SF_ESTALE;
    return rc;
}

static const sf_sink_ops zombie_ops = {
    .name = "warehouse", .resume = z_resume, .apply = z_apply, .flush = z_flush};

/* The runner, refused, reads again from the store: 50 facts, once each. */
static void test_runner(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], got[64];
    ut_tmpdir(dir);
    sf_stream *s = make_log(dir);
    sf_stream_batch first;
    read_batch(s, 0, 20, &first);
    sf_sink *other = open_warehouse(dir);
    sf_error err = {0};
    assert_int_equal(load(other, &first, &err), 0);

    zombie z = {{.ops = &zombie_ops}, open_warehouse(dir), 0, 0};
    int rc = sf_runner_run(s, &z.base, true, NULL, NULL, NULL, &err);
    if (rc != 0)
        fail_msg("runner: %s", err.msg);
    assert_int_equal(z.refused, 1);
    assert_int_equal(z.resumes, 2);
    warehouse_state(dir, got, sizeof got);
    assert_string_equal(got, "50 50 50");

    sf_sink_close(z.inner);
    sf_sink_close(other);
    sf_stream_batch_free(&first);
    sf_stream_close(s);
    ut_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warehouse),
        cmocka_unit_test(test_warehouse_sequential),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_runner),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_warehouse_sequential),
    };
    pg_url = getenv("SF_TEST_PG_URL");
    if (pg_url && *pg_url)
        return cmocka_run_group_tests(pg_tests, NULL, NULL);
    pg_url = NULL;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
