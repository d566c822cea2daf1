/*
 * test_kinesis.c - what the Kinesis adapter adds to the stream contract
 * (test_stream.c), against kinesalite (tests/aws/with_emulators.sh starts
 * it and dynalite; without node the tests say they skipped):
 *  - reshards (stream/kinesis/shards.c, sinks/runner.c): a stream split and
 *    merged while a writer appends: the writer, whose table is stale, still
 *    reports each record in the partition it landed in, and sends new
 *    records only to open shards; partitions are shards by number, with
 *    their lineage; a runner opened before the reshard follows it in its
 *    own process and hands a sink no record of a child before it has
 *    finished (read to its end) every parent, every record once, each
 *    invoice's lines in append order;
 *  - leases (stream/kinesis/lease.c): a second member of a sink's group is
 *    refused naming the holder; a lease released is taken at once, an
 *    expired one is taken over; a holder whose lease was taken from it
 *    fails its reads, saying who took it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/aws.h"
#include "core/pack.h"
#include "sinks/sink.h"
#include "stream/stream.h"
#include "support.h"

#define PHASE    200 /* records appended before the split, between, after the merge */
#define INVOICES 40  /* each with lines in every phase */
#define HALF_0   "85070591730234615865843651857942052864" /* 2^126: in shard 0 of two */

/* ---- the emulators' APIs, from the test ---- */

/* One call of service's op with body; the answer's text (freed by the
 * caller) or NULL with *rc set. */
static char *api(sf_aws_service service, const char *op, const char *body, int *rc)
{
    sf_aws_config cfg;
    sf_aws *a = NULL;
    sf_error err = {0};
    if (sf_aws_config_load(&cfg, service, &err) < 0 || sf_aws_open(&cfg, NULL, &a, &err) < 0)
        fail_msg("aws: %s", err.msg);
    sf_aws_request rq = {.op = op, .resource = "test", .body = body, .body_len = strlen(body)};
    *rc = sf_aws_call(a, &rq, &err);
    char *out = NULL;
    if (*rc == 0) {
        out = calloc(1, rq.resp.len + 1);
        assert_non_null(out);
        if (rq.resp.len)
            memcpy(out, rq.resp.data, rq.resp.len);
    }
    sf_buf_free(&rq.resp);
    sf_aws_close(a);
    sf_aws_config_free(&cfg);
    return out;
}

static void kinesis_api(const char *op, const char *body)
{
    int rc;
    free(api(SF_AWS_KINESIS, op, body, &rc));
    assert_int_equal(rc, 0);
}

/* Wait until the stream is ACTIVE with `shards` shards listed. */
static void wait_shards(const char *name, int shards)
{
    char body[256];
    snprintf(body, sizeof body, "{\"StreamName\":\"%s\"}", name);
    for (int i = 0; i < 200; i++) {
        int rc, n = 0;
        char *d = api(SF_AWS_KINESIS, "DescribeStream", body, &rc);
        assert_int_equal(rc, 0);
        for (const char *at = d; (at = strstr(at, "\"ShardId\"")); at++)
            n++;
        bool active = strstr(d, "\"ACTIVE\"") != NULL;
        free(d);
        if (active && n == shards)
            return;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    fail_msg("stream %s: not ACTIVE with %d shards", name, shards);
}

static sf_stream *open_at(const char *name, bool read_only, const char *opt)
{
    char at[256];
    snprintf(at, sizeof at, "kinesis://%s", name);
    const char *extra[] = {opt};
    sf_stream_opts o = {.partitions = 2, .read_only = read_only, .extra = extra, .nextra = !!opt};
    sf_stream *s = NULL;
    sf_error err = {0};
    if (sf_stream_open(at, &o, &s, &err) != 0)
        fail_msg("open %s: %s", at, err.msg);
    return s;
}

/* ---- a sink that records what it is handed ---- */

typedef struct applied {
    uint32_t p;
    int record; /* its number (event id ev-N), -1 for an empty batch */
    int invoice;
} applied;

typedef struct rec_sink {
    sf_sink base;
    sf_pos next[SF_STREAM_PARTITIONS_MAX]; /* "stored" positions */
    applied *a;
    size_t n, cap;
    int records;                 /* handed */
    volatile sig_atomic_t *stop; /* set when every record was handed */
} rec_sink;

static void note(rec_sink *r, uint32_t p, int record, int invoice)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->a = realloc(r->a, r->cap * sizeof *r->a);
        assert_non_null(r->a);
    }
    r->a[r->n++] = (applied){p, record, invoice};
}

