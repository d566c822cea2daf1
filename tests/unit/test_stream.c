/*
 * test_stream.c - the stream port's contract (stream.h), run against every
 * adapter in the table below (a new adapter adds its row): the local log
 * in a fresh folder, Kafka on librdkafka's mock cluster in this process,
 * Kinesis on kinesalite (tests/aws/with_emulators.sh starts it; a fresh
 * stream per test; the row is left out when no emulator runs).
 *  - records appended come back from their partition in append order, each
 *    at the position its append reported; every record of an invoice is in
 *    one partition (on the local log and Kafka, sf_stream_partition_of's;
 *    Kinesis picks the shard by hash key range, see stream.h), and a read from a batch's next
 * position goes on where it stopped; a read at the end is empty and stays there;
 *  - positions strictly increase within a partition, and a batch's next
 *    position is past its last entry's (the reader never adds one);
 *  - tail start: reading from sf_stream_tail_start(k) gives a suffix of
 *    the partition of at most k records (all of them when k is at least
 *    the count, none when k is 0);
 *  - lag: from the start, the records of the partition (exactly, or at
 *    least, as the adapter says), from the middle what is left, from the
 *    end nothing;
 *  - a read-only open reads what a writer appended;
 *  - a setting the adapter does not take, and an unknown scheme, are
 *    usage errors.
 * It asks nothing of positions but their order: the port does not promise
 * them dense (issue 16, item 3). What is an adapter's own is in test_log
 * and test_kafka.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/stream.h"
#include "support.h"

#define PARTS 4

/* ---- the adapters ---- */

typedef struct adapter {
    const char *name;
    /* A new, empty stream of PARTS partitions: its location into out; and
     * what is to be undone after the test (cleanup). */
    void (*make)(char *out, size_t cap, void **undo);
    void (*cleanup)(void *undo);
    bool partition_of; /* records go to sf_stream_partition_of's partition */
} adapter;

static void local_make(char *out, size_t cap, void **undo)
{
    char *dir = malloc(UT_PATH_MAX);
    assert_non_null(dir);
    ut_tmpdir(dir);
    snprintf(out, cap, "local:%s/log", dir);
    *undo = dir;
}

static void local_cleanup(void *undo)
{
    ut_tmpdir_remove(undo);
    free(undo);
}

typedef struct mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *cluster;
} mock;

static void kafka_make(char *out, size_t cap, void **undo)
{
    char msg[256];
    mock *m = calloc(1, sizeof *m);
    assert_non_null(m);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "0", msg, sizeof msg);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, msg, sizeof msg);
    assert_non_null(m->rk);
    assert_non_null(m->cluster = rd_kafka_mock_cluster_new(m->rk, 3));
    assert_int_equal(rd_kafka_mock_topic_create(m->cluster, "t", PARTS, 3), 0);
    snprintf(out, cap, "kafka://%s/t", rd_kafka_mock_cluster_bootstraps(m->cluster));
    *undo = m;
}

static void kafka_cleanup(void *undo)
{
    mock *m = undo;
    rd_kafka_mock_cluster_destroy(m->cluster);
    rd_kafka_destroy(m->rk);
    free(m);
}

/* A stream name not used yet: the writer's open creates it (PARTS shards). */
static void kinesis_make(char *out, size_t cap, void **undo)
{
    static int n;
    snprintf(out, cap, "kinesis://%s-%d", getenv("SF_TEST_NAME"), ++n);
    *undo = NULL;
}

static void kinesis_cleanup(void *undo)
{
    (void)undo; /* the emulator and its data go when the test ends */
}

/* The kinesis row is the last: left out when no emulator runs (no node). */
static const adapter adapters[] = {
    {"local", local_make, local_cleanup, true},
    {"kafka-mock", kafka_make, kafka_cleanup, true},
    {"kinesis", kinesis_make, kinesis_cleanup, false},
};

/* ---- helpers ---- */

static sf_stream *open_stream(const char *at, bool read_only)
{
    sf_stream_opts o = {.partitions = PARTS, .read_only = read_only};
    sf_stream *s = NULL;
    sf_error err = {0};
    if (sf_stream_open(at, &o, &s, &err) != 0)
        fail_msg("open %s: %s", at, err.msg);
    return s;
}

