/*
 * kafka.c - the Kafka stream adapter (librdkafka): the stream port over a
 * topic, located by "kafka://host1:9092,host2:9092/topic".
 *
 * Appending. One idempotent producer (acks=all, enable.idempotence=true),
 * polled by a thread of the stream's. Each record goes to the partition
 * shopflow's own partitioner picks (sf_stream_partition_of over the topic's
 * partition count, keyed by InvoiceNo as well), so an invoice stays in one
 * partition and a local log and a topic with the same partition count put
 * every record in the same partition. The payload is the packed record
 * (core/pack.h): readers get exactly the entries the local log gives, and
 * offsets are Kafka's. An append's callback runs when the delivery reports
 * of all its records are in: success only if every record was acknowledged
 * by all in-sync replicas. librdkafka retries retriable errors (a broker
 * down, a leader change) itself, and idempotence keeps those retries from
 * writing a record twice or out of order.
 *
 * A failed append is of one of two kinds (stream.h): none of its records
 * was written (each delivery report says NOT_PERSISTED, or a record could
 * not even be queued): an ordinary failure, the gateway answers 503 and a
 * retry is safe; or some record was or may have been written (PERSISTED or
 * POSSIBLY_PERSISTED beside a failure): the append fails with SF_EFAILED
 * and the stream refuses appends until it is reopened, so a restarted
 * gateway rebuilds its event-id window from the topic and a retry of the
 * same event ids is a duplicate, not a second copy. /readyz turns
 * unready meanwhile (stats.failed).
 *
 * Settings: --stream-opt key=value strings (sf_stream_opts.extra) go to
 * librdkafka (SASL, TLS, tuning), except the ones this adapter fixes
 * because its guarantees depend on them (acks, idempotence, offsets and
 * commits) and its own, "shopflow.groups" (false: sinks read every
 * partition without a consumer group). "group.id" is the prefix of the
 * sinks' groups. The topic must exist (find_topic says how to create it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "core/pack.h"
#include "stream/kafka/kafka.h"

#define QUEUE_BYTES_DEFAULT (256u << 20)

/* Settings the adapter owns: its guarantees rest on them. */
static const char *const fixed[] = {
    "bootstrap.servers",
    "metadata.broker.list",
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "auto.offset.reset",
    "partitioner",
    "transactional.id",
};

/* One record of an append in flight: its delivery report finds it here. */
typedef struct slot {
    struct pending *owner;
    size_t i;
} slot;

typedef struct pending {
    sf_kafka *k;
    size_t n;
    _Atomic size_t left; /* reports still due, + 1 while records are being queued */
    size_t failed;       /* records not acknowledged (under k->mu) */
    size_t doubt;        /* of those, possibly written */
    bool busy;           /* a record was refused: the producer's queue is full */
    char why[256];       /* the first failure */
    uint64_t bytes;
    double started;
    sf_append_done done;
    void *ctx;
    uint32_t *parts;
    sf_pos *positions; /* each record's offset */
    slot slots[];
} pending;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- settings --------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char q[1024];
    /* --stream-opt settings go to the producer and the consumers alike;
     * each ignores the other's, which is not worth a warning. */
    if (strcmp(fac, "CONFWARN") == 0 &&
        (strstr(buf, "is a consumer property") || strstr(buf, "is a producer property")))
        return;
    sf_log_level l = level <= 3   ? SF_LOG_ERROR
                     : level == 4 ? SF_LOG_WARN
                     : level <= 6 ? SF_LOG_INFO
                                  : SF_LOG_DEBUG;
    sf_logf(l, "kafka", "client=%s facility=%s msg=%s", rd_kafka_name(rk), fac,
            sf_logq(buf, q, sizeof q));
}

static int set(rd_kafka_conf_t *c, const char *key, const char *val, sf_error *err)
{
    char msg[512];
    if (rd_kafka_conf_set(c, key, val, msg, sizeof msg) != RD_KAFKA_CONF_OK)
        return sf_error_set(err, SF_EUSAGE, "kafka stream option %s: %s", key, msg);
    return 0;
}

