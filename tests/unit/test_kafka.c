/*
 * test_kafka.c - the Kafka stream adapter (src/stream/kafka) against
 * librdkafka's mock cluster in this process: locations and settings refused
 * with a reason, append then read back by offset (same partitions as the
 * local partitioner, batches of any size, seeking back), watermarks, a
 * failed append with nothing stored, a fetch refused as out of range, a
 * retried produce with several requests in flight (the mock cluster's
 * flaw), and a consumer group's callbacks (assigned with the stored
 * positions, revoked on leave).
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/pack.h"
#include "stream/stream.h"
#include "support.h"

#define TOPIC "t"
#define PARTS 4

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char location[512];

static int setup(void **state)
{
    (void)state;
    char msg[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "0", msg, sizeof msg);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, msg, sizeof msg);
    if (!mock_rk || !(mock = rd_kafka_mock_cluster_new(mock_rk, 3)) ||
        rd_kafka_mock_topic_create(mock, TOPIC, PARTS, 3) != 0)
        return -1;
    snprintf(location, sizeof location, "kafka://%s/" TOPIC,
             rd_kafka_mock_cluster_bootstraps(mock));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    return 0;
}

static sf_stream *open_kafka(bool read_only, const char *const *extra, size_t nextra)
{
    sf_stream_opts o = {.read_only = read_only, .extra = extra, .nextra = nextra};
    sf_stream *s = NULL;
    sf_error err = {0};
    if (sf_stream_open(location, &o, &s, &err) != 0)
        fail_msg("open %s: %s", location, err.msg);
    return s;
}

static void refused(const char *loc, const char *const *extra, size_t nextra, const char *says)
{
    sf_stream_opts o = {.extra = extra, .nextra = nextra};
    sf_stream *s = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(loc, &o, &s, &err), SF_EUSAGE);
    assert_null(s);
    if (!strstr(err.msg, says))
        fail_msg("'%s' says '%s', not '%s'", loc, err.msg, says);
}

static void test_refuses(void **state)
{
    (void)state;
    refused("kafka://h:9092", NULL, 0, "say kafka://");
    refused("kafka:h:9092/t", NULL, 0, "say kafka://");
    refused("kafka://h:9092/", NULL, 0, "say kafka://");
    refused("kafka://h:9092/bad topic", NULL, 0, "letters, digits");
    const char *acks[] = {"acks=1"};
    refused(location, acks, 1, "acks: set by shopflow");
    const char *idem[] = {"linger.ms=1", "enable.idempotence=false"};
    refused(location, idem, 2, "enable.idempotence: set by shopflow");
    const char *own[] = {"shopflow.nonsense=1"};
    refused(location, own, 1, "unknown");
    const char *bad[] = {"no.such.property=1"};
    refused(location, bad, 1, "no.such.property");
    const char *noeq[] = {"linger.ms"};
    refused(location, noeq, 1, "say key=value");
    refused("local:/tmp/x", acks, 1, "a local log takes no stream option");
    sf_stream *s = NULL;
    sf_error err = {0};
    char missing[600];
    snprintf(missing, sizeof missing, "kafka://%s/nosuchtopic",
             rd_kafka_mock_cluster_bootstraps(mock));
    assert_int_equal(sf_stream_open(missing, NULL, &s, &err), SF_ENOENT);
    assert_non_null(strstr(err.msg, "create it first"));
}

/* Read partition p from `from` on in batches of `cap` entries; returns how
 * many, checking offsets follow on and every entry unpacks. */
static size_t read_all(sf_stream *s, uint32_t p, uint64_t from, size_t cap, uint64_t *end)
{
    sf_stream_batch b;
    sf_error err = {0};
    assert_int_equal(sf_stream_batch_init(&b, cap, 1 << 16, &err), 0);
    size_t n = 0;
    for (;;) {
        if (sf_stream_read(s, p, UT_AT(from), &b, &err) != 0)
            fail_msg("read %u@%llu: %s", p, (unsigned long long)from, err.msg);
        if (b.count == 0)
            break;
        for (size_t i = 0; i < b.count; i++) {
            sf_record r;
            assert_int_equal(ut_off(&b.entries[i].pos), from + i);
            assert_int_equal(sf_stream_entry_record(&b.entries[i], p, &r, &err), 0);
            const char *ev;
            size_t evn;
            const char *inv;
            size_t invn;
            assert_int_equal(
                sf_packed_keys(b.entries[i].data, b.entries[i].len, &ev, &evn, &inv, &invn), 0);
            assert_int_equal(sf_stream_partition_of(inv, invn, PARTS), p);
        }
        n += b.count;
        from = ut_off(&b.next);
    }
    *end = from;
    sf_stream_batch_free(&b);
    return n;
}

