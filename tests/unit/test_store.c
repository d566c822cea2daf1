/*
 * test_store.c - the history store port's contract (store.h), run against
 * every adapter in the table below (a new adapter adds its row):
 *  - a read-only open makes nothing (SF_ENOENT), a writer's makes the store;
 *  - a unit of work is invisible to readers and to positions until commit,
 *    and rollback drops it; every line is kept, identical ones too, in
 *    order, with the header's totals;
 *  - the fence refuses a batch not at the stored position (SF_ESTALE) and
 *    drops the unit it was in; an empty batch (a hole) moves the position;
 *  - a customer's pages: newest first, limit and more, after the last one
 *    listed, from and to, SF_ENOENT for a customer without invoices;
 *  - the dead-letter area: set aside (fenced, position moved), listed,
 *    retried as a line once (SF_ENOENT after);
 *  - every invoice once through each_invoice;
 *  - settings an adapter does not take, and unknown schemes, refused.
 * Then what is the LMDB adapter's own: a folder that cannot be made.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/aws.h"
#include "core/pack.h"
#include "storage/store/store.h"
#include "support.h"

/* ---- the adapters ---- */

typedef struct adapter {
    const char *name;
    /* The location of a store that is not there yet, under dir. */
    void (*location)(const char *dir, char *out, size_t cap);
} adapter;

static void lmdb_location(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "lmdb:%s/history", dir);
}

/* A fresh table on the emulator (AWS_ENDPOINT_URL_DYNAMODB). */
static void dynamodb_location(const char *dir, char *out, size_t cap)
{
    static int n;
    (void)dir;
    snprintf(out, cap, "dynamodb://%s-%d", getenv("SF_TEST_NAME"), ++n);
}

/* The dynamodb row is the last: left out when no emulator runs (no node). */
static const adapter adapters[] = {
    {"lmdb", lmdb_location},
    {"dynamodb", dynamodb_location},
};

static bool have_dynamodb(void)
{
    return getenv("AWS_ENDPOINT_URL_DYNAMODB") && getenv("SF_TEST_NAME");
}

/* ---- helpers ---- */

#define T0 INT64_C(1291191960) /* 2010-12-01 08:26:00 */

typedef struct fixture {
    char dir[UT_PATH_MAX];
    char at[UT_PATH_MAX + 32];
    sf_store *s;
} fixture;

static void start(void **state, fixture *f)
{
    const adapter *a = *state;
    ut_tmpdir(f->dir);
    a->location(f->dir, f->at, sizeof f->at);
    sf_error err = {0};
    assert_int_equal(sf_store_open(f->at, NULL, &f->s, &err), 0);
}

static void finish(fixture *f)
{
    sf_store_close(f->s);
    ut_tmpdir_remove(f->dir);
}

/* A batch of records from offset `from` on, packed in its own memory. */
typedef struct batch {
    sf_stream_batch b;
    sf_stream_entry e[16];
    uint8_t data[16][SF_PACK_MAX];
} batch;

typedef struct line {
    const char *invoice, *stock;
    int32_t qty;
    int64_t date;
    int64_t price;
    int32_t customer;
} line;

static void make(batch *bt, uint64_t from, const line *lines, size_t n)
{
    memset(&bt->b, 0, sizeof bt->b);
    for (size_t i = 0; i < n; i++) {
        sf_record r;
        ut_make(&r, lines[i].invoice, lines[i].stock, "A THING", lines[i].qty, lines[i].date,
                lines[i].price, lines[i].customer, "United Kingdom");
        int len = sf_record_pack(&r, bt->data[i], sizeof bt->data[i]);
        bt->e[i] = (sf_stream_entry){ut_pos(from + i), bt->data[i], (uint32_t)len};
    }
    bt->b.entries = bt->e;
    bt->b.cap = bt->b.count = n;
    bt->b.next = ut_pos(from + n);
}

static uint64_t position(sf_store *s, uint32_t p)
{
    sf_pos next[4];
    sf_error err = {0};
    assert_int_equal(sf_store_positions(s, next, 4, &err), 0);
    return ut_off(&next[p]);
}

/* What an invoice read gives. */
typedef struct seen {
    sf_invoice_header h;
    int lines;
    char stock[8][SF_STOCK_CODE_MAX + 1];
    int32_t qty[8];
} seen;