static int set_user(sf_kafka *k, rd_kafka_conf_t *c, sf_error *err)
{
    for (size_t i = 0; i < k->nconf; i++) {
        char *eq = strchr(k->conf[i], '=');
        *eq = '\0';
        int rc = strcmp(k->conf[i], "group.id") == 0 ? 0 : set(c, k->conf[i], eq + 1, err);
        *eq = '=';
        if (rc < 0)
            return rc;
    }
    return 0;
}

int sf_kafka_conf(sf_kafka *k, bool consumer, const char *group, rd_kafka_conf_t **out,
                  sf_error *err)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = set(c, "bootstrap.servers", k->brokers, err);
    if (rc == 0)
        rc = set(c, "client.id", "shopflow", err);
    if (rc == 0 && consumer) {
        /* A group.id even without a group: librdkafka's assign() wants one.
         * Positions are the sinks' own: nothing is committed to Kafka. */
        rc = set(c, "group.id", group ? group : "shopflow.reader", err);
        if (rc == 0)
            rc = set(c, "enable.auto.commit", "false", err);
        if (rc == 0)
            rc = set(c, "enable.auto.offset.store", "false", err);
        if (rc == 0)
            rc = set(c, "enable.partition.eof", "true", err);
        if (rc == 0)
            rc = set(c, "auto.offset.reset", "error", err);
        /* The end of a partition is seen when a fetch comes back empty,
         * after this wait: short, so a reader catching up finishes fast. */
        if (rc == 0)
            rc = set(c, "fetch.wait.max.ms", "100", err);
        /* A sink killed outright holds its partitions until this passes. */
        if (rc == 0 && group)
            rc = set(c, "session.timeout.ms", "10000", err);
    } else if (rc == 0 && !k->opts.read_only) {
        rc = set(c, "acks", "all", err);
        if (rc == 0)
            rc = set(c, "enable.idempotence", "true", err);
        if (rc == 0)
            rc = set(c, "linger.ms", "5", err);
        /* Records of a shop compress ~4x (repeated countries, products):
         * less network and broker disk, for a little CPU. */
        if (rc == 0)
            rc = set(c, "compression.type", "lz4", err);
        if (rc == 0)
            rc = set(c, "queue.buffering.max.messages", "2000000", err);
    }
    if (rc == 0)
        rc = set_user(k, c, err);
    if (rc < 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    rd_kafka_conf_set_log_cb(c, log_cb);
    rd_kafka_conf_set_opaque(c, k);
    *out = c;
    return 0;
}

