/*
 * test_warehouse.c - the warehouse port's contract (warehouse.h), run
 * against every adapter in the table below (a new adapter adds its row):
 * SQLite in a fresh folder, and PostgreSQL in a fresh database of the
 * server at SF_TEST_PG_URL (tests/integration/warehouse_contract_pg.sh
 * starts one; without it that row is skipped).
 *  - a reader before anything is loaded: SF_ENOENT (at open, or at read);
 *  - loads are invisible until commit, then facts, rollups and positions
 *    are there together; commit_later then commit is durable as well;
 *  - the fence refuses a batch not at the stored position (SF_ESTALE) and
 *    drops the whole open transaction;
 *  - the quarantine: set aside with the position moved, listed, retried as
 *    a record once (SF_ENOENT after); committed counts what committed;
 *  - settings the adapter does not take, and unknown schemes, refused.
 * Every check reads through the port (a reader's sales, positions), so it
 * holds for any adapter. The SQLite loader's own two threads are in
 * test_warehouse_load.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "storage/warehouse/warehouse.h"
#include "support.h"

/* ---- the adapters ---- */

typedef struct adapter {
    const char *name;
    /* The location of a warehouse that is not there yet (dir: a fresh
     * folder); false when the adapter cannot be tried here. */
    bool (*location)(const char *dir, char *out, size_t cap);
} adapter;

static bool sqlite_location(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "sqlite:%s/warehouse.db", dir);
    return true;
}

/* A new database on the server of SF_TEST_PG_URL
 * ("postgresql:///NAME?host=...": pg.sh's form), named after dir. */