static int rec_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    (void)err;
    memcpy(next, ((rec_sink *)s)->next, nparts * sizeof *next);
    return 0;
}

static int rec_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    rec_sink *r = (rec_sink *)s;
    if (b->count == 0)
        note(r, p, -1, -1);
    for (size_t i = 0; i < b->count; i++) {
        sf_record rec;
        assert_int_equal(sf_stream_entry_record(&b->entries[i], p, &rec, err), 0);
        note(r, p, atoi(rec.event_id + 3), atoi(rec.invoice_no));
        if (++r->records == 3 * PHASE && r->stop)
            *r->stop = 1;
    }
    r->next[p] = b->next;
    atomic_fetch_add(&r->base.committed, b->count);
    return 0;
}

static int rec_flush(sf_sink *s, bool all, sf_error *err)
{
    (void)s, (void)all, (void)err;
    return 0;
}

static void rec_close(sf_sink *s)
{
    (void)s;
}

static const sf_sink_ops rec_ops = {.name = "recorder",
                                    .resume = rec_resume,
                                    .apply = rec_apply,
                                    .flush = rec_flush,
                                    .close = rec_close};

/* ---- reshards ---- */

/* Append records [from, to): invoice 536000 + i % INVOICES, event id ev-i;
 * their partitions into parts[from..to). */
static void append(sf_stream *w, int from, int to, uint32_t *parts)
{
    sf_record recs[PHASE];
    for (int i = from; i < to; i++) {
        char inv[16], ev[16];
        snprintf(inv, sizeof inv, "%d", 536000 + i % INVOICES);
        ut_make(&recs[i - from], inv, "S1", "A THING", 1, UT_T0 + i, 1000, 12000, "United Kingdom");
        snprintf(ev, sizeof ev, "ev-%d", i);
        memcpy(recs[i - from].event_id, ev, strlen(ev));
        recs[i - from].event_id_len = (uint8_t)strlen(ev);
    }
    sf_error err = {0};
    if (sf_stream_append(w, recs, (size_t)(to - from), parts + from, NULL, &err) != 0)
        fail_msg("append: %s", err.msg);
}

/* Where in r's list partition p was first / last handed anything. */
static long first_of(const rec_sink *r, uint32_t p)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->a[i].p == p)
            return (long)i;
    return -1;
}

static long last_of(const rec_sink *r, uint32_t p)
{
    for (size_t i = r->n; i-- > 0;)
        if (r->a[i].p == p)
            return (long)i;
    return -1;
}

static void check_lineage(sf_stream *s)
{
    /* 0 and 1 made; 0 split into 2 and 3; 3 merged with 1 into 4 */
    static const struct {
        bool closed;
        uint32_t nparents, parents[2];
    } want[5] = {
        {true, 0, {0}}, {true, 0, {0}}, {false, 1, {0}}, {true, 1, {0}}, {false, 2, {3, 1}}};
    assert_int_equal(sf_stream_partitions(s), 5);
    for (uint32_t p = 0; p < 5; p++) {
        sf_partition_lineage l;
        sf_stream_lineage(s, p, &l);
        assert_int_equal(l.closed, want[p].closed);
        assert_false(l.gone);
        assert_int_equal(l.nparents, want[p].nparents);
        for (uint32_t i = 0; i < l.nparents; i++)
            assert_int_equal(l.parents[i], want[p].parents[i]);
        sf_partition_info info;
        sf_error err = {0};
        assert_int_equal(sf_stream_info(s, p, &info, &err), 0);
        assert_int_equal(info.closed, want[p].closed);
    }
}