/* "//h1:9092,h2:9092/topic" (what follows "kafka:"). */
static int parse_location(sf_kafka *k, const char *location, sf_error *err)
{
    const char *slash = strrchr(location, '/');
    if (strncmp(location, "//", 2) != 0 || !slash || slash < location + 2 ||
        slash == location + 2 || !slash[1])
        return sf_error_set(err, SF_EUSAGE, "kafka:%s: say kafka://HOST:PORT[,HOST:PORT...]/TOPIC",
                            location);
    const char *topic = slash + 1;
    if (strlen(topic) > 249 || strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789._-") != strlen(topic))
        return sf_error_set(err, SF_EUSAGE,
                            "kafka topic '%s': at most 249 letters, digits, '.', '_' or '-'",
                            topic);
    k->brokers = strndup(location + 2, (size_t)(slash - location - 2));
    k->topic = strdup(topic);
    if (!k->brokers || !k->topic)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

/* shopflow.* settings are ours; the others are checked for librdkafka. */
static int own_setting(sf_kafka *k, const char *key, const char *val, sf_error *err)
{
    if (strcmp(key, "shopflow.groups") == 0) {
        if (strcmp(val, "true") && strcmp(val, "false"))
            return sf_error_set(err, SF_EUSAGE, "shopflow.groups: true or false");
        k->groups = strcmp(val, "true") == 0;
        return 0;
    }
    return sf_error_set(err, SF_EUSAGE, "kafka stream option %s: unknown (shopflow.groups)", key);
}

static int take_settings(sf_kafka *k, sf_error *err)
{
    snprintf(k->group_prefix, sizeof k->group_prefix, "shopflow.%s", k->topic);
    k->groups = true;
    k->conf = calloc(k->opts.nextra ? k->opts.nextra : 1, sizeof *k->conf);
    if (!k->conf)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < k->opts.nextra; i++) {
        const char *kv = k->opts.extra[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return sf_error_set(err, SF_EUSAGE, "stream option '%s': say key=value", kv);
        size_t kn = (size_t)(eq - kv);
        char key[128];
        if (kn >= sizeof key)
            return sf_error_set(err, SF_EUSAGE, "stream option '%.40s...': key too long", kv);
        memcpy(key, kv, kn);
        key[kn] = '\0';
        for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
            if (strcmp(key, fixed[f]) == 0)
                return sf_error_set(err, SF_EUSAGE,
                                    "kafka stream option %s: set by shopflow (its guarantees "
                                    "depend on it); the brokers go in the location",
                                    key);
        if (strncmp(key, "shopflow.", 9) == 0) {
            int rc = own_setting(k, key, eq + 1, err);
            if (rc < 0)
                return rc;
            continue;
        }
        if (strcmp(key, "group.id") == 0 && snprintf(k->group_prefix, sizeof k->group_prefix, "%s",
                                                     eq + 1) >= (int)sizeof k->group_prefix)
            return sf_error_set(err, SF_EUSAGE, "group.id: too long");
        if (!(k->conf[k->nconf++] = strdup(kv)))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    return 0;
}

/* ---- opening ---------------------------------------------------------- */

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    sf_kafka *k = opaque;
    char q[600];
    if (code != RD_KAFKA_RESP_ERR__FATAL) {
        sf_logf(SF_LOG_WARN, "kafka_error", "topic=%s code=%s msg=%s", k->topic,
                rd_kafka_err2name(code), sf_logq(reason, q, sizeof q));
        return;
    }
    char why[512];
    rd_kafka_fatal_error(rk, why, sizeof why);
    sf_logf(SF_LOG_ERROR, "kafka_fatal", "topic=%s msg=%s", k->topic, sf_logq(why, q, sizeof q));
    pthread_mutex_lock(&k->mu);
    k->failed = true;
    snprintf(k->failure, sizeof k->failure,
             "kafka: the producer failed for good (%.300s); restart to recover", why);
    pthread_mutex_unlock(&k->mu);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static void *poller_main(void *arg)
{
    sf_kafka *k = arg;
    while (!atomic_load(&k->stopping))
        rd_kafka_poll(k->rk, 100);
    return NULL;
}

/* The topic's partition count into *n; SF_ENOENT when there is no such topic. */
static int topic_partitions(sf_kafka *k, uint32_t *n, sf_error *err)
{
    /* All topics: asking for this one alone lets a broker with
     * auto.create.topics.enable create it with its default partitions. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, SF_KAFKA_TIMEOUT_MS);
    if (e)
        return sf_error_set(err, SF_EIO, "kafka %s: no metadata in %d s: %s", k->brokers,
                            SF_KAFKA_TIMEOUT_MS / 1000, rd_kafka_err2str(e));
    int rc = SF_ENOENT;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, k->topic) != 0 || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            t->partition_cnt == 0)
            continue;
        if (t->err)
            rc =
                sf_error_set(err, SF_EIO, "kafka topic %s: %s", k->topic, rd_kafka_err2str(t->err));
        else if (t->partition_cnt > SF_STREAM_PARTITIONS_MAX)
            rc = sf_error_set(err, SF_EINVAL, "kafka topic %s has %d partitions; at most %d",
                              k->topic, t->partition_cnt, SF_STREAM_PARTITIONS_MAX);
        else
            *n = (uint32_t)t->partition_cnt, rc = 0;
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Learn the partition count. The topic is not created here: its partition
 * count, replication and min.insync.replicas are the operator's decisions
 * (docs/deploy.md), and a topic made by accident would hide a typo. */
static int find_topic(sf_kafka *k, sf_error *err)
{
    int rc = topic_partitions(k, &k->nparts, err);
    if (rc == SF_ENOENT)
        rc = sf_error_set(err, SF_ENOENT,
                          "kafka %s: no topic %s; create it first (kafka-topics.sh --create "
                          "--topic %s --partitions 8 --replication-factor 3 --config "
                          "min.insync.replicas=2)",
                          k->brokers, k->topic, k->topic);
    return rc;
}

static void kafka_close(sf_stream *s);

static int open_producer(sf_kafka *k, sf_error *err)
{
    rd_kafka_conf_t *c;
    int rc = sf_kafka_conf(k, false, NULL, &c, err);
    if (rc < 0)
        return rc;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, on_error);
    char msg[512];
    if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, msg, sizeof msg))) {
        rd_kafka_conf_destroy(c);
        return sf_error_set(err, SF_EUSAGE, "kafka: %s", msg);
    }
    if (pthread_create(&k->poller, NULL, poller_main, k) != 0)
        return sf_error_set(err, SF_ENOMEM, "cannot start the kafka poll thread");
    k->poller_started = true;
    return 0;
}

