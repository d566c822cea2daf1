/*
 * kafka.h - internals of the Kafka stream adapter (src/stream/kafka/ only).
 *
 * kafka.c opens the stream (location, settings, the topic's partitions) and
 * appends through one idempotent producer; reader.c reads, through one
 * consumer per reading thread, and runs the consumer groups.
 *
 * Why a consumer per thread: the port's read(partition, from) is called from
 * several threads at once at their own offsets (the sinks of `serve` share
 * one stream), and a Kafka consumer has one position per partition. Each
 * thread that reads gets its own consumer, kept until the stream closes (or
 * the thread leaves its group).
 */
#ifndef SF_STREAM_KAFKA_H
#define SF_STREAM_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "stream/stream_adapter.h"

/* Metadata, watermarks, seeks and topic creation wait at most this long. */
#define SF_KAFKA_TIMEOUT_MS 10000

typedef struct kreader kreader;

typedef struct sf_kafka {
    sf_stream base;
    char *brokers; /* "host:port,host:port" */
    char *topic;
    sf_stream_opts opts;
    char **conf; /* the librdkafka "key=value" settings given (copies) */
    size_t nconf;
    bool groups;            /* shopflow.groups: sinks join consumer groups */
    char group_prefix[256]; /* group.id given, else "shopflow.TOPIC"; + ".SINK" */
    uint32_t nparts;

    rd_kafka_t *rk; /* the producer: appends, metadata, watermarks */
    rd_kafka_topic_t *rkt;
    pthread_t poller; /* serves rk: delivery reports, errors, logs */
    bool poller_started;
    atomic_bool stopping;

    pthread_mutex_t mu; /* guards what follows */
    bool closing;
    bool failed; /* an append is in doubt, or the producer failed fatally */
    char failure[SF_ERROR_MSG_MAX];
    uint64_t inflight_bytes;
    uint64_t inflight_appends;
    sf_stream_stats stats;

    pthread_mutex_t readers_mu;
    kreader *readers;
} sf_kafka;

/* kafka.c: a configuration with the common settings and the user's
 * (consumer: for a reader; group: its group.id or NULL). */
int sf_kafka_conf(sf_kafka *k, bool consumer, const char *group, rd_kafka_conf_t **out,
                  sf_error *err);

/* reader.c */
int sf_kafka_read(sf_stream *s, uint32_t p, const sf_pos *from, sf_stream_batch *b, sf_error *err);
int sf_kafka_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err);
int sf_kafka_join(sf_stream *s, const sf_stream_group *g, sf_stream_membership *out, sf_error *err);
int sf_kafka_owned(sf_stream *s, uint8_t *owned, uint64_t *assignments, sf_error *err);
void sf_kafka_leave(sf_stream *s);
void sf_kafka_readers_free(sf_kafka *k);

#endif
