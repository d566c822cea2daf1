/*
 * kinesis.h - internals of the Kinesis stream adapter (src/stream/kinesis/
 * only).
 *
 * kinesis.c opens the stream (location, settings, the shards; the stream
 * created when absent) and appends through one writer thread that owns its
 * own AWS client (core/aws.h: a client is used by one thread at a time);
 * reader.c reads, with one client and one set of shard iterators per
 * reading thread (the sinks of `serve` read one stream from several threads
 * at their own positions, as with Kafka's consumer per thread); json.c
 * holds the JSON and base64 helpers both use.
 *
 * Partitions are the stream's open shards ordered by their starting hash
 * key: partition p is shard shards[p]. A record of partition p is put with
 * ExplicitHashKey = shards[p]'s starting hash key, so it lands on that shard
 * whatever its partition key. Positions are the shards' sequence numbers
 * as they are (decimal, up to 129 digits: core/pos.h).
 */
#ifndef SF_STREAM_KINESIS_H
#define SF_STREAM_KINESIS_H

#include <pthread.h>
#include <stdbool.h>
#include <yajl/yajl_tree.h>

#include "core/aws.h"
#include "stream/stream_adapter.h"

#define SF_KINESIS_NAME_MAX   128        /* Kinesis's limit on a stream name */
#define SF_KINESIS_SHARD_MAX  128        /* a shard id ("shardId-000000000000") */
#define SF_KINESIS_HASH_MAX   40         /* a hash key: up to 2^128-1, 39 digits */
#define SF_KINESIS_RECORD_MAX (1u << 20) /* Kinesis: data + partition key of one record */

typedef struct kshard {
    char id[SF_KINESIS_SHARD_MAX];
    char start_hash[SF_KINESIS_HASH_MAX];
    sf_pos first; /* its StartingSequenceNumber */
} kshard;

typedef struct kreader kreader;
typedef struct kwriter kwriter;

typedef struct sf_kinesis {
    sf_stream base;
    char name[SF_KINESIS_NAME_MAX + 1];
    sf_stream_opts opts;
    sf_aws_config cfg;    /* each thread's client is opened from this */
    unsigned in_flight;   /* PutRecords calls at once (in-flight=N) */
    unsigned read_gap_ms; /* least time between two GetRecords of a shard (read-interval-ms) */
    double read_rate;     /* bytes per second one reader takes from a shard, 0: any
                             (read-bytes-per-second) */
    uint64_t
        window_seconds; /* the dedup window's rebuild reads no older records (window-seconds) */
    uint32_t nparts;
    kshard *shards;

    pthread_mutex_t ctl_mu; /* guards ctl: the client of open, info and lag */
    sf_aws *ctl;

    kwriter *writer; /* NULL when read-only */

    pthread_mutex_t mu; /* guards what follows */
    sf_stream_stats stats;
    sf_pos *seen_end;  /* per partition: past the newest record appended or read here */
    double *end_asked; /* per partition: when info() last read on to the end (monotonic s) */

    pthread_mutex_t readers_mu;
    kreader *readers;
} sf_kinesis;

/* kinesis.c: an AWS client for this stream's service (a thread's own). */
int sf_kinesis_client(sf_kinesis *k, unsigned in_flight, sf_aws **out, sf_error *err);
/* Note that partition p holds records up to (not including) end. */
void sf_kinesis_saw(sf_kinesis *k, uint32_t p, const sf_pos *end);

/* writer (kinesis.c) */
int sf_kinesis_writer_start(sf_kinesis *k, sf_error *err);
int sf_kinesis_append(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                      sf_append_done done, void *ctx, sf_error *err);
void sf_kinesis_writer_stop(sf_kinesis *k);
/* An append was in doubt: appends are refused until reopened. */
bool sf_kinesis_writer_failed(sf_kinesis *k);

/* reader.c */
int sf_kinesis_read(sf_stream *s, uint32_t p, const sf_pos *from, sf_stream_batch *b,
                    sf_error *err);
int sf_kinesis_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err);
int sf_kinesis_lag(sf_stream *s, uint32_t p, const sf_pos *from, sf_lag *out, sf_error *err);
int sf_kinesis_tail_start(sf_stream *s, uint32_t p, uint64_t max_records, sf_pos *out,
                          sf_error *err);
void sf_kinesis_readers_free(sf_kinesis *k);

/* json.c */
/* Append data[0..n) as base64 (RFC 4648, padded). */
void sf_kinesis_b64_encode(sf_buf *b, const uint8_t *data, size_t n);
/* Decode base64 text s[0..n) into out (at least n*3/4 bytes); the length,
 * or -1 when s is not base64. */
long sf_kinesis_b64_decode(const char *s, size_t n, uint8_t *out);
/* Parse a JSON answer (NUL-terminated copy made here); NULL with err set. */
yajl_val sf_kinesis_parse(const sf_buf *resp, const char *op, sf_error *err);
/* The string at path (NULL-terminated keys) in v, or NULL. */
const char *sf_kinesis_str(yajl_val v, const char *const *path);
/* The array at path, or NULL. */
yajl_val sf_kinesis_array(yajl_val v, const char *const *path);
/* The integer at path, or dflt. */
long long sf_kinesis_int(yajl_val v, const char *const *path, long long dflt);

#endif
