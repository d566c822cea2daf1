/*
 * reader.c - reading a Kafka topic for the stream port: read(partition,
 * from), watermarks, and the sinks' consumer groups (see kafka.h).
 *
 * Each reading thread has its own consumer. Each partition it reads has its
 * own fetch queue, taken off the consumer queue (rd_kafka_queue_forward to
 * NULL), so read(p) sees only p's records and librdkafka bounds how much it
 * prefetches per partition. A read from another offset than where the queue
 * stands seeks (which drops what was prefetched). The end of a partition is
 * known from librdkafka's partition-EOF event, or else by asking the leader
 * for the high watermark; a read never waits for records that do not exist.
 * Only what all in-sync replicas hold (below the high watermark) is ever
 * delivered, so readers see acknowledged records only.
 *
 * Without a group the thread's consumer assigns itself the partitions it is
 * asked to read. With a group (sf_stream_join: sinks), the consumer
 * subscribes and the group decides; the rebalance callback asks the sink
 * where each assigned partition starts (its stored position: Kafka never
 * holds shopflow's positions, nothing is committed) and, before partitions
 * go, has the sink make its effects durable. The eager assignor is used, so
 * a rebalance revokes everything before assigning anything: two members
 * never own a partition at once while both are alive and polling.
 * Callbacks run only inside sf_stream_owned/sf_stream_leave, i.e. between
 * two applied batches of the runner, never inside an apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "stream/kafka/kafka.h"

#define CARRY_MAX     256   /* messages taken per call to the queue */
#define READ_WAIT_MS  100   /* one wait for records before asking the leader */
#define READ_LIMIT_MS 30000 /* a read that sees neither records nor the end fails */

typedef struct kpart {
    rd_kafka_queue_t *q;        /* its fetch queue, not forwarded to the consumer queue */
    bool active;                /* in this consumer's assignment */
    uint64_t pos;               /* the offset the queue delivers next */
    int64_t eof_at;             /* the end reported by the last EOF event, -1 if none */
    bool stopped;               /* its fetcher stopped on an offset error: restart, not seek */
    rd_kafka_message_t **carry; /* taken from the queue but not yet read out */
    size_t ncarry, carry_at;
} kpart;

