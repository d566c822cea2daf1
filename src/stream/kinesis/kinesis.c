/*
 * kinesis.c - the Kinesis stream adapter: the stream port over a Kinesis
 * data stream, located by "kinesis://STREAM_NAME" (the account, region and
 * endpoint are the AWS settings: core/aws.h, AWS_ENDPOINT_URL_KINESIS).
 *
 * Opening: the shards are listed (shards.c; the stream created when
 * absent); an existing stream's shards are used as they are, closed ones
 * (a resharded stream) included: partitions are shards by number
 * (kinesis.h).
 *
 * Settings (--stream-opt key=value): in-flight=N (PutRecords calls on the
 * wire at once, 1-64, default 8), read-interval-ms=N (the least time between
 * two GetRecords of one shard by one reader, default 200: Kinesis allows 5
 * per second per shard), read-bytes-per-second=N (what one reader takes from
 * a shard at most, default 2,000,000: Kinesis's 2 MB/s; 0: no pacing, for
 * emulators and benchmarks), window-seconds=N (the event-id window's rebuild
 * reads records no older than this, default 86400: a day, Kinesis's default
 * retention), create=true|false; and the sinks' leases (lease.c):
 * lease-table=NAME|none (the DynamoDB table, default shopflow-leases; none:
 * no lease, one process per sink is then the operator's to keep),
 * lease-group=PREFIX (default shopflow.STREAM_NAME: a sink's lease is
 * PREFIX.SINK), lease-seconds=N (how long a lease lasts unrenewed, 3-600,
 * default 10), lease-wait=N (seconds a second process waits for a held
 * lease before it gives up, default 0).
 *
 * Appends: writer.c. Reads, info, lag, tail start: reader.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/logline.h"
#include "stream/kinesis/kinesis.h"

#define IN_FLIGHT_DEFAULT     8
#define READ_GAP_DEFAULT      200
#define READ_RATE_DEFAULT     2e6 /* bytes per second per shard: Kinesis's read limit */
#define WINDOW_DEFAULT        86400
#define LEASE_TABLE_DEFAULT   "shopflow-leases"
#define LEASE_SECONDS_DEFAULT 10

extern const sf_stream_ops sf_stream_kinesis_ops;

int sf_kinesis_client(sf_kinesis *k, unsigned in_flight, sf_aws **out, sf_error *err)
{
    sf_aws_opts o;
    sf_aws_opts_default(&o);
    o.max_in_flight = in_flight;
    o.max_retry_seconds = 30;
    return sf_aws_open(&k->cfg, &o, out, err);
}

/* ---- settings ---- */

static int parse_name(sf_kinesis *k, const char *rest, sf_error *err)
{
    const char *name = strncmp(rest, "//", 2) == 0 ? rest + 2 : rest;
    size_t n = strlen(name);
    if (n == 0 || n > SF_KINESIS_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return sf_error_set(err, SF_EUSAGE,
                            "kinesis:%s: say kinesis://STREAM_NAME (1 to 128 letters, digits, "
                            "'.', '_' or '-')",
                            rest);
    memcpy(k->name, name, n + 1);
    return 0;
}

static int number(const char *key, const char *v, unsigned long long lo, unsigned long long hi,
                  unsigned long long *out, sf_error *err)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return sf_error_set(err, SF_EUSAGE,
                            "kinesis stream option %s: a whole number from %llu to %llu", key, lo,
                            hi);
    *out = x;
    return 0;
}

/* A text setting: 1 to 255 of the characters DynamoDB names take. */
static int text(const char *key, const char *v, char *out, size_t cap, sf_error *err)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
        return sf_error_set(err, SF_EUSAGE,
                            "kinesis stream option %s: 1 to %zu letters, digits, '.', '_' or '-'",
                            key, cap - 1);
    memcpy(out, v, n + 1);
    return 0;
}

static int setting(sf_kinesis *k, const char *key, const char *v, bool *create, sf_error *err)
{
    unsigned long long x = 0;
    int rc = 0;
    if (strcmp(key, "in-flight") == 0) {
        if ((rc = number(key, v, 1, 64, &x, err)) == 0)
            k->in_flight = (unsigned)x;
    } else if (strcmp(key, "read-interval-ms") == 0) {
        if ((rc = number(key, v, 0, 10000, &x, err)) == 0)
            k->read_gap_ms = (unsigned)x;
    } else if (strcmp(key, "read-bytes-per-second") == 0) {
        if ((rc = number(key, v, 0, 1ull << 40, &x, err)) == 0)
            k->read_rate = (double)x;
    } else if (strcmp(key, "window-seconds") == 0) {
        if ((rc = number(key, v, 1, 365ull * 86400, &x, err)) == 0)
            k->window_seconds = x;
    } else if (strcmp(key, "create") == 0) {
        if (strcmp(v, "true") && strcmp(v, "false"))
            return sf_error_set(err, SF_EUSAGE, "kinesis stream option create: true or false");
        *create = strcmp(v, "true") == 0;
    } else if (strcmp(key, "lease-table") == 0) {
        rc = text(key, v, k->lease_table, sizeof k->lease_table, err);
    } else if (strcmp(key, "lease-group") == 0) {
        rc = text(key, v, k->lease_group, sizeof k->lease_group, err);
    } else if (strcmp(key, "lease-seconds") == 0) {
        if ((rc = number(key, v, 3, 600, &x, err)) == 0)
            k->lease_seconds = (unsigned)x;
    } else if (strcmp(key, "lease-wait") == 0) {
        if ((rc = number(key, v, 0, 3600, &x, err)) == 0)
            k->lease_wait = (unsigned)x;
    } else {
        rc = sf_error_set(err, SF_EUSAGE,
                          "kinesis stream option %s: unknown (in-flight, read-interval-ms, "
                          "read-bytes-per-second, window-seconds, create, lease-table, "
                          "lease-group, lease-seconds, lease-wait)",
                          key);
    }
    return rc;
}