static void test_append_read(void **state)
{
    (void)state;
    enum { N = 3000 };
    sf_record *recs = calloc(N, sizeof *recs);
    uint32_t *parts = calloc(N, sizeof *parts);
    sf_pos *offs = calloc(N, sizeof *offs);
    assert_non_null(recs);
    for (int i = 0; i < N; i++)
        ut_make_numbered(&recs[i], i);
    sf_stream *w = open_kafka(false, NULL, 0);
    assert_int_equal(sf_stream_partitions(w), PARTS);
    sf_error err = {0};
    uint64_t before[PARTS];
    for (uint32_t p = 0; p < PARTS; p++) {
        sf_partition_info info;
        assert_int_equal(sf_stream_info(w, p, &info, &err), 0);
        before[p] = ut_off(&info.end);
    }
    assert_int_equal(sf_stream_append(w, recs, N, parts, offs, &err), 0);
    uint64_t count[PARTS] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal(parts[i],
                         sf_stream_partition_of(recs[i].invoice_no, recs[i].invoice_no_len, PARTS));
        assert_int_equal(ut_off(&offs[i]),
                         before[parts[i]] + count[parts[i]]++); /* in order, no gaps */
    }
    sf_stream_stats st;
    sf_stream_stats_get(w, &st);
    assert_int_equal(st.records, N);
    assert_int_equal(st.failures, 0);
    sf_stream_close(w);

    sf_stream *r = open_kafka(true, NULL, 0);
    for (uint32_t p = 0; p < PARTS; p++) {
        uint64_t end;
        sf_partition_info info;
        assert_int_equal(sf_stream_info(r, p, &info, &err), 0);
        assert_int_equal(ut_off(&info.end), before[p] + count[p]);
        /* Batches smaller than what librdkafka hands over at once (the rest
         * is carried over), then larger; then back from the middle (a seek). */
        assert_int_equal(read_all(r, p, before[p], 7, &end), count[p]);
        assert_int_equal(end, ut_off(&info.end));
        assert_int_equal(read_all(r, p, before[p], 4096, &end), count[p]);
        assert_int_equal(read_all(r, p, before[p] + count[p] / 2, 100, &end),
                         count[p] - count[p] / 2);
    }
    sf_stream_close(r);
    free(recs);
    free(parts);
    free(offs);
}

/* A broker that refuses a fetch as "offset out of range" although the
 * partition holds the offset (the mock, told to; a real new leader whose
 * high watermark lags): the read goes on from there, it does not pass for
 * the end of the partition (which would cut `log dump` or a sink's --once
 * short, silently). */
static void test_fetch_refused(void **state)
{
    (void)state;
    enum { N = 200 };
    sf_record recs[N];
    for (int i = 0; i < N; i++)
        ut_make_numbered(&recs[i], 10000 + i);
    sf_stream *w = open_kafka(false, NULL, 0);
    sf_error err = {0};
    assert_int_equal(sf_stream_append(w, recs, N, NULL, NULL, &err), 0);
    sf_stream_close(w);
    sf_stream *r = open_kafka(true, NULL, 0);
    for (uint32_t p = 0; p < PARTS; p++) {
        sf_partition_info info;
        uint64_t end;
        assert_int_equal(sf_stream_info(r, p, &info, &err), 0);
        rd_kafka_mock_push_request_errors(mock, 1 /* Fetch */, 2,
                                          RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
                                          RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE);
        assert_int_equal(read_all(r, p, 0, 50, &end), ut_off(&info.end));
        assert_int_equal(end, ut_off(&info.end));
    }
    sf_stream_close(r);
}

/* Append 20 records in one-record batches to a 1-partition topic while
 * the brokers answer 200 ms late (so several requests are in flight at
 * once) and the first produce request fails with a retriable error; the
 * records stored, or -1 when the append failed. */
static long pipelined_retry(const char *topic, const char *inflight)
{
    char loc[600];
    assert_int_equal(rd_kafka_mock_topic_create(mock, topic, 1, 3), 0);
    snprintf(loc, sizeof loc, "kafka://%s/%s", rd_kafka_mock_cluster_bootstraps(mock), topic);
    const char *extra[] = {"batch.num.messages=1", "linger.ms=0", inflight};
    sf_stream_opts o = {.extra = extra, .nextra = 3};
    sf_stream *s = NULL;
    sf_error err = {0};
    if (sf_stream_open(loc, &o, &s, &err) != 0)
        fail_msg("open %s: %s", loc, err.msg);
    enum { N = 20 };
    sf_record recs[N];
    for (int i = 0; i < N; i++)
        ut_make_numbered(&recs[i], 20000 + i * 5);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(mock, b, 200);
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    int rc = sf_stream_append(s, recs, N, NULL, NULL, &err);
    for (int b = 1; b <= 3; b++)
        rd_kafka_mock_broker_set_rtt(mock, b, 0);
    sf_partition_info info;
    assert_int_equal(sf_stream_info(s, 0, &info, &err), 0);
    sf_stream_close(s);
    return rc == 0 ? (long)ut_off(&info.end) : -1;
}

/* Why the integration tests run the producer with one request in flight
 * (tests/integration/kafka_lib.sh): the mock cluster does not check an
 * idempotent producer's sequence numbers, so with several requests in
 * flight it stores a later batch over a failed earlier one, which
 * librdkafka then counts as delivered (an implicit ack that a real broker
 * makes safe): 19 of 20 stored, all acknowledged. With one in flight the
 * retry goes first, and every acknowledged record is stored. */