struct kreader {
    kreader *next;
    sf_kafka *k;
    pthread_t thread;
    rd_kafka_t *rk;
    rd_kafka_queue_t *main; /* the consumer queue: group events and errors */
    kpart *parts;
    bool grouped;
    bool closing; /* callbacks no longer reach the sink */
    bool closed;  /* the consumer is closed */
    sf_stream_group g;
    uint8_t *owned;
    uint64_t assignments;
    int cb_rc;
    sf_error cb_err;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- partitions ------------------------------------------------------- */

static void drop_carry(kpart *kp)
{
    for (size_t i = kp->carry_at; i < kp->ncarry; i++)
        rd_kafka_message_destroy(kp->carry[i]);
    kp->ncarry = kp->carry_at = 0;
}

/* Take p's fetch queue for this reader and note where it starts. */
static int activate(kreader *r, uint32_t p, uint64_t from, sf_error *err)
{
    kpart *kp = &r->parts[p];
    if (!kp->carry && !(kp->carry = calloc(CARRY_MAX, sizeof *kp->carry)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (!kp->q) {
        if (!(kp->q = rd_kafka_queue_get_partition(r->rk, r->k->topic, (int32_t)p)))
            return sf_error_set(err, SF_EINVAL, "kafka topic %s: no partition %u", r->k->topic, p);
        rd_kafka_queue_forward(kp->q, NULL);
    }
    kp->active = true;
    kp->pos = from;
    kp->eof_at = -1;
    return 0;
}

static void deactivate(kpart *kp)
{
    drop_carry(kp);
    kp->active = false;
}

/* Fetch p again from `from` after its fetcher stopped on an offset error
 * (auto.offset.reset=error leaves it stopped, and a seek then fails with
 * "Erroneous state"): assign it afresh. In a group (eager assignment) the
 * whole assignment is given again, each partition at its position. */
static int restart(kreader *r, uint32_t p, uint64_t from, sf_error *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!r->grouped) {
        rd_kafka_topic_partition_list_add(l, r->k->topic, (int32_t)p)->offset = (int64_t)from;
        e = rd_kafka_incremental_unassign(r->rk, l);
        if (!e)
            e = rd_kafka_incremental_assign(r->rk, l);
    } else {
        for (uint32_t q = 0; q < r->k->nparts; q++)
            if (r->owned[q])
                rd_kafka_topic_partition_list_add(l, r->k->topic, (int32_t)q)->offset =
                    (int64_t)(q == p ? from : r->parts[q].pos);
        re = rd_kafka_assign(r->rk, l);
    }
    int rc = 0;
    if (e || re)
        rc = sf_error_set(err, SF_EIO, "kafka topic %s partition %u: cannot fetch from %llu: %s",
                          r->k->topic, p, (unsigned long long)from,
                          e ? rd_kafka_error_string(e) : rd_kafka_err2str(re));
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    kpart *kp = &r->parts[p];
    drop_carry(kp);
    kp->pos = from;
    kp->eof_at = -1;
    kp->stopped = false;
    return rc;
}

static int seek(kreader *r, uint32_t p, uint64_t from, sf_error *err)
{
    kpart *kp = &r->parts[p];
    if (kp->stopped)
        return restart(r, p, from, err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->k->topic, (int32_t)p)->offset = (int64_t)from;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(r->rk, l, SF_KAFKA_TIMEOUT_MS);
    int rc = 0;
    if (e || l->elems[0].err)
        rc = sf_error_set(err, SF_EIO, "kafka topic %s partition %u: cannot seek to %llu: %s",
                          r->k->topic, p, (unsigned long long)from,
                          e ? rd_kafka_error_string(e) : rd_kafka_err2str(l->elems[0].err));
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    drop_carry(kp);
    kp->pos = from;
    kp->eof_at = -1;
    return rc;
}

/* Without a group: add p to this consumer's assignment at from. */
static int assign_one(kreader *r, uint32_t p, uint64_t from, sf_error *err)
{
    int rc = activate(r, p, from, err);
    if (rc < 0)
        return rc;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->k->topic, (int32_t)p)->offset = (int64_t)from;
    rd_kafka_error_t *e = rd_kafka_incremental_assign(r->rk, l);
    if (e) {
        rc = sf_error_set(err, SF_EIO, "kafka topic %s partition %u: %s", r->k->topic, p,
                          rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        deactivate(&r->parts[p]);
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- readers ---------------------------------------------------------- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *l,
                         void *opaque);

/* Close the consumer, leaving its group; with notify the revoke callback
 * reaches the sink (it flushes), else it reaches nothing. Queue references
 * go first, as librdkafka asks. */
static void close_consumer(kreader *r, bool notify)
{
    if (!r->rk || r->closed)
        return;
    for (uint32_t p = 0; r->parts && p < r->k->nparts; p++) {
        deactivate(&r->parts[p]);
        if (r->parts[p].q)
            rd_kafka_queue_destroy(r->parts[p].q);
        r->parts[p].q = NULL;
    }
    if (r->main)
        rd_kafka_queue_destroy(r->main);
    r->main = NULL;
    r->closing = !notify;
    rd_kafka_consumer_close(r->rk);
    r->closing = r->closed = true;
}

static void reader_free(kreader *r)
{
    if (!r)
        return;
    close_consumer(r, false);
    if (r->rk)
        rd_kafka_destroy(r->rk);
    for (uint32_t p = 0; r->parts && p < r->k->nparts; p++)
        free(r->parts[p].carry);
    free(r->parts);
    free(r->owned);
    free(r);
}

static int reader_new(sf_kafka *k, const char *group, kreader **out, sf_error *err)
{
    kreader *r = calloc(1, sizeof *r);
    if (!r || !(r->parts = calloc(k->nparts, sizeof *r->parts)) ||
        !(r->owned = calloc(k->nparts, 1))) {
        reader_free(r);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    r->k = k;
    r->thread = pthread_self();
    rd_kafka_conf_t *c;
    int rc = sf_kafka_conf(k, true, group, &c, err);
    if (rc < 0) {
        reader_free(r);
        return rc;
    }
    if (group) {
        rd_kafka_conf_set_opaque(c, r);
        rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    }
    char msg[512];
    if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, msg, sizeof msg))) {
        rd_kafka_conf_destroy(c);
        reader_free(r);
        return sf_error_set(err, SF_EUSAGE, "kafka: %s", msg);
    }
    rd_kafka_poll_set_consumer(r->rk);
    r->main = rd_kafka_queue_get_consumer(r->rk);
    *out = r;
    return 0;
}

/* This thread's reader (created when absent); NULL with an error. */
static kreader *reader_of_thread(sf_kafka *k, sf_error *err)
{
    pthread_mutex_lock(&k->readers_mu);
    kreader *r = k->readers;
    while (r && !pthread_equal(r->thread, pthread_self()))
        r = r->next;
    if (!r && reader_new(k, NULL, &r, err) == 0) {
        r->next = k->readers;
        k->readers = r;
    }
    pthread_mutex_unlock(&k->readers_mu);
    return r;
}

/* Take this thread's reader out of the list (NULL if none). */
static kreader *unlink_reader(sf_kafka *k)
{
    pthread_mutex_lock(&k->readers_mu);
    kreader **pp = &k->readers, *r;
    while ((r = *pp) && !pthread_equal(r->thread, pthread_self()))
        pp = &r->next;
    if (r)
        *pp = r->next;
    pthread_mutex_unlock(&k->readers_mu);
    return r;
}

void sf_kafka_readers_free(sf_kafka *k)
{
    while (k->readers) {
        kreader *r = k->readers;
        k->readers = r->next;
        reader_free(r);
    }
}

/* Errors and stray events on the consumer queue (no group: nothing else
 * arrives there). A record there would be outside its partition queue:
 * refuse to go on rather than skip it. */
static int serve_main(kreader *r, sf_error *err)
{
    rd_kafka_message_t *m;
    int rc = 0;
    while (rc == 0 && (m = rd_kafka_consumer_poll(r->rk, 0))) {
        char q[600];
        if (m->err == RD_KAFKA_RESP_ERR__FATAL)
            rc = sf_error_set(err, SF_EIO, "kafka topic %s: %s", r->k->topic,
                              rd_kafka_message_errstr(m));
        else if (m->err)
            sf_logf(SF_LOG_WARN, "kafka_consumer_error", "topic=%s code=%s msg=%s", r->k->topic,
                    rd_kafka_err2name(m->err), sf_logq(rd_kafka_message_errstr(m), q, sizeof q));
        else
            rc = sf_error_set(err, SF_EIO,
                              "kafka topic %s partition %d offset %lld: a record outside its "
                              "partition queue",
                              r->k->topic, (int)m->partition, (long long)m->offset);
        rd_kafka_message_destroy(m);
    }
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

/* Copy m into the batch if it fits (*taken; not when the batch is full).
 * A message larger than a record (another producer's on a shared topic) is
 * handed over as well, for the sinks to stop at or set aside
 * (sinks/quarantine.h); only one larger than the batch can hold is an
 * error here. */
static int take(kreader *r, uint32_t p, rd_kafka_message_t *m, sf_stream_batch *b, size_t *used,
                bool *taken, sf_error *err)
{
    *taken = false;
    if (m->len > b->buf_cap)
        return sf_error_set(err, SF_ECORRUPT,
                            "kafka topic %s partition %u offset %lld: %zu bytes, not a shopflow "
                            "record, and more than a read holds (%zu)",
                            r->k->topic, p, (long long)m->offset, m->len, b->buf_cap);
    if (b->count == b->cap || *used + m->len > b->buf_cap)
        return 0;
    memcpy(b->buf + *used, m->payload, m->len);
    sf_stream_entry *e = &b->entries[b->count++];
    sf_pos_from_u64(&e->pos, (uint64_t)m->offset);
    e->data = b->buf + *used;
    e->len = (uint32_t)m->len;
    *used += m->len;
    r->parts[p].pos = (uint64_t)m->offset + 1;
    *taken = true;
    return 0;
}

/* Sort what the queue gave: records into the batch (or the carry when it
 * is full), EOF events noted, stale records (before a seek) dropped. */
static int sort_in(kreader *r, uint32_t p, rd_kafka_message_t **msgs, size_t n, sf_stream_batch *b,
                   size_t *used, bool *range, sf_error *err)
{
    kpart *kp = &r->parts[p];
    int rc = 0;
    bool taken;
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        if (rc < 0 || *range) {
            rd_kafka_message_destroy(m);
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            kp->eof_at = m->offset;
            rd_kafka_message_destroy(m);
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                   m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
            *range = true;
            rd_kafka_message_destroy(m);
        } else if (m->err) {
            rc = sf_error_set(err, SF_EIO, "kafka topic %s partition %u: %s", r->k->topic, p,
                              rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        } else if ((uint64_t)m->offset < kp->pos || kp->ncarry > kp->carry_at) {
            if ((uint64_t)m->offset < kp->pos)
                rd_kafka_message_destroy(m);
            else
                kp->carry[kp->ncarry++] = m;
        } else if ((rc = take(r, p, m, b, used, &taken, err)) == 0 && !taken) {
            kp->carry[kp->ncarry++] = m; /* the batch is full */
        } else {
            rd_kafka_message_destroy(m); /* copied, or the read failed */
        }
    }
    return rc;
}

/* Nothing arrived: ask the leader whether from is the end (*end) or
 * records exist. SF_ERANGE when from is before the start. */
static int at_end(kreader *r, uint32_t p, uint64_t from, sf_stream_batch *b, bool *end,
                  sf_error *err)
{
    *end = false;
    int64_t lo, hi;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(r->rk, r->k->topic, (int32_t)p, &lo,
                                                             &hi, SF_KAFKA_TIMEOUT_MS);
    if (e)
        return sf_error_set(err, SF_EIO, "kafka topic %s partition %u: %s", r->k->topic, p,
                            rd_kafka_err2str(e));
    if ((int64_t)from < lo) {
        sf_pos_from_u64(&b->next, (uint64_t)lo);
        return sf_error_set(err, SF_ERANGE,
                            "kafka topic %s partition %u: offset %llu was removed "
                            "(the partition starts at %lld)",
                            r->k->topic, p, (unsigned long long)from, (long long)lo);
    }
    *end = (int64_t)from >= hi;
    return 0;
}

/* The broker refused to fetch from the reader's position (offset out of
 * range). Before the partition's start: SF_ERANGE (b->next says where
 * it starts). At or past its end: *end (what was read stays in b). Else
 * the records exist (a new leader whose high watermark lags, say): the
 * fetch is restarted there and the read goes on, for reporting the end
 * here would cut the read short silently. */
static int range_refused(kreader *r, uint32_t p, sf_stream_batch *b, bool *end, sf_error *err)
{
    uint64_t at = r->parts[p].pos;
    int rc = at_end(r, p, at, b, end, err);
    if (rc < 0 || *end)
        return rc;
    sf_logf(SF_LOG_WARN, "kafka_refetch", "topic=%s partition=%u offset=%llu", r->k->topic, p,
            (unsigned long long)at);
    return restart(r, p, at, err);
}

static int fill(kreader *r, uint32_t p, uint64_t from, sf_stream_batch *b, sf_error *err)
{
    kpart *kp = &r->parts[p];
    rd_kafka_message_t *msgs[CARRY_MAX];
    size_t used = 0;
    double deadline = now_ms() + READ_LIMIT_MS;
    for (;;) {
        int rc = 0;
        bool taken = true, end;
        while (kp->carry_at < kp->ncarry &&
               (rc = take(r, p, kp->carry[kp->carry_at], b, &used, &taken, err)) == 0 && taken)
            rd_kafka_message_destroy(kp->carry[kp->carry_at++]);
        if (rc < 0)
            return rc;
        if (kp->carry_at < kp->ncarry)
            return 0; /* the batch is full */
        kp->ncarry = kp->carry_at = 0;
        size_t want = b->cap - b->count < CARRY_MAX ? b->cap - b->count : CARRY_MAX;
        bool end_known = kp->eof_at >= 0 && (uint64_t)kp->eof_at == kp->pos;
        int wait = b->count || end_known ? 0 : READ_WAIT_MS;
        ssize_t got = want ? rd_kafka_consume_batch_queue(kp->q, wait, msgs, want) : 0;
        if (got < 0)
            return sf_error_set(err, SF_EIO, "kafka topic %s partition %u: %s", r->k->topic, p,
                                rd_kafka_err2str(rd_kafka_last_error()));
        bool range = false;
        if ((rc = sort_in(r, p, msgs, (size_t)got, b, &used, &range, err)) < 0)
            return rc;
        if (range) {
            kp->stopped = true;
            if ((rc = range_refused(r, p, b, &end, err)) < 0 || end)
                return rc;
            if (now_ms() > deadline)
                return sf_error_set(err, SF_EIO,
                                    "kafka topic %s partition %u: offset %llu refused as out of "
                                    "range for %d s, though the partition holds it",
                                    r->k->topic, p, (unsigned long long)kp->pos,
                                    READ_LIMIT_MS / 1000);
        }
        if (b->count)
            if ((size_t)got < want || b->count == b->cap || kp->ncarry)
                return 0;
        if (b->count == 0 && kp->eof_at >= 0 && (uint64_t)kp->eof_at == kp->pos)
            return 0;
        if (b->count == 0 && got == 0) {
            if ((rc = at_end(r, p, from, b, &end, err)) < 0 || end)
                return rc;
            if (now_ms() > deadline)
                return sf_error_set(err, SF_EIO,
                                    "kafka topic %s partition %u: no records from offset %llu in "
                                    "%d s, though the partition has some",
                                    r->k->topic, p, (unsigned long long)from, READ_LIMIT_MS / 1000);
        }
    }
}

int sf_kafka_read(sf_stream *s, uint32_t p, const sf_pos *at, sf_stream_batch *b, sf_error *err)
{
    sf_kafka *k = (sf_kafka *)s;
    uint64_t from;
    if (!sf_pos_u64(at, &from) || from > INT64_MAX) {
        char text[SF_POS_TEXT_MAX];
        sf_pos_format(at, text, sizeof text);
        return sf_error_set(err, SF_ERANGE, "kafka topic %s partition %u: %s is not an offset",
                            k->topic, p, text);
    }
    kreader *r = reader_of_thread(k, err);
    if (!r)
        return err ? err->code : SF_ENOMEM;
    b->count = 0;
    b->next = *at;
    kpart *kp = &r->parts[p];
    int rc = 0;
    if (!kp->active && r->grouped)
        return sf_error_set(err, SF_EINVAL,
                            "kafka topic %s partition %u: not assigned to this member of the group",
                            k->topic, p);
    if (!kp->active)
        rc = assign_one(r, p, from, err);
    else if (kp->pos != from || kp->stopped)
        rc = seek(r, p, from, err);
    if (rc == 0 && !r->grouped)
        rc = serve_main(r, err);
    if (rc == 0)
        rc = fill(r, p, from, b, err);
    if (rc == 0 && b->count) /* after the last record: a gap past it is skipped by the fetch */
        sf_pos_from_u64(&b->next, kp->pos);
    return rc;
}

int sf_kafka_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err)
{
    sf_kafka *k = (sf_kafka *)s;
    int64_t lo = -1, hi = -1;
    memset(out, 0, sizeof *out);
    /* A partition this thread reads: the watermarks of its last fetch (no
     * round trip; the runner asks after every pass). */
    pthread_mutex_lock(&k->readers_mu);
    kreader *r = k->readers;
    while (r && !pthread_equal(r->thread, pthread_self()))
        r = r->next;
    if (r && r->parts[p].active)
        rd_kafka_get_watermark_offsets(r->rk, k->topic, (int32_t)p, &lo, &hi);
    pthread_mutex_unlock(&k->readers_mu);
    if (lo < 0 || hi < 0) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(k->rk, k->topic, (int32_t)p, &lo,
                                                                 &hi, SF_KAFKA_TIMEOUT_MS);
        if (e)
            return sf_error_set(err, SF_EIO, "kafka topic %s partition %u: %s", k->topic, p,
                                rd_kafka_err2str(e));
    }
    sf_pos_from_u64(&out->start, (uint64_t)lo);
    sf_pos_from_u64(&out->end, (uint64_t)hi);
    return 0; /* bytes and segments: not told by the Kafka protocol shopflow uses */
}