static void check_order(const rec_sink *r, sf_stream *s)
{
    int seen[3 * PHASE] = {0}, last_of_invoice[INVOICES];
    memset(last_of_invoice, -1, sizeof last_of_invoice);
    for (size_t i = 0; i < r->n; i++) {
        if (r->a[i].record < 0)
            continue;
        seen[r->a[i].record]++;
        int *last = &last_of_invoice[r->a[i].invoice - 536000];
        assert_true(r->a[i].record > *last); /* an invoice's lines in append order */
        *last = r->a[i].record;
    }
    for (int i = 0; i < 3 * PHASE; i++)
        assert_int_equal(seen[i], 1);  /* every record once */
    for (uint32_t c = 0; c < 5; c++) { /* children after all of their parents */
        sf_partition_lineage l, up;
        sf_stream_lineage(s, c, &l);
        for (uint32_t k = 0; k < l.nparents; k++) {
            uint32_t q = l.parents[k];
            sf_stream_lineage(s, q, &up);
            assert_true(last_of(r, q) >= 0 && first_of(r, c) > last_of(r, q));
            assert_int_equal(r->a[last_of(r, q)].record, -1);      /* ended by its end... */
            assert_int_equal(sf_pos_cmp(&r->next[q], &up.end), 0); /* ...which is stored */
        }
    }
}

static void test_reshard(void **state)
{
    (void)state;
    char name[160], body[512];
    snprintf(name, sizeof name, "%s-reshard", getenv("SF_TEST_NAME"));
    uint32_t parts[3 * PHASE];
    sf_stream *w = open_at(name, false, NULL);
    assert_int_equal(sf_stream_partitions(w), 2);
    append(w, 0, PHASE, parts);
    sf_stream *r = open_at(name, true, NULL); /* a reader that knows only shards 0 and 1 */

    snprintf(body, sizeof body,
             "{\"StreamName\":\"%s\",\"ShardToSplit\":\"shardId-000000000000\","
             "\"NewStartingHashKey\":\"" HALF_0 "\"}",
             name);
    kinesis_api("SplitShard", body);
    wait_shards(name, 4);
    append(w, PHASE, 2 * PHASE, parts); /* the writer learns of the split from the answers */
    assert_int_equal(sf_stream_partitions(w), 4);
    for (int i = PHASE; i < 2 * PHASE; i++)
        assert_true(parts[i] >= 1 && parts[i] <= 3); /* never the closed shard 0 */

    snprintf(body, sizeof body,
             "{\"StreamName\":\"%s\",\"ShardToMerge\":\"shardId-000000000003\","
             "\"AdjacentShardToMerge\":\"shardId-000000000001\"}",
             name);
    kinesis_api("MergeShards", body);
    wait_shards(name, 5);
    append(w, 2 * PHASE, 3 * PHASE, parts);
    for (int i = 2 * PHASE; i < 3 * PHASE; i++)
        assert_true(parts[i] == 2 || parts[i] == 4); /* the open shards */
    check_lineage(w);

    /* A runner on the reader opened before the reshard, until every record
     * came: it learns of the new shards at the end of the closed ones. */
    volatile sig_atomic_t stop = 0;
    rec_sink *sink = calloc(1, sizeof *sink);
    assert_non_null(sink);
    sink->base.ops = &rec_ops;
    sink->stop = &stop;
    sf_error err = {0};
    assert_int_equal(sf_runner_run(r, &sink->base, false, &stop, NULL, NULL, &err), 0);
    assert_int_equal(sf_stream_partitions(r), 5); /* followed in this process */
    check_order(sink, r);
    check_lineage(r);
    sf_stream_close(r);

    /* --once on a reader that knows the closed shards: to their ends, then
     * the children, then it stops. */
    free(sink->a);
    memset(sink, 0, sizeof *sink);
    sink->base.ops = &rec_ops;
    r = open_at(name, true, NULL);
    assert_int_equal(sf_runner_run(r, &sink->base, true, NULL, NULL, NULL, &err), 0);
    check_order(sink, r);
    free(sink->a);
    free(sink);
    sf_stream_close(r);
    sf_stream_close(w);
}