static void test_pipelined_retry(void **state)
{
    (void)state;
    assert_int_equal(pipelined_retry("pipe1", "max.in.flight.requests.per.connection=1"), 20);
    long stored = pipelined_retry("pipe5", "max.in.flight.requests.per.connection=5");
    if (stored != 20)
        print_message("with 5 requests in flight the mock stored %ld of 20 acknowledged "
                      "records (its flaw, not shopflow's)\n",
                      stored);
}

static void test_failed_append(void **state)
{
    (void)state;
    sf_stream *w = open_kafka(false, NULL, 0);
    sf_record rec;
    ut_make_numbered(&rec, 1); /* one record: one partition, one produce request */
    uint32_t p = sf_stream_partition_of(rec.invoice_no, rec.invoice_no_len, PARTS);
    sf_error err = {0};
    sf_partition_info before, after;
    assert_int_equal(sf_stream_info(w, p, &before, &err), 0);
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    int rc = sf_stream_append(w, &rec, 1, NULL, NULL, &err);
    assert_int_equal(rc, SF_EIO); /* none stored: an ordinary failure, a retry is safe */
    assert_non_null(strstr(err.msg, "none of them is stored"));
    assert_int_equal(sf_stream_info(w, p, &after, &err), 0);
    assert_int_equal(ut_off(&after.end), ut_off(&before.end));
    sf_stream_stats st;
    sf_stream_stats_get(w, &st);
    assert_int_equal(st.failures, 1);
    assert_false(st.failed);
    assert_int_equal(sf_stream_append(w, &rec, 1, NULL, NULL, &err), 0); /* and the retry goes in */
    sf_stream_close(w);
}

typedef struct calls {
    int assigned, revoked;
    size_t nassigned;
    uint64_t stored[PARTS];
} calls;

static int on_assigned(void *ctx, const uint32_t *parts, size_t n, sf_pos *from, sf_error *err)
{
    (void)err;
    calls *c = ctx;
    c->assigned++;
    c->nassigned = n;
    for (size_t i = 0; i < n; i++)
        from[i] = ut_pos(c->stored[parts[i]]);
    return 0;
}

static int on_revoked(void *ctx, const uint32_t *parts, size_t n, bool lost, sf_error *err)
{
    (void)parts, (void)err;
    calls *c = ctx;
    assert_false(lost);
    assert_int_equal(n, c->nassigned);
    c->revoked++;
    return 0;
}

static void test_group(void **state)
{
    (void)state;
    sf_stream *r = open_kafka(true, NULL, 0);
    calls c = {.stored = {1, 2, 3, 4}};
    sf_stream_group g = {"unit", &c, on_assigned, on_revoked};
    sf_error err = {0};
    sf_stream_membership joined;
    assert_int_equal(sf_stream_join(r, &g, &joined, &err), 0);
    assert_int_equal(joined, SF_STREAM_GROUPED);
    uint8_t owned[PARTS];
    uint64_t got = 0;
    for (int i = 0; i < 300 && got == 0; i++) { /* the group forms in a few seconds */
        assert_int_equal(sf_stream_owned(r, owned, &got, &err), 0);
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (got == 0)
            nanosleep(&ts, NULL);
    }
    assert_int_equal(got, 1);
    assert_int_equal(c.assigned, 1);
    assert_int_equal(c.nassigned, PARTS);
    for (uint32_t p = 0; p < PARTS; p++)
        assert_int_equal(owned[p], 1);
    /* Reads start where the sink said: the stored position, not offset 0. */
    sf_stream_batch b;
    assert_int_equal(sf_stream_batch_init(&b, 10, 1 << 16, &err), 0);
    for (uint32_t p = 0; p < PARTS; p++) {
        if (sf_stream_read(r, p, UT_AT(c.stored[p]), &b, &err) != 0)
            fail_msg("read: %s", err.msg);
        assert_true(b.count > 0);
        assert_int_equal(ut_off(&b.entries[0].pos), c.stored[p]);
    }
    sf_stream_batch_free(&b);
    sf_stream_leave(r);
    assert_int_equal(c.revoked, 1);
    /* Without groups, join says so and every partition is the caller's. */
    const char *off[] = {"shopflow.groups=false"};
    sf_stream *plain = open_kafka(true, off, 1);
    assert_int_equal(sf_stream_join(plain, &g, &joined, &err), 0);
    assert_int_equal(joined, SF_STREAM_UNGROUPED);
    memset(owned, 0, sizeof owned);
    assert_int_equal(sf_stream_owned(plain, owned, &got, &err), 0);
    assert_int_equal(got, 1);
    for (uint32_t p = 0; p < PARTS; p++)
        assert_int_equal(owned[p], 1);
    sf_stream_close(plain);
    sf_stream_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses),       cmocka_unit_test(test_append_read),
        cmocka_unit_test(test_fetch_refused), cmocka_unit_test(test_failed_append),
        cmocka_unit_test(test_group),         cmocka_unit_test(test_pipelined_retry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