static int kafka_open(const sf_location *loc, const sf_stream_opts *opts, sf_stream **out,
                      sf_error *err)
{
    const char *location = loc->rest;
    extern const sf_stream_ops sf_stream_kafka_ops;
    sf_kafka *k = calloc(1, sizeof *k);
    if (!k)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    k->base.ops = &sf_stream_kafka_ops;
    if (opts)
        k->opts = *opts;
    if (!k->opts.queue_bytes)
        k->opts.queue_bytes = QUEUE_BYTES_DEFAULT;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->readers_mu, NULL);
    int rc = parse_location(k, location, err);
    if (rc == 0)
        rc = take_settings(k, err);
    k->opts.extra = NULL; /* borrowed: take_settings copied them */
    k->opts.nextra = 0;
    if (rc == 0)
        rc = open_producer(k, err);
    if (rc == 0)
        rc = find_topic(k, err);
    /* Only now: a topic handle makes the producer ask for the topic's
     * metadata, and a broker that creates topics on demand would create
     * it with its default partition count. */
    if (rc == 0 && !(k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL)))
        rc = sf_error_set(err, SF_EINVAL, "kafka topic %s: %s", k->topic,
                          rd_kafka_err2str(rd_kafka_last_error()));
    if (rc < 0) {
        kafka_close(&k->base);
        return rc;
    }
    *out = &k->base;
    return 0;
}

/* ---- appending -------------------------------------------------------- */

/* Every report of an append is in: count it, call back, free it. */
static void finish(pending *pd)
{
    sf_kafka *k = pd->k;
    char msg[SF_ERROR_MSG_MAX] = "";
    int status = 0;
    pthread_mutex_lock(&k->mu);
    if (pd->failed) {
        size_t maybe = pd->doubt + (pd->n - pd->failed);
        if (maybe) {
            status = SF_EFAILED;
            snprintf(msg, sizeof msg,
                     "kafka topic %s: %zu of %zu records not acknowledged (%s) and %zu may be "
                     "stored: appends are refused until a restart, which rebuilds the event-id "
                     "window from the topic (then retrying with the same event ids is safe)",
                     k->topic, pd->failed, pd->n, pd->why, maybe);
            if (!k->failed)
                snprintf(k->failure, sizeof k->failure, "%s", msg);
            k->failed = true;
        } else {
            status = pd->busy ? SF_EBUSY : SF_EIO;
            snprintf(msg, sizeof msg,
                     "kafka topic %s: %zu records not written (%s); none of them is stored",
                     k->topic, pd->n, pd->why);
        }
        k->stats.failures++;
    } else {
        k->stats.appends++;
        k->stats.records += pd->n;
        k->stats.bytes += pd->bytes;
        sf_stream_stats_latency(&k->stats, now_s() - pd->started);
    }
    k->inflight_bytes -= pd->bytes;
    k->inflight_appends--;
    pthread_mutex_unlock(&k->mu);
    if (status) {
        char q[SF_ERROR_MSG_MAX + 64];
        sf_logf(SF_LOG_ERROR, "kafka_append_failed", "topic=%s records=%zu msg=%s", k->topic, pd->n,
                sf_logq(msg, q, sizeof q));
    }
    pd->done(pd->ctx, status, pd->parts, pd->positions, status ? msg : NULL);
    free(pd);
}