static bool postgres_location(const char *dir, char *out, size_t cap)
{
    const char *url = getenv("SF_TEST_PG_URL");
    const char *q = url ? strchr(url, '?') : NULL;
    if (!url || !*url || !q || strncmp(url, "postgresql:///", 14) != 0)
        return false;
    char name[64], sql[128];
    snprintf(name, sizeof name, "wc_%s", strrchr(dir, '-') + 1);
    for (char *c = name; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    snprintf(out, cap, "postgresql:///%s%s", name, q);
    return true;
}

static const adapter adapters[] = {
    {"sqlite", sqlite_location},
    {"postgres", postgres_location},
};

/* ---- helpers ---- */

typedef struct fixture {
    char dir[UT_PATH_MAX];
    char at[1024];
} fixture;

static void start(void **state, fixture *f)
{
    const adapter *a = *state;
    ut_tmpdir(f->dir);
    if (!a->location(f->dir, f->at, sizeof f->at)) {
        ut_tmpdir_remove(f->dir);
        skip(); /* no server here */
    }
}

static sf_warehouse *open_wh(const fixture *f, bool read_only)
{
    sf_warehouse_opts o = {.read_only = read_only};
    sf_warehouse *w = NULL;
    sf_error err = {0};
    if (sf_warehouse_open(f->at, &o, &w, &err) != 0)
        fail_msg("open %s: %s", f->at, err.msg);
    return w;
}

#define MAX_ROWS 64

/* Records at offsets [first, first + n) of a partition: 4 lines an invoice,
 * all on 2010-12-01; their revenue into *sum. */
typedef struct batch {
    sf_stream_batch b;
    sf_stream_entry e[MAX_ROWS];
    uint8_t data[MAX_ROWS][SF_PACK_MAX];
} batch;

static int64_t make(batch *t, uint64_t first, size_t n)
{
    int64_t sum = 0;
    memset(&t->b, 0, sizeof t->b);
    for (size_t i = 0; i < n; i++) {
        char inv[24], stock[24];
        sf_record r;
        snprintf(inv, sizeof inv, "%llu", 536000ULL + (first + i) / 4);
        snprintf(stock, sizeof stock, "2%04llu", (unsigned long long)(first + i) % 7);
        ut_make(&r, inv, stock, "ITEM", (int32_t)(1 + i % 5), UT_T0 + (int64_t)(first + i) * 60,
                1250 + (int64_t)i, 12000 + (int32_t)(i % 3), "France");
        sum += (int64_t)r.quantity * r.unit_price;
        int len = sf_record_pack(&r, t->data[i], sizeof t->data[i]);
        t->e[i] = (sf_stream_entry){ut_pos(first + i), t->data[i], (uint32_t)len};
    }
    t->b.entries = t->e;
    t->b.count = t->b.cap = n;
    t->b.next = ut_pos(first + n);
    return sum;
}

/* What a reader sees: the year's revenue and lines (0 0 when nothing). */
typedef struct totals {
    sf_i128 revenue;
    int64_t lines;
} totals;

static int on_sales(void *ctx, const sf_wh_sales *row, sf_error *err)
{
    (void)err;
    totals *t = ctx;
    t->revenue += row->revenue_milli;
    t->lines += row->lines;
    return 0;
}

static int read_totals(sf_warehouse *w, void *ctx, sf_error *err)
{
    return sf_warehouse_sales(w, SF_GRAIN_YEAR, NULL, NULL, on_sales, ctx, err);
}

static totals seen(const fixture *f)
{
    sf_warehouse *r = open_wh(f, true);
    totals t = {0, 0};
    sf_error err = {0};
    int rc = sf_warehouse_read(r, read_totals, &t, &err);
    if (rc != 0 && rc != SF_ENOENT)
        fail_msg("read: %s", err.msg);
    sf_warehouse_close(r);
    return t;
}

static uint64_t position(sf_warehouse *w, uint32_t p)
{
    sf_pos next[3];
    sf_error err = {0};
    assert_int_equal(sf_warehouse_positions(w, next, 3, &err), 0);
    return ut_off(&next[p]);
}

/* ---- the contract ---- */

static void test_reader_first(void **state)
{
    fixture f;
    start(state, &f);
    sf_warehouse_opts ro = {.read_only = true};
    sf_warehouse *r = NULL;
    sf_error err = {0};
    totals t = {0, 0};
    int rc = sf_warehouse_open(f.at, &ro, &r, &err);
    if (rc == 0) /* a server: the reader connects, and finds nothing loaded */
        rc = sf_warehouse_read(r, read_totals, &t, &err);
    assert_int_equal(rc, SF_ENOENT);
    sf_warehouse_close(r);
    ut_tmpdir_remove(f.dir);
}

static void test_load_commit(void **state)
{
    fixture f;
    start(state, &f);
    batch *t = calloc(1, sizeof *t);
    sf_error err = {0};
    sf_warehouse *w = open_wh(&f, false);
    int64_t sum = make(t, 0, 20);
    assert_int_equal(sf_warehouse_load(w, 0, &t->b, &err), 0);
    assert_true(seen(&f).lines == 0); /* not committed */
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    totals got = seen(&f);
    assert_true(got.lines == 20 && got.revenue == sum);
    assert_true(position(w, 0) == 20 && position(w, 1) == 0);
    /* commit_later, more, then commit: all of it. */
    sum += make(t, 0, 12);
    assert_int_equal(sf_warehouse_load(w, 1, &t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit_later(w, &err), 0);
    sum += make(t, 20, 8);
    assert_int_equal(sf_warehouse_load(w, 0, &t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    got = seen(&f);
    assert_true(got.lines == 40 && got.revenue == sum);
    assert_true(position(w, 0) == 28 && position(w, 1) == 12);
    uint64_t records, quarantined;
    sf_warehouse_committed(w, &records, &quarantined);
    assert_true(records == 40 && quarantined == 0);
    sf_warehouse_close(w);
    free(t);
    ut_tmpdir_remove(f.dir);
}

static void test_fence(void **state)
{
    fixture f;
    start(state, &f);
    batch *t = calloc(1, sizeof *t);
    sf_error err = {0};
    sf_warehouse *w = open_wh(&f, false);
    int64_t sum = make(t, 0, 10);
    assert_int_equal(sf_warehouse_load(w, 0, &t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    /* A good batch, then one from an old position: the transaction goes. */
    make(t, 10, 5);
    assert_int_equal(sf_warehouse_load(w, 0, &t->b, &err), 0);
    make(t, 4, 5);
    int rc = sf_warehouse_load(w, 0, &t->b, &err);
    if (rc == 0) /* an adapter may find out at commit */
        rc = sf_warehouse_commit(w, &err);
    assert_int_equal(rc, SF_ESTALE);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    totals got = seen(&f);
    assert_true(got.lines == 10 && got.revenue == sum);
    assert_true(position(w, 0) == 10);
    sf_warehouse_close(w);
    free(t);
    ut_tmpdir_remove(f.dir);
}

typedef struct listed {
    int n;
    uint32_t p;
    uint64_t offset;
    char reason[64];
    size_t len;
} listed;

static int on_quarantined(void *ctx, uint32_t p, const sf_pos *pos, const char *reason,
                          const char *at, const uint8_t *data, size_t len)
{
    (void)at, (void)data;
    listed *l = ctx;
    l->n++;
    l->p = p, l->offset = ut_off(pos), l->len = len;
    snprintf(l->reason, sizeof l->reason, "%s", reason);
    return 0;
}

static void test_quarantine(void **state)
{
    fixture f;
    start(state, &f);
    batch *t = calloc(1, sizeof *t);
    sf_error err = {0};
    sf_warehouse *w = open_wh(&f, false);
    int64_t sum = make(t, 0, 4);
    assert_int_equal(sf_warehouse_load(w, 2, &t->b, &err), 0);
    sf_stream_entry bad = {ut_pos(4), (const uint8_t *)"{not}", 5};
    assert_int_equal(sf_warehouse_quarantine(w, 2, &bad, "not a record", "2026-12-05T17:20:30.123Z",
                                             UT_AT(5), &err),
                     0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    assert_true(position(w, 2) == 5);
    listed l = {0};
    assert_int_equal(sf_warehouse_quarantined(w, on_quarantined, &l, &err), 0);
    assert_true(l.n == 1 && l.p == 2 && l.offset == 4 && l.len == 5);
    assert_string_equal(l.reason, "not a record");
    uint64_t records, quarantined;
    sf_warehouse_committed(w, &records, &quarantined);
    assert_true(records == 4 && quarantined == 1);

    /* Retried as a record: a fact, the entry gone, positions as they were. */
    int64_t more = make(t, 4, 1);
    assert_int_equal(sf_warehouse_retry(w, 2, &t->e[0], &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    totals got = seen(&f);
    assert_true(got.lines == 5 && got.revenue == sum + more);
    l.n = 0;
    assert_int_equal(sf_warehouse_quarantined(w, on_quarantined, &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_true(position(w, 2) == 5);
    int rc = sf_warehouse_retry(w, 2, &t->e[0], &err);
    if (rc == 0)
        rc = sf_warehouse_commit(w, &err);
    assert_int_equal(rc, SF_ENOENT);
    sf_warehouse_close(w);
    free(t);
    ut_tmpdir_remove(f.dir);
}

/* Positions as Kinesis gives them: sparse sequence numbers of 56 digits.
 * Entry i of the batch is at KINESIS + 1000 * (first + i). */
#define KINESIS "49590338271490256608559692538361571095921575989136588898"

static sf_pos wide_at(uint64_t k)
{
    sf_pos p;
    assert_int_equal(sf_pos_parse(KINESIS, strlen(KINESIS), &p, NULL), 0);
    for (uint64_t i = 0; i < 1000 * k; i++) /* small k only */
        assert_int_equal(sf_pos_add_one(&p, NULL), 0);
    return p;
}

static void make_wide(batch *t, uint64_t first, size_t n)
{
    make(t, first, n);
    for (size_t i = 0; i < n; i++)
        t->e[i].pos = wide_at(first + i);
    t->b.next = wide_at(first + n - 1);
    assert_int_equal(sf_pos_add_one(&t->b.next, NULL), 0); /* just past the last */
}

typedef struct wide_listed {
    int n;
    sf_pos pos;
} wide_listed;

static int on_wide(void *ctx, uint32_t p, const sf_pos *pos, const char *reason, const char *at,
                   const uint8_t *data, size_t len)
{
    (void)p, (void)reason, (void)at, (void)data, (void)len;
    wide_listed *l = ctx;
    l->n++;
    l->pos = *pos;
    return 0;
}

/* Sparse positions wider than 64 bits: stored and read back exactly, the
 * fence compares them, an entry set aside there is listed at its position,
 * and the records all load (fact_id counts records, not positions). */
static void test_wide_positions(void **state)
{
    fixture f;
    start(state, &f);
    batch *t = calloc(1, sizeof *t);
    sf_error err = {0};
    sf_warehouse *w = open_wh(&f, false);
    make_wide(t, 0, 6);
    sf_pos after = t->b.next;
    assert_int_equal(sf_warehouse_load(w, 1, &t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    sf_pos next[3];
    assert_int_equal(sf_warehouse_positions(w, next, 3, &err), 0);
    assert_int_equal(sf_pos_cmp(&next[1], &after), 0);
    assert_true(next[0].len == 0 && next[2].len == 0);
    /* the next batch from elsewhere is refused */
    make_wide(t, 7, 2);
    int rc = sf_warehouse_load(w, 1, &t->b, &err);
    if (rc == 0)
        rc = sf_warehouse_commit(w, &err);
    assert_int_equal(rc, SF_ESTALE);
    assert_non_null(strstr(err.msg, "495903382714902566085596925383615710959215759891365"));
    /* an entry set aside at a wide position, then more records after it */
    sf_stream_entry bad = {after, (const uint8_t *)"{not}", 5};
    sf_pos past = wide_at(7);
    assert_int_equal(sf_warehouse_quarantine(w, 1, &bad, "not a record", "2026-12-05T17:20:30.123Z",
                                             &past, &err),
                     0);
    make_wide(t, 7, 3);
    assert_int_equal(sf_warehouse_load(w, 1, &t->b, &err), 0);
    assert_int_equal(sf_warehouse_commit(w, &err), 0);
    assert_true(seen(&f).lines == 9);
    wide_listed l = {0};
    assert_int_equal(sf_warehouse_quarantined(w, on_wide, &l, &err), 0);
    assert_true(l.n == 1 && sf_pos_cmp(&l.pos, &after) == 0);
    assert_int_equal(sf_warehouse_positions(w, next, 3, &err), 0);
    assert_int_equal(sf_pos_cmp(&next[1], &t->b.next), 0);
    sf_warehouse_close(w);
    free(t);
    ut_tmpdir_remove(f.dir);
}

static void test_settings(void **state)
{
    const adapter *a = *state;
    fixture f;
    start(state, &f);
    const char *kv[] = {"no.such=setting"};
    sf_warehouse_opts o = {.extra = kv, .nextra = 1};
    sf_warehouse *w = NULL;
    sf_error err = {0};
    int rc = sf_warehouse_open(f.at, &o, &w, &err);
    if (rc == 0) /* an adapter that takes settings: not this one */
        sf_warehouse_close(w);
    else
        assert_int_equal(rc, SF_EUSAGE);
    assert_int_equal(sf_warehouse_open("nosuch:x", NULL, &w, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no adapter for 'nosuch:'"));
    assert_non_null(strstr(err.msg, a->name)); /* among the known ones */
    ut_tmpdir_remove(f.dir);
}

int main(void)
{
    const struct CMUnitTest contract[] = {
        cmocka_unit_test(test_reader_first),   cmocka_unit_test(test_load_commit),
        cmocka_unit_test(test_fence),          cmocka_unit_test(test_quarantine),
        cmocka_unit_test(test_wide_positions), cmocka_unit_test(test_settings),
    };
    return ut_run_per_adapter("warehouse contract", contract, sizeof contract / sizeof *contract,
                              adapters, sizeof adapters[0], sizeof adapters / sizeof adapters[0]);
}