static int on_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    (void)invoice_no, (void)len;
    ((seen *)ctx)->h = *h;
    return 0;
}

static int on_line(void *ctx, const sf_record *r)
{
    seen *v = ctx;
    if (v->lines < 8) {
        snprintf(v->stock[v->lines], sizeof v->stock[0], "%s", r->stock_code);
        v->qty[v->lines] = r->quantity;
    }
    v->lines++;
    return 0;
}

static int invoice(sf_store *s, const char *no, seen *v)
{
    sf_error err = {0};
    memset(v, 0, sizeof *v);
    return sf_store_invoice(s, no, strlen(no), on_header, on_line, v, &err);
}

/* ---- the contract ---- */

static void test_read_only_absent(void **state)
{
    const adapter *a = *state;
    char dir[UT_PATH_MAX], at[UT_PATH_MAX + 32];
    ut_tmpdir(dir);
    a->location(dir, at, sizeof at);
    sf_store *s;
    sf_error err = {0};
    sf_store_opts ro = {.read_only = true};
    assert_int_equal(sf_store_open(at, &ro, &s, &err), SF_ENOENT);
    assert_int_equal(sf_store_open(at, &ro, &s, &err), SF_ENOENT); /* made nothing */
    assert_int_equal(sf_store_open(at, NULL, &s, &err), 0);
    sf_store_close(s);
    assert_int_equal(sf_store_open(at, &ro, &s, &err), 0);
    assert_true(position(s, 0) == 0 && position(s, 3) == 0);
    seen v;
    assert_int_equal(invoice(s, "536365", &v), SF_ENOENT);
    sf_store_close(s);
    ut_tmpdir_remove(dir);
}

static const line first[] = {
    {"536365", "85123A", 6, T0, 2550, 17850},
    {"536365", "85123A", 6, T0, 2550, 17850}, /* the same line again: kept */
    {"536365", "71053", -2, T0, 3390, 17850},
    {"536366", "22633", 6, T0 + 120, 1850, 17850},
};

static void test_unit_of_work(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    seen v;
    sf_error err = {0};
    make(&bt, 0, first, 4);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    assert_true(position(f.s, 0) == 0);                      /* not committed */
    assert_int_equal(invoice(f.s, "536365", &v), SF_ENOENT); /* not seen */
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_true(position(f.s, 0) == 4 && position(f.s, 1) == 0);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_int_equal(v.lines, 3);
    assert_int_equal(v.h.lines, 3);
    assert_string_equal(v.stock[0], "85123A");
    assert_string_equal(v.stock[1], "85123A");
    assert_string_equal(v.stock[2], "71053");
    assert_true(v.h.total == 2 * 6 * 2550 - 2 * 3390 && v.h.units == 10);
    assert_true(v.h.date == T0 && v.h.customer_id == 17850 && v.h.kind == SF_KIND_SALE);
    assert_string_equal(v.h.country, "United Kingdom");

    /* Rolled back: nothing of it. */
    const line more[] = {{"536365", "84406B", 8, T0, 2750, 17850}};
    make(&bt, 4, more, 1);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    sf_store_rollback(f.s);
    assert_int_equal(sf_store_commit(f.s, &err), 0); /* none open: nothing */
    assert_true(position(f.s, 0) == 4);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_int_equal(v.lines, 3);
    /* Applied again and committed: the next line, after the stored ones. */
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_true(v.lines == 4 && v.h.lines == 4 && v.qty[3] == 8);
    assert_true(v.h.total == 2 * 6 * 2550 - 2 * 3390 + 8 * 2750);
    finish(&f);
}

/* An invoice whose lines go on in other partitions (Kinesis reshards: a
 * shard's lines, then its child's, then its child's), across units and
 * within one: every line once, in stream order, with the totals. */
static const line lineage_a[] = {{"536900", "A1", 1, T0, 1000, 12000},
                                 {"536900", "A2", 2, T0, 1000, 12000}};
static const line lineage_b[] = {{"536900", "B1", 3, T0, 1000, 12000}};
static const line lineage_c[] = {{"536900", "C1", 4, T0, 1000, 12000},
                                 {"536901", "C2", 5, T0, 1000, 12000}};