static void release(pending *pd, size_t reports)
{
    if (atomic_fetch_sub(&pd->left, reports) == reports)
        finish(pd);
}

static void note_failure(pending *pd, size_t records, bool doubt, bool busy, const char *why)
{
    pthread_mutex_lock(&pd->k->mu);
    pd->failed += records;
    pd->doubt += doubt ? records : 0;
    pd->busy |= busy;
    if (!pd->why[0])
        snprintf(pd->why, sizeof pd->why, "%s", why);
    pthread_mutex_unlock(&pd->k->mu);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    slot *sl = m->_private;
    pending *pd = sl->owner;
    if (m->err)
        note_failure(pd, 1, rd_kafka_message_status(m) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED, false,
                     rd_kafka_err2str(m->err));
    else
        sf_pos_from_u64(&pd->positions[sl->i], (uint64_t)m->offset);
    release(pd, 1);
}

/* Check every record and find its partition before queueing any. */
static pending *prepare(sf_kafka *k, const uint8_t *data, const uint32_t *lens, size_t n,
                        sf_error *err)
{
    pending *pd = calloc(1, sizeof *pd + n * (sizeof(slot) + sizeof(uint32_t) + sizeof(sf_pos)));
    if (!pd) {
        sf_error_set(err, SF_ENOMEM, "out of memory queueing %zu records", n);
        return NULL;
    }
    pd->parts = (uint32_t *)(pd->slots + n);
    pd->positions = (sf_pos *)(pd->parts + n); /* bytes only: no alignment */
    pd->k = k;
    pd->n = n;
    for (size_t i = 0, at = 0; i < n; at += lens[i], i++) {
        const char *ev, *inv;
        size_t evn, invn;
        if (lens[i] > SF_PACK_MAX ||
            sf_packed_keys(data + at, lens[i], &ev, &evn, &inv, &invn) < 0) {
            free(pd);
            sf_error_set(err, SF_EINVAL, "record %zu is not a packed record", i);
            return NULL;
        }
        pd->parts[i] = sf_stream_partition_of(inv, invn, k->nparts);
        pd->slots[i] = (slot){pd, i};
        pd->bytes += lens[i];
    }
    return pd;
}