/* ---- groups ----------------------------------------------------------- */

static int list_parts(const rd_kafka_topic_partition_list_t *l, uint32_t *parts, uint32_t nparts)
{
    int n = 0;
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].partition >= 0 && (uint32_t)l->elems[i].partition < nparts)
            parts[n++] = (uint32_t)l->elems[i].partition;
    return n;
}

static void on_assign(kreader *r, rd_kafka_topic_partition_list_t *l)
{
    uint32_t *parts = calloc((size_t)l->cnt + 1, sizeof *parts);
    sf_pos *from = calloc((size_t)l->cnt + 1, sizeof *from);
    uint64_t *at = calloc((size_t)l->cnt + 1, sizeof *at);
    int n = parts && from && at ? list_parts(l, parts, r->k->nparts) : 0;
    int rc = parts && from && at ? 0 : sf_error_set(&r->cb_err, SF_ENOMEM, "out of memory");
    if (rc == 0 && !r->closing && r->g.assigned)
        rc = r->g.assigned(r->g.ctx, parts, (size_t)n, from, &r->cb_err);
    for (int i = 0; rc == 0 && i < n; i++)
        if ((rc = sf_pos_to_u64(&from[i], &at[i], &r->cb_err)) == 0)
            rc = activate(r, parts[i], at[i], &r->cb_err);
    for (int i = 0, j = 0; rc == 0 && i < l->cnt; i++)
        if (j < n && l->elems[i].partition == (int32_t)parts[j]) {
            l->elems[i].offset = (int64_t)at[j++];
            r->owned[l->elems[i].partition] = 1;
        }
    if (rc == 0) {
        rd_kafka_assign(r->rk, l);
        r->assignments++;
        sf_logf(SF_LOG_INFO, "kafka_assigned", "group=%s partitions=%d", r->g.name, n);
    } else {
        rd_kafka_assign(r->rk, NULL); /* the runner fails and restarts from the store */
        r->cb_rc = rc;
    }
    free(parts);
    free(from);
    free(at);
}

