/*
 * stream.c - the stream port's front: the adapter table, the partitioner,
 * the synchronous append (see stream.h; read batches are core/batch.c).
 */
#include "stream/stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/pack.h"
#include "stream/stream_adapter.h"

extern const sf_stream_ops sf_stream_local_ops;
extern const sf_stream_ops sf_stream_kafka_ops;
extern const sf_stream_ops sf_stream_kinesis_ops;

/* The adapters and their schemes; the first is the default (a bare path). */
static const sf_adapter adapters[] = {
    {{"local"}, &sf_stream_local_ops},
    {{"kafka"}, &sf_stream_kafka_ops},
    {{"kinesis"}, &sf_stream_kinesis_ops},
};

int sf_stream_open(const char *location, const sf_stream_opts *opts, sf_stream **out, sf_error *err)
{
    static const sf_stream_opts defaults;
    const void *ops;
    sf_location loc;
    int rc = sf_location_pick("stream", adapters, sizeof adapters / sizeof adapters[0], location,
                              &ops, &loc, err);
    return rc < 0 ? rc
                  : ((const sf_stream_ops *)ops)->open(&loc, opts ? opts : &defaults, out, err);
}

void sf_stream_location(const char *data_dir, const char *stream, char *out, size_t cap)
{
    if (stream && *stream)
        snprintf(out, cap, "%s", stream);
    else
        snprintf(out, cap, "%s/log", data_dir);
}

uint32_t sf_stream_partition_of(const char *invoice_no, size_t len, uint32_t partitions)
{
    return (uint32_t)(XXH3_64bits(invoice_no, len) % partitions);
}

int sf_stream_append_packed_async(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                                  sf_append_done done, void *ctx, sf_error *err)
{
    return s->ops->append_async(s, data, lens, n, done, ctx, err);
}

int sf_stream_append_async(sf_stream *s, const sf_record *recs, size_t n, sf_append_done done,
                           void *ctx, sf_error *err)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += sf_record_packed_size(&recs[i]);
    uint8_t *data = malloc(bytes ? bytes : 1);
    uint32_t *lens = malloc((n ? n : 1) * sizeof *lens);
    int rc = 0;
    if (!data || !lens)
        rc = sf_error_set(err, SF_ENOMEM, "out of memory packing %zu records", n);
    for (size_t i = 0, at = 0; rc == 0 && i < n; i++) {
        lens[i] = (uint32_t)sf_record_pack(&recs[i], data + at, bytes - at);
        at += lens[i];
    }
    if (rc == 0)
        rc = s->ops->append_async(s, data, lens, n, done, ctx, err);
    free(data);
    free(lens);
    return rc;
}

/* The synchronous append waits on one of these. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    size_t n;
    uint32_t *partitions;
    sf_pos *positions;
    sf_error *err;
} waiter;

static void wake(void *ctx, int status, const uint32_t *partitions, const sf_pos *positions,
                 const char *errmsg)
{
    waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->status = status;
    if (status == 0) {
        if (w->positions)
            memcpy(w->positions, positions, w->n * sizeof *positions);
        if (w->partitions)
            memcpy(w->partitions, partitions, w->n * sizeof *partitions);
    } else {
        sf_error_set(w->err, status, "%s", errmsg ? errmsg : sf_strerror(status));
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int sf_stream_append(sf_stream *s, const sf_record *recs, size_t n, uint32_t *partitions,
                     sf_pos *positions, sf_error *err)
{
    waiter w = {.n = n, .partitions = partitions, .positions = positions, .err = err};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = sf_stream_append_async(s, recs, n, wake, &w, err);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

int sf_stream_read(sf_stream *s, uint32_t partition, const sf_pos *from, sf_stream_batch *batch,
                   sf_error *err)
{
    if (partition >= s->ops->partitions(s))
        return sf_error_set(err, SF_EINVAL, "no partition %u (the stream has %u)", partition,
                            s->ops->partitions(s));
    sf_pos at = *from; /* from may point into batch */
    int rc = s->ops->read(s, partition, &at, batch, err);
    batch->from = at;
    return rc;
}

uint32_t sf_stream_partitions(const sf_stream *s)
{
    return s->ops->partitions(s);
}