static int admit(sf_kafka *k, pending *pd, sf_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&k->mu);
    if (k->failed)
        rc = sf_error_set(err, SF_EFAILED, "%s", k->failure);
    else if (k->closing)
        rc = sf_error_set(err, SF_EFAILED, "kafka topic %s: the stream is closing", k->topic);
    else if (k->inflight_bytes && k->inflight_bytes + pd->bytes > k->opts.queue_bytes)
        rc = sf_error_set(err, SF_EBUSY,
                          "kafka topic %s: %llu bytes wait for acknowledgements (the cluster is "
                          "slow or down)",
                          k->topic, (unsigned long long)k->inflight_bytes);
    if (rc == 0) {
        k->inflight_bytes += pd->bytes;
        k->inflight_appends++;
    }
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static int kafka_append(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                        sf_append_done done, void *ctx, sf_error *err)
{
    sf_kafka *k = (sf_kafka *)s;
    if (k->opts.read_only)
        return sf_error_set(err, SF_EINVAL, "kafka topic %s: opened read-only", k->topic);
    if (n == 0) { /* nothing to wait for: done now, on the caller's thread */
        done(ctx, 0, NULL, NULL, NULL);
        return 0;
    }
    pending *pd = prepare(k, data, lens, n, err);
    if (!pd)
        return err ? err->code : SF_EINVAL;
    int rc = admit(k, pd, err);
    if (rc < 0) {
        free(pd);
        return rc;
    }
    pd->done = done;
    pd->ctx = ctx;
    pd->started = now_s();
    atomic_store(&pd->left, n + 1);
    size_t at = 0, i = 0;
    for (; i < n; at += lens[i], i++) {
        const char *ev, *inv;
        size_t evn, invn;
        sf_packed_keys(data + at, lens[i], &ev, &evn, &inv, &invn);
        if (rd_kafka_produce(k->rkt, (int32_t)pd->parts[i], RD_KAFKA_MSG_F_COPY,
                             (void *)(data + at), lens[i], inv, invn, &pd->slots[i]) != 0)
            break;
    }
    if (i < n) { /* records i.. were not queued: they are not stored */
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        note_failure(pd, n - i, false, e == RD_KAFKA_RESP_ERR__QUEUE_FULL, rd_kafka_err2str(e));
        release(pd, n - i);
    }
    release(pd, 1); /* queueing is over */
    return 0;
}

/* ---- the rest --------------------------------------------------------- */

static uint32_t kafka_partitions(const sf_stream *s)
{
    return ((const sf_kafka *)s)->nparts;
}

static void kafka_stats(sf_stream *s, sf_stream_stats *out)
{
    sf_kafka *k = (sf_kafka *)s;
    pthread_mutex_lock(&k->mu);
    *out = k->stats;
    out->failed = k->failed;
    pthread_mutex_unlock(&k->mu);
}

/* Wait for the appends in flight; what the cluster has not acknowledged by
 * message.timeout.ms fails (its callbacks run with the failure). */
static void drain(sf_kafka *k)
{
    pthread_mutex_lock(&k->mu);
    k->closing = true;
    pthread_mutex_unlock(&k->mu);
    if (!k->rk)
        return;
    rd_kafka_flush(k->rk, 5 * 60 * 1000);
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    pthread_mutex_lock(&k->mu);
    while (k->inflight_appends) {
        pthread_mutex_unlock(&k->mu);
        rd_kafka_poll(k->rk, 100);
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
}

static void kafka_close(sf_stream *s)
{
    sf_kafka *k = (sf_kafka *)s;
    sf_kafka_readers_free(k);
    if (k->poller_started)
        drain(k);
    atomic_store(&k->stopping, true);
    if (k->poller_started)
        pthread_join(k->poller, NULL);
    if (k->rkt)
        rd_kafka_topic_destroy(k->rkt);
    if (k->rk)
        rd_kafka_destroy(k->rk);
    for (size_t i = 0; i < k->nconf; i++)
        free(k->conf[i]);
    free(k->conf);
    free(k->brokers);
    free(k->topic);
    pthread_mutex_destroy(&k->readers_mu);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

/* High watermark - position: an upper bound, for transactions' control
 * records and compaction leave offsets that hold no record. */
static int kafka_lag(sf_stream *s, uint32_t p, const sf_pos *from, sf_lag *out, sf_error *err)
{
    return sf_stream_offsets_lag(s, p, from, false, out, err);
}

const sf_stream_ops sf_stream_kafka_ops = {
    .open = kafka_open,
    .append_async = kafka_append,
    .read = sf_kafka_read,
    .partitions = kafka_partitions,
    .info = sf_kafka_info,
    .lag = kafka_lag,
    .tail_start = sf_stream_offsets_tail_start,
    .stats = kafka_stats,
    .close = kafka_close,
    .join = sf_kafka_join,
    .owned = sf_kafka_owned,
    .leave = sf_kafka_leave,
};