static void on_revoke(kreader *r, rd_kafka_topic_partition_list_t *l)
{
    uint32_t *parts = calloc((size_t)l->cnt + 1, sizeof *parts);
    int n = parts ? list_parts(l, parts, r->k->nparts) : 0;
    bool lost = rd_kafka_assignment_lost(r->rk);
    int rc = 0;
    if (!r->closing && r->g.revoked)
        rc = r->g.revoked(r->g.ctx, parts, (size_t)n, lost, &r->cb_err);
    for (int i = 0; i < n; i++) {
        deactivate(&r->parts[parts[i]]);
        r->owned[parts[i]] = 0;
    }
    rd_kafka_assign(r->rk, NULL);
    if (rc < 0 && r->cb_rc == 0)
        r->cb_rc = rc;
    sf_logf(lost ? SF_LOG_WARN : SF_LOG_INFO, "kafka_revoked", "group=%s partitions=%d lost=%s",
            r->g.name, n, lost ? "true" : "false");
    free(parts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *l,
                         void *opaque)
{
    (void)rk;
    kreader *r = opaque;
    if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        on_assign(r, l);
    else
        on_revoke(r, l);
}

int sf_kafka_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out, sf_error *err)
{
    sf_kafka *k = (sf_kafka *)s;
    *out = SF_STREAM_UNGROUPED;
    if (!k->groups)
        return 0;
    reader_free(unlink_reader(k)); /* a plain reader of this thread's, if any */
    char group[512];
    snprintf(group, sizeof group, "%s.%s", k->group_prefix, g->name);
    kreader *r;
    int rc = reader_new(k, group, &r, err);
    if (rc < 0)
        return rc;
    r->grouped = true;
    r->g = *g;
    r->g.name = g->name;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, k->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        reader_free(r);
        return sf_error_set(err, SF_EIO, "kafka group %s: %s", group, rd_kafka_err2str(e));
    }
    pthread_mutex_lock(&k->readers_mu);
    r->next = k->readers;
    k->readers = r;
    pthread_mutex_unlock(&k->readers_mu);
    sf_logf(SF_LOG_INFO, "kafka_joined", "group=%s topic=%s", group, k->topic);
    *out = SF_STREAM_GROUPED;
    return 0;
}

int sf_kafka_owned(sf_stream *s, uint8_t *owned, uint64_t *assignments, sf_error *err)
{
    sf_kafka *k = (sf_kafka *)s;
    kreader *r = reader_of_thread(k, err);
    *assignments = 0;
    if (!r)
        return err ? err->code : SF_ENOMEM;
    if (!r->grouped) {
        memset(owned, 1, k->nparts);
        *assignments = 1;
        return 0;
    }
    int rc = serve_main(r, err); /* rebalance callbacks run in here */
    if (rc == 0 && r->cb_rc < 0) {
        rc = r->cb_rc;
        if (err)
            *err = r->cb_err;
        r->cb_rc = 0;
    }
    memcpy(owned, r->owned, k->nparts);
    *assignments = r->assignments;
    return rc;
}

void sf_kafka_leave(sf_stream *s)
{
    sf_kafka *k = (sf_kafka *)s;
    kreader *r = unlink_reader(k);
    if (r && r->grouped)
        close_consumer(r, true); /* revoke runs: the sink flushes */
    reader_free(r);
}