/* Read partition p from `from` to its end in batches of up to cap entries:
 * the records, in order, into got (their positions into at); how many. */
static size_t read_all(sf_stream *s, uint32_t p, sf_pos from, size_t cap, sf_record *got,
                       sf_pos *at, size_t max, sf_pos *end)
{
    sf_stream_batch b;
    sf_error err = {0};
    assert_int_equal(sf_stream_batch_init(&b, cap, cap * SF_STREAM_ENTRY_MAX, &err), 0);
    size_t n = 0;
    for (;;) {
        assert_int_equal(sf_stream_read(s, p, &from, &b, &err), 0);
        for (size_t i = 0; i < b.count; i++, n++) {
            assert_true(n < max);
            assert_int_equal(sf_stream_entry_record(&b.entries[i], p, &got[n], &err), 0);
            at[n] = b.entries[i].pos;
            assert_true(sf_pos_cmp(&at[n], &from) >= 0);
            assert_true(n == 0 || sf_pos_cmp(&at[n], &at[n - 1]) > 0); /* strictly increasing */
        }
        if (b.count) /* next is past the last entry */
            assert_true(sf_pos_cmp(&b.next, &b.entries[b.count - 1].pos) > 0);
        if (b.count == 0 && sf_pos_cmp(&b.next, &from) == 0)
            break;
        assert_true(sf_pos_cmp(&b.next, &from) > 0);
        from = b.next;
    }
    *end = from;
    sf_stream_batch_free(&b);
    return n;
}

/* The lag from the start (n records), from mid (left of them) and from the
 * end (none), as the adapter counts: records, exact or at least; or a
 * time behind. */
static void check_lag(sf_stream *s, uint32_t p, size_t n, const sf_pos *mid, size_t left,
                      const sf_pos *end)
{
    const sf_pos zero = {0};
    const sf_pos *from[] = {&zero, mid, end};
    const size_t want[] = {n, left, 0};
    for (int i = 0; i < 3; i++) {
        sf_lag lag;
        sf_error err = {0};
        assert_int_equal(sf_stream_lag(s, p, from[i], &lag, &err), 0);
        assert_true(lag.has_records || lag.has_ms);
        if (lag.has_records && lag.records_exact)
            assert_int_equal(lag.records, want[i]);
        else if (lag.has_records)
            assert_true(lag.records >= want[i]); /* an upper bound */
        if (i == 2)
            assert_true(!lag.has_records || lag.records == 0);
    }
    sf_lag lag;
    sf_error err = {0};
    assert_int_equal(sf_stream_lag(s, PARTS, end, &lag, &err), SF_EINVAL);
}

/* Reading from the tail start of k gives the partition's last records, at
 * most k of them: all for k >= n, none for 0. */
static void check_tail(sf_stream *s, uint32_t p, size_t n, sf_record *got, sf_pos *pos, size_t max)
{
    sf_pos *all = calloc(max, sizeof *all);
    assert_non_null(all);
    sf_pos end;
    const sf_pos zero = {0};
    assert_int_equal(read_all(s, p, zero, 64, got, all, max, &end), n);
    const uint64_t ks[] = {0, 1, 5, n, n + 10};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        sf_pos from, again;
        sf_error err = {0};
        assert_int_equal(sf_stream_tail_start(s, p, ks[i], &from, &err), 0);
        size_t m = read_all(s, p, from, 64, got, pos, max, &again);
        assert_true(m <= ks[i] && m <= n);
        if (ks[i] >= n)
            assert_int_equal(m, n);
        for (size_t j = 0; j < m; j++) /* a suffix */
            assert_true(sf_pos_cmp(&pos[j], &all[n - m + j]) == 0);
        assert_true(sf_pos_cmp(&again, &end) == 0);
    }
    free(all);
}

/* ---- the contract ---- */

