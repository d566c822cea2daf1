/*
 * test_warehouse_load.c - the "sqlite" warehouse's two-thread load path
 * (storage/warehouse/sqlite_load.c): what commit_later and commit promise.
 * Loaded content is checked with SQLite's own API on the file, not through
 * shopflow's queries: rows, their sum, and the stored positions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/pack.h"
#include "support.h"
#include "storage/warehouse/warehouse_adapter.h" /* the ops, to see commit_later is there */

#define MAX_ROWS 256

/* A batch of partition-local offsets [first, first + n), one record each. */
typedef struct test_batch {
    sf_stream_batch b;
    sf_stream_entry entries[MAX_ROWS];
    uint8_t data[MAX_ROWS][512];
} test_batch;

static int64_t make_batch(test_batch *t, uint64_t first, size_t n)
{
    int64_t sum = 0;
    memset(&t->b, 0, sizeof t->b);
    for (size_t i = 0; i < n; i++) {
        sf_record r;
        sf_record_clear(&r);
        r.invoice_no_len = (uint8_t)snprintf(r.invoice_no, sizeof r.invoice_no, "%llu",
                                             536000ULL + (first + i) / 4);
        r.stock_code_len = (uint8_t)snprintf(r.stock_code, sizeof r.stock_code, "2%04zu", i % 7);
        r.description_len = (uint16_t)snprintf(r.description, sizeof r.description, "ITEM %zu", i);
        r.country_len = (uint8_t)snprintf(r.country, sizeof r.country, "France");
        r.quantity = (int32_t)(1 + i % 5);
        r.unit_price = 1250 + (int64_t)i;
        r.customer_id = 12000 + (int32_t)(i % 3);
        r.invoice_date = 1291190400 + (int64_t)(first + i) * 600; /* from 2010-12-01 */
        sf_record_derive(&r);
        sum += (int64_t)r.quantity * r.unit_price;
        int len = sf_record_pack(&r, t->data[i], sizeof t->data[i]);
        assert_true(len > 0);
        t->entries[i] = (sf_stream_entry){ut_pos(first + i), t->data[i], (uint32_t)len};
    }
    t->b.entries = t->entries;
    t->b.count = n;
    t->b.cap = MAX_ROWS;
    t->b.next = ut_pos(first + n);
    return sum;
}

/* count(*) and sum(amount_milli) of fact_sales, straight from the file. */
static void facts_of(const char *path, int64_t *count, int64_t *sum)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), coalesce(sum(amount_milli), 0) "
                                        "FROM fact_sales",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    *count = sqlite3_column_int64(q, 0);
    *sum = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

typedef struct fixture {
    char dir[32], path[64];
    test_batch *t;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->t = calloc(1, sizeof *f->t);
    strcpy(f->dir, "/tmp/sf_test_whl_XXXXXX");
    if (!f->t || !mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/w.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f->t);
    free(f);
    return 0;
}

/* commit_later then more loads then commit: all of it durable, in order, with
 * both partitions' positions. */
static void test_later_then_commit(void **state)
{
    fixture *f = *state;
    sf_warehouse *w;
    sf_error err = {0};
    assert_int_equal(sf_warehouse_open(f->path, NULL, &w, &err), 0);
    assert_non_null(w->ops->commit_later);
    int64_t sum = make_batch(f->t, 0, 200);
    assert_int_equal(sf_warehouse_load(w, 0, &f->t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit_later(w, &err), 0);
    sum += make_batch(f->t, 0, 120);
    assert_int_equal(sf_warehouse_load(w, 1, &f->t->b, &err), 0);
    sum += make_batch(f->t, 200, 56);
    assert_int_equal(sf_warehouse_load(w, 0, &f->t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    sf_pos next[3];
    assert_int_equal(sf_warehouse_positions(w, next, 3, &err), 0);
    assert_int_equal(ut_off(&next[0]), 256);
    assert_int_equal(ut_off(&next[1]), 120);
    assert_int_equal(ut_off(&next[2]), 0);
    int64_t count, stored;
    facts_of(f->path, &count, &stored);
    assert_int_equal(count, 376);
    assert_int_equal(stored, sum);
    sf_warehouse_close(w);
}

/* A write that fails in the writer thread (a fact loaded twice) after a
 * commit_later: the next commit reports it, the earlier commit stays, the
 * failed transaction is gone whole, and loading goes on afterwards. */
static void test_failure_after_later(void **state)
{
    fixture *f = *state;
    sf_warehouse *w;
    sf_error err = {0};
    assert_int_equal(sf_warehouse_open(f->path, NULL, &w, &err), 0);
    int64_t sum = make_batch(f->t, 0, 100);
    assert_int_equal(sf_warehouse_load(w, 0, &f->t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit_later(w, &err), 0);
    int rc = sf_warehouse_load(w, 0, &f->t->b, &err); /* the same offsets again */
    if (rc == 0)
        rc = sf_warehouse_commit(w, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, "warehouse"));
    sf_pos next[1];
    assert_int_equal(sf_warehouse_positions(w, next, 1, &err), 0);
    assert_int_equal(ut_off(&next[0]), 100);
    int64_t count, stored;
    facts_of(f->path, &count, &stored);
    assert_int_equal(count, 100);
    assert_int_equal(stored, sum);
    sum += make_batch(f->t, 100, 30);
    assert_int_equal(sf_warehouse_load(w, 0, &f->t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    assert_int_equal(sf_warehouse_positions(w, next, 1, &err), 0);
    assert_int_equal(ut_off(&next[0]), 130);
    facts_of(f->path, &count, &stored);
    assert_int_equal(count, 130);
    assert_int_equal(stored, sum);
    sf_warehouse_close(w);
}

/* Closing with a commit_later in flight finishes it (it was handed over). */
static void test_close_finishes_later(void **state)
{
    fixture *f = *state;
    sf_warehouse *w;
    sf_error err = {0};
    assert_int_equal(sf_warehouse_open(f->path, NULL, &w, &err), 0);
    int64_t sum = make_batch(f->t, 0, 64);
    assert_int_equal(sf_warehouse_load(w, 2, &f->t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit_later(w, &err), 0);
    make_batch(f->t, 64, 10); /* loaded, never committed: rolled back at close */
    assert_int_equal(sf_warehouse_load(w, 2, &f->t->b, &err), 0);
    sf_warehouse_close(w);
    int64_t count, stored;
    facts_of(f->path, &count, &stored);
    assert_int_equal(count, 64);
    assert_int_equal(stored, sum);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_later_then_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_after_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_finishes_later, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