static int take_settings(sf_kinesis *k, bool *create, sf_error *err)
{
    k->in_flight = IN_FLIGHT_DEFAULT;
    k->read_gap_ms = READ_GAP_DEFAULT;
    k->read_rate = READ_RATE_DEFAULT;
    k->window_seconds = WINDOW_DEFAULT;
    k->lease_seconds = LEASE_SECONDS_DEFAULT;
    snprintf(k->lease_table, sizeof k->lease_table, "%s", LEASE_TABLE_DEFAULT);
    snprintf(k->lease_group, sizeof k->lease_group, "shopflow.%s", k->name);
    *create = true;
    for (size_t i = 0; i < k->opts.nextra; i++) {
        const char *kv = k->opts.extra[i], *eq = strchr(kv, '=');
        char key[64];
        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
            return sf_error_set(err, SF_EUSAGE, "stream option '%.60s': say key=value", kv);
        memcpy(key, kv, (size_t)(eq - kv));
        key[eq - kv] = '\0';
        int rc = setting(k, key, eq + 1, create, err);
        if (rc < 0)
            return rc;
    }
    k->opts.extra = NULL; /* borrowed */
    k->opts.nextra = 0;
    return 0;
}

/* ---- open and close ---- */

static void kinesis_close(sf_stream *s);

static int kinesis_open(const sf_location *loc, const sf_stream_opts *opts, sf_stream **out,
                        sf_error *err)
{
    sf_kinesis *k = calloc(1, sizeof *k);
    if (!k)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    k->base.ops = &sf_stream_kinesis_ops;
    k->opts = *opts;
    pthread_mutex_init(&k->mu, NULL);
    pthread_mutex_init(&k->ctl_mu, NULL);
    pthread_mutex_init(&k->readers_mu, NULL);
    pthread_mutex_init(&k->lease_mu, NULL);
    bool may_create;
    int rc = parse_name(k, loc->rest, err);
    if (rc == 0)
        rc = take_settings(k, &may_create, err);
    if (rc == 0)
        rc = sf_aws_config_load(&k->cfg, SF_AWS_KINESIS, err);
    if (rc == 0)
        rc = sf_kinesis_client(k, 1, &k->ctl, err);
    if (rc == 0)
        rc = sf_kinesis_find(k, may_create && !opts->read_only, err);
    if (rc == 0 && !opts->read_only)
        rc = sf_kinesis_writer_start(k, err);
    if (rc < 0) {
        kinesis_close(&k->base);
        return rc;
    }
    sf_logf(SF_LOG_DEBUG, "kinesis_opened", "stream=%s partitions=%u open=%zu endpoint=%s", k->name,
            sf_kinesis_nparts(k), k->nroutes, k->cfg.endpoint);
    *out = &k->base;
    return 0;
}

static void kinesis_close(sf_stream *s)
{
    sf_kinesis *k = (sf_kinesis *)s;
    sf_kinesis_writer_stop(k);
    sf_kinesis_leases_free(k);
    sf_kinesis_readers_free(k);
    sf_aws_close(k->ctl);
    sf_aws_config_free(&k->cfg);
    sf_kinesis_shards_free(k);
    pthread_mutex_destroy(&k->lease_mu);
    pthread_mutex_destroy(&k->readers_mu);
    pthread_mutex_destroy(&k->ctl_mu);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static uint32_t kinesis_partitions(const sf_stream *s)
{
    return sf_kinesis_nparts((const sf_kinesis *)s);
}

static void kinesis_stats(sf_stream *s, sf_stream_stats *out)
{
    sf_kinesis *k = (sf_kinesis *)s;
    pthread_mutex_lock(&k->mu);
    *out = k->stats;
    pthread_mutex_unlock(&k->mu);
    out->failed = sf_kinesis_writer_failed(k);
}

const sf_stream_ops sf_stream_kinesis_ops = {
    .open = kinesis_open,
    .append_async = sf_kinesis_append,
    .read = sf_kinesis_read,
    .partitions = kinesis_partitions,
    .info = sf_kinesis_info,
    .lag = sf_kinesis_lag,
    .tail_start = sf_kinesis_tail_start,
    .stats = kinesis_stats,
    .close = kinesis_close,
    .join = sf_kinesis_join,
    .leave = sf_kinesis_leave,
    .lineage = sf_kinesis_lineage,
};