static void test_append_read(void **state)
{
    const adapter *a = *state;
    enum { N = 600 };
    char at[512];
    void *undo;
    a->make(at, sizeof at, &undo);
    sf_record *recs = calloc(N, sizeof *recs), *got = calloc(N, sizeof *got);
    uint32_t *parts = calloc(N, sizeof *parts);
    sf_pos *offs = calloc(N, sizeof *offs), *pos = calloc(N, sizeof *pos);
    assert_true(recs && got && parts && offs && pos);
    for (int i = 0; i < N; i++)
        ut_make_numbered(&recs[i], i);
    sf_stream *w = open_stream(at, false);
    assert_int_equal(sf_stream_partitions(w), PARTS);
    sf_error err = {0};
    assert_int_equal(sf_stream_append(w, recs, N, parts, offs, &err), 0);
    sf_stream_close(w);

    sf_stream *r = open_stream(at, true); /* a reader beside no writer */
    size_t total = 0;
    const sf_pos zero = {0};
    for (uint32_t p = 0; p < PARTS; p++) {
        sf_pos end, again;
        size_t n = read_all(r, p, zero, 7, got, pos, N, &end);
        total += n;
        size_t k = 0; /* the records of p, in append order, where the append said */
        for (int i = 0; i < N; i++) {
            if (parts[i] != p)
                continue;
            if (a->partition_of)
                assert_int_equal(parts[i], sf_stream_partition_of(recs[i].invoice_no,
                                                                  recs[i].invoice_no_len, PARTS));
            for (int j = 0; j < N; j++) /* the invoice's other lines are here too */
                if (strcmp(recs[j].invoice_no, recs[i].invoice_no) == 0)
                    assert_int_equal(parts[j], p);
            assert_true(k < n);
            assert_true(sf_pos_cmp(&pos[k], &offs[i]) == 0);
            assert_string_equal(got[k].event_id, recs[i].event_id);
            assert_string_equal(got[k].invoice_no, recs[i].invoice_no);
            k++;
        }
        assert_int_equal(k, n);
        sf_pos mid = n ? pos[n / 2] : end;
        /* At the end: empty, and still the end. */
        assert_int_equal(read_all(r, p, end, 64, got, pos, N, &again), 0);
        assert_true(sf_pos_cmp(&again, &end) == 0);
        /* From the middle, in bigger batches: the rest. */
        assert_int_equal(read_all(r, p, mid, 4096, got, pos, N, &again), n - n / 2);
        assert_true(sf_pos_cmp(&again, &end) == 0);
        check_lag(r, p, n, &mid, n - n / 2, &end);
        check_tail(r, p, n, got, pos, N);
    }
    assert_int_equal(total, N);
    sf_stream_close(r);
    free(recs), free(got), free(parts), free(offs), free(pos);
    a->cleanup(undo);
}

static void test_settings(void **state)
{
    const adapter *a = *state;
    char at[512];
    void *undo;
    a->make(at, sizeof at, &undo);
    const char *kv[] = {"no.such.setting=1"};
    sf_stream_opts o = {.partitions = PARTS, .extra = kv, .nextra = 1};
    sf_stream *s = NULL;
    sf_error err = {0};
    assert_int_equal(sf_stream_open(at, &o, &s, &err), SF_EUSAGE);
    assert_null(s);
    assert_non_null(strstr(err.msg, "no.such.setting"));
    assert_int_equal(sf_stream_open("nosuch://x/y", NULL, &s, &err), SF_EUSAGE);
    assert_non_null(strstr(err.msg, "no adapter for 'nosuch:'"));
    assert_non_null(strstr(err.msg, "local, kafka"));
    a->cleanup(undo);
}

int main(void)
{
    const struct CMUnitTest contract[] = {
        cmocka_unit_test(test_append_read),
        cmocka_unit_test(test_settings),
    };
    size_t nadapters = sizeof adapters / sizeof adapters[0];
    if (!getenv("AWS_ENDPOINT_URL_KINESIS") || !getenv("SF_TEST_NAME")) {
        fprintf(stderr, "stream: the kinesis adapter is skipped: no Kinesis emulator (node is not "
                        "installed; tests/aws/with_emulators.sh starts kinesalite when it is)\n");
        nadapters--;
    }
    return ut_run_per_adapter("stream contract", contract, sizeof contract / sizeof *contract,
                              adapters, sizeof adapters[0], nadapters);
}