void sf_stream_lineage(sf_stream *s, uint32_t partition, sf_partition_lineage *out)
{
    memset(out, 0, sizeof *out);
    if (s->ops->lineage && partition < s->ops->partitions(s))
        s->ops->lineage(s, partition, out);
}

bool sf_stream_end_is_witness(const sf_stream *s)
{
    return s->ops->end_is_witness;
}

uint64_t sf_stream_total_end(sf_stream *s)
{
    static const sf_pos zero;
    uint64_t total = 0;
    for (uint32_t p = 0; p < sf_stream_partitions(s); p++) {
        sf_lag lag;
        sf_error err = {0};
        if (sf_stream_lag(s, p, &zero, &lag, &err) == 0 && lag.has_records)
            total += lag.records;
    }
    return total;
}

int sf_stream_info(sf_stream *s, uint32_t partition, sf_partition_info *out, sf_error *err)
{
    memset(out, 0, sizeof *out); /* what an adapter leaves (closed, gone: local, Kafka) is 0 */
    if (partition >= s->ops->partitions(s))
        return sf_error_set(err, SF_EINVAL, "no partition %u", partition);
    return s->ops->info(s, partition, out, err);
}

int sf_stream_lag(sf_stream *s, uint32_t partition, const sf_pos *from, sf_lag *out, sf_error *err)
{
    memset(out, 0, sizeof *out);
    if (partition >= s->ops->partitions(s))
        return sf_error_set(err, SF_EINVAL, "no partition %u", partition);
    return s->ops->lag(s, partition, from, out, err);
}

int sf_stream_tail_start(sf_stream *s, uint32_t partition, uint64_t max_records, sf_pos *out,
                         sf_error *err)
{
    if (partition >= s->ops->partitions(s))
        return sf_error_set(err, SF_EINVAL, "no partition %u", partition);
    return s->ops->tail_start(s, partition, max_records, out, err);
}

/* The partition's start and end as 64-bit offsets. */
static int offsets_of(sf_stream *s, uint32_t partition, uint64_t *start, uint64_t *end,
                      sf_error *err)
{
    sf_partition_info info;
    int rc = s->ops->info(s, partition, &info, err);
    if (rc == 0 && (rc = sf_pos_to_u64(&info.start, start, err)) == 0)
        rc = sf_pos_to_u64(&info.end, end, err);
    return rc;
}

int sf_stream_offsets_lag(sf_stream *s, uint32_t partition, const sf_pos *from, bool exact,
                          sf_lag *out, sf_error *err)
{
    uint64_t start, end, at;
    int rc = offsets_of(s, partition, &start, &end, err);
    if (rc < 0)
        return rc;
    out->has_records = true;
    out->records_exact = exact;
    out->records = sf_pos_u64(from, &at) && at < end ? end - at : 0;
    return 0;
}

int sf_stream_offsets_tail_start(sf_stream *s, uint32_t partition, uint64_t max_records,
                                 sf_pos *out, sf_error *err)
{
    uint64_t start, end;
    int rc = offsets_of(s, partition, &start, &end, err);
    if (rc < 0)
        return rc;
    uint64_t at = end > max_records ? end - max_records : 0;
    sf_pos_from_u64(out, at < start ? start : at);
    return 0;
}

void sf_stream_stats_get(sf_stream *s, sf_stream_stats *out)
{
    s->ops->stats(s, out);
}

void sf_stream_stats_latency(sf_stream_stats *st, double seconds)
{
    static const double le[] = {100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3};
    size_t b = 0;
    while (b < sizeof le / sizeof le[0] && seconds > le[b])
        b++;
    st->fsync_le_us[b]++;
    st->fsync_seconds += seconds;
}

int sf_stream_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out, sf_error *err)
{
    *out = SF_STREAM_UNGROUPED;
    return s->ops->join ? s->ops->join(s, g, out, err) : 0;
}

int sf_stream_owned(sf_stream *s, uint8_t *owned, uint64_t *assignments, sf_error *err)
{
    if (s->ops->owned)
        return s->ops->owned(s, owned, assignments, err);
    memset(owned, 1, s->ops->partitions(s));
    *assignments = 1;
    return 0;
}

void sf_stream_leave(sf_stream *s)
{
    if (s->ops->leave)
        s->ops->leave(s);
}

void sf_stream_close(sf_stream *s)
{
    if (s)
        s->ops->close(s);
}