/* ---- leases ---- */

static void put_lease(const char *key, const char *host, long long pid, long long exp_ms)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"TableName\":\"shopflow-leases\",\"Item\":{\"pk\":{\"S\":\"%s\"},"
             "\"h\":{\"S\":\"someone-else\"},\"host\":{\"S\":\"%s\"},\"pid\":{\"N\":\"%lld\"},"
             "\"since\":{\"N\":\"1700000000\"},\"exp\":{\"N\":\"%lld\"},\"v\":{\"N\":\"7\"}}}",
             key, host, pid, exp_ms);
    int rc;
    free(api(SF_AWS_DYNAMODB, "PutItem", body, &rc));
    assert_int_equal(rc, 0);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int join(sf_stream *s, sf_error *err)
{
    sf_stream_group g = {.name = "history"};
    sf_stream_membership how = SF_STREAM_GROUPED;
    int rc = sf_stream_join(s, &g, &how, err);
    assert_int_equal(how, SF_STREAM_UNGROUPED);
    return rc;
}

static void test_lease(void **state)
{
    (void)state;
    char name[160], key[300], host[256], me[320];
    snprintf(name, sizeof name, "%s-lease", getenv("SF_TEST_NAME"));
    snprintf(key, sizeof key, "shopflow.%s.history", name);
    gethostname(host, sizeof host);
    snprintf(me, sizeof me, "pid %ld on %s", (long)getpid(), host);
    sf_stream_close(open_at(name, false, NULL)); /* made */
    sf_stream *a = open_at(name, true, "lease-seconds=3"), *b = open_at(name, true, NULL);
    sf_error err = {0};
    assert_int_equal(join(a, &err), 0);
    assert_int_equal(join(b, &err), SF_EBUSY); /* held, by a live process */
    assert_non_null(strstr(err.msg, me));
    assert_non_null(strstr(err.msg, "lease-wait"));
    sf_stream_leave(a); /* released: taken at once */
    assert_int_equal(join(b, &err), 0);
    sf_stream_leave(b);

    /* Held elsewhere until 2 s from now: refused, then taken once expired. */
    put_lease(key, "elsewhere", 1, now_ms() + 2000);
    assert_int_equal(join(a, &err), SF_EBUSY);
    assert_non_null(strstr(err.msg, "pid 1 on elsewhere"));
    sleep(3);
    assert_int_equal(join(a, &err), 0);

    /* Taken from a: its reads fail within a renewal (1 s), naming the taker. */
    put_lease(key, "elsewhere", 2, now_ms() + 60000);
    sf_stream_batch batch;
    assert_int_equal(sf_stream_batch_init(&batch, 16, 1 << 16, &err), 0);
    int rc = 0;
    for (int i = 0; i < 50 && rc == 0; i++) {
        rc = sf_stream_read(a, 0, UT_AT(0), &batch, &err);
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    assert_int_equal(rc, SF_EFAILED);
    assert_non_null(strstr(err.msg, "taken over by pid 2 on elsewhere"));
    sf_stream_leave(a);
    sf_stream_batch_free(&batch);
    sf_stream_close(a);
    sf_stream_close(b);
}

int main(void)
{
    if (!getenv("AWS_ENDPOINT_URL_KINESIS") || !getenv("SF_TEST_NAME")) {
        fprintf(stderr, "kinesis: skipped: no Kinesis emulator (node is not installed; "
                        "tests/aws/with_emulators.sh starts kinesalite when it is)\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshard),
        cmocka_unit_test(test_lease),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