/* The last unit of the lineage: partition 2 on from 1, then 3 from 0. */
static void lineage_last_unit(sf_store *s)
{
    batch bt;
    sf_error err = {0};
    make(&bt, 1, lineage_b, 1);
    assert_int_equal(sf_store_apply(s, 2, &bt.b, &err), 0);
    make(&bt, 0, lineage_c, 2);
    assert_int_equal(sf_store_apply(s, 3, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);
}

static void check_lineage(sf_store *s)
{
    seen v;
    static const char *const stock[] = {"A1", "A2", "B1", "B1", "C1"};
    assert_int_equal(invoice(s, "536900", &v), 0);
    assert_true(v.lines == 5 && v.h.lines == 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(v.stock[i], stock[i]);
    assert_true(v.h.total == 13 * 1000 && v.h.units == 13);
    assert_int_equal(invoice(s, "536901", &v), 0);
    assert_true(v.lines == 1 && v.h.lines == 1);
    assert_true(position(s, 0) == 2 && position(s, 2) == 2 && position(s, 3) == 2);
}

static void test_lineage(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    sf_error err = {0};
    make(&bt, 0, lineage_a, 2);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    make(&bt, 0, lineage_b, 1); /* a unit of its own: 0, then 2 */
    assert_int_equal(sf_store_apply(f.s, 2, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    lineage_last_unit(f.s); /* in one unit: 2, then 3 */
    check_lineage(f.s);
    finish(&f);
}

static void test_fence(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    seen v;
    sf_error err = {0};
    make(&bt, 0, first, 4);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    /* A good batch, then one from an old position in the same unit: both
     * gone. */
    const line more[] = {{"536367", "84879", 32, T0 + 240, 1690, 13047}};
    make(&bt, 4, more, 1);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    make(&bt, 2, more, 1);
    int rc = sf_store_apply(f.s, 0, &bt.b, &err);
    if (rc == 0) /* an adapter may find out at commit */
        rc = sf_store_commit(f.s, &err);
    assert_int_equal(rc, SF_ESTALE);
    assert_non_null(strstr(err.msg, "partition 0"));
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_true(position(f.s, 0) == 4);
    assert_int_equal(invoice(f.s, "536367", &v), SF_ENOENT);
    /* Ahead of the position: refused too. */
    make(&bt, 5, more, 1);
    if ((rc = sf_store_apply(f.s, 0, &bt.b, &err)) == 0)
        rc = sf_store_commit(f.s, &err);
    assert_int_equal(rc, SF_ESTALE);
    /* An empty batch (a hole skipped) moves the position on. */
    sf_stream_batch hole = {.next = ut_pos(9)};
    assert_int_equal(sf_store_apply(f.s, 0, &hole, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_true(position(f.s, 0) == 9);
    /* A partition with nothing stored takes any first batch. */
    make(&bt, 7, more, 1);
    assert_int_equal(sf_store_apply(f.s, 2, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_true(position(f.s, 2) == 8);
    finish(&f);
}

/* What a page lists. */
typedef struct page {
    int n;
    char no[8][SF_INVOICE_NO_MAX + 1];
    sf_store_after last;
} page;

static int on_listed(void *ctx, int64_t date, const char *invoice_no, size_t len,
                     const sf_invoice_header *h)
{
    page *pg = ctx;
    assert_true(h->date == date && h->customer_id == 13047);
    if (pg->n < 8)
        snprintf(pg->no[pg->n], sizeof pg->no[0], "%.*s", (int)len, invoice_no);
    pg->n++;
    pg->last = (sf_store_after){true, date, len, {0}};
    memcpy(pg->last.invoice_no, invoice_no, len);
    return 0;
}

static int list(sf_store *s, const sf_store_page *q, page *pg, bool *more)
{
    sf_error err = {0};
    memset(pg, 0, sizeof *pg);
    return sf_store_customer_invoices(s, q, on_listed, pg, more, &err);
}

static void test_pages(void **state)
{
    fixture f;
    start(state, &f);
    const line lines[] = {
        {"536367", "84879", 1, T0 + 60, 1000, 13047},
        {"536368", "22960", 1, T0 + 120, 1000, 13047},
        {"536369", "21756", 1, T0 + 120, 1000, 13047}, /* same date: by number */
        {"536369", "21757", 1, T0 + 180, 1000, 13047}, /* a later line: dated by its first */
        {"536370", "22728", 1, T0 + 86400, 1000, 13047},
        {"536371", "22727", 1, T0, 1000, SF_NO_CUSTOMER}, /* on no customer's pages */
    };
    batch bt;
    sf_error err = {0};
    make(&bt, 0, lines, 6);
    assert_int_equal(sf_store_apply(f.s, 1, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);

    sf_store_page q = {13047, INT64_MIN, INT64_MAX, 2, {0}};
    page pg;
    bool more;
    assert_int_equal(list(f.s, &q, &pg, &more), 0);
    assert_true(pg.n == 2 && more);
    assert_string_equal(pg.no[0], "536370");
    assert_string_equal(pg.no[1], "536369");
    q.after = pg.last;
    assert_int_equal(list(f.s, &q, &pg, &more), 0);
    assert_true(pg.n == 2 && !more);
    assert_string_equal(pg.no[0], "536368");
    assert_string_equal(pg.no[1], "536367");
    q.after = pg.last;
    assert_int_equal(list(f.s, &q, &pg, &more), 0);
    assert_true(pg.n == 0 && !more); /* past the oldest: an empty page */

    /* from and to, both included. */
    sf_store_page r = {13047, T0 + 120, T0 + 120, 10, {0}};
    assert_int_equal(list(f.s, &r, &pg, &more), 0);
    assert_true(pg.n == 2 && !more);
    assert_string_equal(pg.no[0], "536369");
    r.from = r.to = T0 + 3600; /* none that day-hour: an empty page */
    assert_int_equal(list(f.s, &r, &pg, &more), 0);
    assert_int_equal(pg.n, 0);
    /* A customer with no invoice at all. */
    sf_store_page none = {17850, INT64_MIN, INT64_MAX, 10, {0}};
    assert_int_equal(list(f.s, &none, &pg, &more), SF_ENOENT);
    finish(&f);
}

typedef struct listed {
    int n;
    uint32_t p;
    uint64_t offset;
    char reason[64], at[32];
    uint8_t data[16];
    size_t len;
} listed;

static int on_quarantined(void *ctx, uint32_t p, const sf_pos *pos, const char *reason,
                          const char *at, const uint8_t *data, size_t len)
{
    listed *l = ctx;
    l->n++;
    l->p = p, l->offset = ut_off(pos), l->len = len;
    snprintf(l->reason, sizeof l->reason, "%s", reason);
    snprintf(l->at, sizeof l->at, "%s", at);
    memcpy(l->data, data, len < sizeof l->data ? len : sizeof l->data);
    return 0;
}

static void test_quarantine(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    seen v;
    listed l = {0};
    sf_error err = {0};
    make(&bt, 0, first, 2);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    sf_stream_entry bad = {ut_pos(2), (const uint8_t *)"{not}", 5};
    const char *at = "2026-12-05T17:20:30.123Z";
    assert_int_equal(sf_store_set_aside(f.s, 0, &bad, "not a record", at, UT_AT(3), &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_true(position(f.s, 0) == 3);
    assert_int_equal(sf_store_quarantined(f.s, on_quarantined, &l, &err), 0);
    assert_true(l.n == 1 && l.p == 0 && l.offset == 2 && l.len == 5);
    assert_string_equal(l.reason, "not a record");
    assert_string_equal(l.at, at);
    assert_memory_equal(l.data, "{not}", 5);
    /* Fenced as apply is. */
    sf_stream_entry late = {ut_pos(1), (const uint8_t *)"x", 1};
    int rc = sf_store_set_aside(f.s, 0, &late, "x", at, UT_AT(2), &err);
    if (rc == 0)
        rc = sf_store_commit(f.s, &err);
    assert_int_equal(rc, SF_ESTALE);

    /* Retried as the fixed record: a line of its invoice, the entry gone. */
    make(&bt, 2, first + 2, 1);
    assert_int_equal(sf_store_retry(f.s, 0, &bt.e[0], &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_true(v.lines == 3 && v.h.lines == 3);
    assert_string_equal(v.stock[2], "71053");
    l.n = 0;
    assert_int_equal(sf_store_quarantined(f.s, on_quarantined, &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_true(position(f.s, 0) == 3); /* positions stay */
    assert_int_equal(sf_store_retry(f.s, 0, &bt.e[0], &err), SF_ENOENT);
    sf_store_rollback(f.s);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_int_equal(v.lines, 3);
    finish(&f);
}

typedef struct everything {
    int invoices, lines;
} everything;

static int count_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    (void)invoice_no, (void)len;
    everything *e = ctx;
    e->invoices++;
    e->lines -= (int)h->lines; /* each line delivered adds one back */
    return 0;
}

static int count_line(void *ctx, const sf_record *r)
{
    (void)r;
    ((everything *)ctx)->lines++;
    return 0;
}

static void test_each_invoice(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    sf_error err = {0};
    make(&bt, 0, first, 4);
    assert_int_equal(sf_store_apply(f.s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    everything e = {0};
    assert_int_equal(sf_store_each_invoice(f.s, count_header, count_line, &e, &err), 0);
    assert_int_equal(e.invoices, 2);
    assert_int_equal(e.lines, 0); /* every invoice gave the lines its header counts */
    finish(&f);
}

/* Positions past 64 bits (a Kinesis sequence number's 56 digits), sparse:
 * stored, fenced and read back as they are; lines in stream order. */
static void test_wide_positions(void **state)
{
    fixture f;
    start(state, &f);
    batch bt;
    seen v;
    sf_error err = {0};
    sf_pos at, next, stored[4];
    const char *seq = "49590338271490256608559692538361571095921575989136588898";
    assert_int_equal(sf_pos_parse(seq, strlen(seq), &at, &err), 0);
    make(&bt, 0, first, 3);
    for (size_t i = 0; i < 3; i++) { /* sparse: every other number */
        bt.e[i].pos = at;
        assert_int_equal(sf_pos_add_one(&at, &err), 0);
        assert_int_equal(sf_pos_add_one(&at, &err), 0);
    }
    bt.b.next = at;
    assert_int_equal(sf_store_apply(f.s, 1, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_int_equal(sf_store_positions(f.s, stored, 4, &err), 0);
    assert_int_equal(sf_pos_cmp(&stored[1], &at), 0);
    assert_int_equal(invoice(f.s, "536365", &v), 0);
    assert_true(v.lines == 3 && v.h.lines == 3);
    assert_string_equal(v.stock[2], "71053");
    /* The fence: a batch from the wrong wide position is refused. */
    next = at;
    assert_int_equal(sf_pos_add_one(&next, &err), 0);
    make(&bt, 0, first + 3, 1);
    bt.e[0].pos = next;
    int rc = sf_store_apply(f.s, 1, &bt.b, &err);
    if (rc == 0)
        rc = sf_store_commit(f.s, &err);
    assert_int_equal(rc, SF_ESTALE);
    bt.e[0].pos = at; /* from where it is: taken */
    assert_int_equal(sf_pos_add_one(&next, &err), 0);
    bt.b.next = next;
    assert_int_equal(sf_store_apply(f.s, 1, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(f.s, &err), 0);
    assert_int_equal(sf_store_positions(f.s, stored, 4, &err), 0);
    assert_int_equal(sf_pos_cmp(&stored[1], &next), 0);
    assert_int_equal(invoice(f.s, "536366", &v), 0);
    finish(&f);
}

static void test_settings(void **state)
{
    const adapter *a = *state;
    char dir[UT_PATH_MAX], at[UT_PATH_MAX + 32];
    ut_tmpdir(dir);
    a->location(dir, at, sizeof at);
    sf_store *s;
    sf_error err = {0};
    const char *kv[] = {"no.such=setting"};
    sf_store_opts o = {.extra = kv, .nextra = 1};
    int rc = sf_store_open(at, &o, &s, &err);
    if (rc == 0) /* an adapter that takes settings: not this one */
        sf_store_close(s);
    else
        assert_int_equal(rc, SF_EUSAGE);
    assert_int_equal(sf_store_open("nosuch:x", NULL, &s, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no adapter for 'nosuch:'"));
    assert_non_null(strstr(err.msg, a->name)); /* among the known ones */
    ut_tmpdir_remove(dir);
}

/* ---- the LMDB adapter's own ---- */

/* The store's folder is made when missing (one level); a folder that
 * cannot be made is said so, with the path, not left to LMDB; a setting
 * is refused naming it. */
static void test_lmdb_folder(void **state)
{
    (void)state;
    char dir[UT_PATH_MAX], path[UT_PATH_MAX + 32];
    ut_tmpdir(dir);
    sf_store *s;
    sf_error err = {0};
    snprintf(path, sizeof path, "%s/new", dir);
    assert_int_equal(sf_store_open(path, NULL, &s, &err), 0);
    sf_store_close(s);
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/file/below", dir);
    assert_int_equal(sf_store_open(path, NULL, &s, &err), SF_EIO);
    assert_non_null(strstr(err.msg, "/file/below: cannot make the folder: Not a directory"));
    const char *kv[] = {"mapsize=1G"};
    sf_store_opts o = {.extra = kv, .nextra = 1};
    snprintf(path, sizeof path, "%s/new", dir);
    assert_int_equal(sf_store_open(path, &o, &s, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "an LMDB store takes no store option ('mapsize=1G')"));
    ut_tmpdir_remove(dir);
}

/* ---- the DynamoDB adapter's own (against dynalite) ---- */

/* One request straight to the emulator, as another program would. */
static int dynamo_call(const char *op, const char *body)
{
    sf_aws_config c;
    sf_aws *a;
    sf_error err = {0};
    assert_int_equal(sf_aws_config_load(&c, SF_AWS_DYNAMODB, &err), 0);
    assert_int_equal(sf_aws_open(&c, NULL, &a, &err), 0);
    sf_aws_config_free(&c);
    sf_aws_request rq = {.op = op, .resource = "test", .body = body, .body_len = strlen(body)};
    int rc = sf_aws_call(a, &rq, &err);
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    return rc;
}

/* A table of another key schema is refused, saying why. */
static void test_dynamo_schema(void **state)
{
    (void)state;
    char loc[UT_PATH_MAX + 32], body[512];
    dynamodb_location(NULL, loc, sizeof loc);
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"KeySchema\":[{\"AttributeName\":\"id\",\"KeyType\":"
             "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"id\",\"AttributeType\":"
             "\"S\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}",
             loc + strlen("dynamodb://"));
    assert_int_equal(dynamo_call("CreateTable", body), 0);
    sf_store *s;
    sf_error err = {0};
    int rc = sf_store_open(loc, NULL, &s, &err);
    assert_int_equal(rc, SF_EUSAGE);
    assert_non_null(strstr(err.msg, "another key schema"));
}

/* A crash after the headers, before the checkpoint (the checkpoint taken
 * away): the batch applied again is counted once. */
static void test_dynamo_replay(void **state)
{
    (void)state;
    char loc[UT_PATH_MAX + 32], body[512];
    dynamodb_location(NULL, loc, sizeof loc);
    sf_store *s;
    sf_error err = {0};
    batch bt;
    seen v;
    assert_int_equal(sf_store_open(loc, NULL, &s, &err), 0);
    make(&bt, 0, first, 4);
    assert_int_equal(sf_store_apply(s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);
    sf_store_close(s);
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"POS#0\"},\"sk\":{\"S\":\"#\"}}}",
             loc + strlen("dynamodb://"));
    assert_int_equal(dynamo_call("DeleteItem", body), 0);
    assert_int_equal(sf_store_open(loc, NULL, &s, &err), 0);
    assert_true(position(s, 0) == 0);
    assert_int_equal(sf_store_apply(s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);
    assert_true(position(s, 0) == 4);
    assert_int_equal(invoice(s, "536365", &v), 0);
    assert_true(v.lines == 3 && v.h.lines == 3);
    assert_true(v.h.total == 2 * 6 * 2550 - 2 * 3390 && v.h.units == 10);
    everything e = {0};
    assert_int_equal(sf_store_each_invoice(s, count_header, count_line, &e, &err), 0);
    assert_true(e.invoices == 2 && e.lines == 0);
    sf_store_close(s);
}

/* The lineage's last unit applied again after a crash before its
 * checkpoints (taken away): counted once; and a line of a partition the
 * invoice's lines have left is refused. */
static void test_dynamo_lineage_replay(void **state)
{
    (void)state;
    char loc[UT_PATH_MAX + 32], body[512];
    dynamodb_location(NULL, loc, sizeof loc);
    sf_store *s;
    sf_error err = {0};
    batch bt;
    assert_int_equal(sf_store_open(loc, NULL, &s, &err), 0);
    make(&bt, 0, lineage_a, 2);
    assert_int_equal(sf_store_apply(s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);
    make(&bt, 0, lineage_b, 1);
    assert_int_equal(sf_store_apply(s, 2, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), 0);
    lineage_last_unit(s);
    sf_store_close(s);
    const char *table = loc + strlen("dynamodb://");
    snprintf(body, sizeof body, /* partition 2 back at 1, partition 3 at none */
             "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"POS#2\"},\"sk\":{\"S\":\"#\"},"
             "\"at\":{\"S\":\"0011\"}}}",
             table);
    assert_int_equal(dynamo_call("PutItem", body), 0);
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"POS#3\"},\"sk\":{\"S\":\"#\"}}}",
             table);
    assert_int_equal(dynamo_call("DeleteItem", body), 0);
    assert_int_equal(sf_store_open(loc, NULL, &s, &err), 0);
    lineage_last_unit(s);
    check_lineage(s);
    const line late[] = {{"536900", "A3", 1, T0, 1000, 12000}};
    make(&bt, 2, late, 1); /* partition 0 again, after its lines went on */
    assert_int_equal(sf_store_apply(s, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(s, &err), SF_ECORRUPT);
    assert_non_null(strstr(err.msg, "lines of partition 0 after lines of partition 3"));
    sf_store_close(s);
}

/* Two writers of one partition: the one that lost it (a zombie) is fenced
 * at its checkpoint, and its header of an invoice the other moved on is
 * refused before it overwrites the newer one. */
static void test_dynamo_zombie(void **state)
{
    (void)state;
    char loc[UT_PATH_MAX + 32];
    dynamodb_location(NULL, loc, sizeof loc);
    sf_store *zombie, *owner;
    sf_error err = {0};
    batch bt;
    seen v;
    assert_int_equal(sf_store_open(loc, NULL, &zombie, &err), 0);
    assert_int_equal(sf_store_open(loc, NULL, &owner, &err), 0);
    make(&bt, 0, first, 4);
    assert_int_equal(sf_store_apply(zombie, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(zombie, &err), 0);
    assert_true(position(owner, 0) == 4);
    const line more[] = {{"536366", "22632", 6, T0 + 120, 1850, 17850}};
    make(&bt, 4, more, 1);
    assert_int_equal(sf_store_apply(owner, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(owner, &err), 0);
    /* The zombie still believes the partition is at 4. */
    assert_int_equal(sf_store_apply(zombie, 0, &bt.b, &err), 0);
    assert_int_equal(sf_store_commit(zombie, &err), SF_ESTALE);
    assert_non_null(strstr(err.msg, "partition 0"));
    assert_true(position(owner, 0) == 5);
    assert_int_equal(invoice(owner, "536366", &v), 0);
    assert_true(v.lines == 2 && v.h.lines == 2);
    sf_store_close(zombie);
    sf_store_close(owner);
}

int main(void)
{
    const struct CMUnitTest contract[] = {
        cmocka_unit_test(test_read_only_absent),
        cmocka_unit_test(test_unit_of_work),
        cmocka_unit_test(test_lineage),
        cmocka_unit_test(test_fence),
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_quarantine),
        cmocka_unit_test(test_each_invoice),
        cmocka_unit_test(test_wide_positions),
        cmocka_unit_test(test_settings),
    };
    const struct CMUnitTest lmdb[] = {
        cmocka_unit_test(test_lmdb_folder),
    };
    const struct CMUnitTest dynamodb[] = {
        cmocka_unit_test(test_dynamo_schema),
        cmocka_unit_test(test_dynamo_replay),
        cmocka_unit_test(test_dynamo_lineage_replay),
        cmocka_unit_test(test_dynamo_zombie),
    };
    size_t nadapters = sizeof adapters / sizeof adapters[0];
    if (!have_dynamodb()) {
        fprintf(stderr, "store: the dynamodb adapter is skipped: no DynamoDB emulator (node is not "
                        "installed; tests/aws/with_emulators.sh starts dynalite when it is)\n");
        nadapters--;
    }
    int failed = ut_run_per_adapter("store contract", contract, sizeof contract / sizeof *contract,
                                    adapters, sizeof adapters[0], nadapters);
    failed += cmocka_run_group_tests_name("lmdb adapter", lmdb, NULL, NULL);
    if (have_dynamodb())
        failed += cmocka_run_group_tests_name("dynamodb adapter", dynamodb, NULL, NULL);
    return failed;
}
