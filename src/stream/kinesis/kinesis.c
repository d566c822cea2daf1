/*
 * kinesis.c - the Kinesis stream adapter: the stream port over a Kinesis
 * data stream, located by "kinesis://STREAM_NAME" (the account, region and
 * endpoint are the AWS settings: core/aws.h, AWS_ENDPOINT_URL_KINESIS).
 *
 * Opening. DescribeStream tells the stream's status and shards. A stream
 * that does not exist is created by a writer's open with --partitions
 * shards (CreateStream), waited for until ACTIVE, and logged
 * (kinesis_stream_created); a reader's open refuses instead, as does a
 * writer's with create=false. An existing stream's shard count is used as
 * it is. The partitions are its open shards ordered by starting hash key
 * (kinesis.h). A stream that was resharded (it has closed shards) is
 * refused with a message saying so: shopflow's partitions are fixed, and
 * following a split or merge (a parent finished before its children) is
 * not done yet.
 *
 * Settings (--stream-opt key=value): in-flight=N (PutRecords calls on the
 * wire at once, 1-64, default 8), read-interval-ms=N (the least time between
 * two GetRecords of one shard by one reader, default 200: Kinesis allows 5
 * per second per shard), read-bytes-per-second=N (what one reader takes from
 * a shard at most, default 2,000,000: Kinesis's 2 MB/s; 0: no pacing, for
 * emulators and benchmarks), window-seconds=N (the event-id window's rebuild
 * reads records no older than this, default 86400: a day, Kinesis's default
 * retention), create=true|false.
 *
 * Appends: writer.c. Reads, info, lag, tail start: reader.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "stream/kinesis/kinesis.h"

#define IN_FLIGHT_DEFAULT   8
#define READ_GAP_DEFAULT    200
#define READ_RATE_DEFAULT   2e6 /* bytes per second per shard: Kinesis's read limit */
#define WINDOW_DEFAULT      86400
#define ACTIVE_WAIT_SECONDS 300 /* CreateStream takes ~30 s on AWS */

extern const sf_stream_ops sf_stream_kinesis_ops;

int sf_kinesis_client(sf_kinesis *k, unsigned in_flight, sf_aws **out, sf_error *err)
{
    sf_aws_opts o;
    sf_aws_opts_default(&o);
    o.max_in_flight = in_flight;
    o.max_retry_seconds = 30;
    return sf_aws_open(&k->cfg, &o, out, err);
}

void sf_kinesis_saw(sf_kinesis *k, uint32_t p, const sf_pos *end)
{
    pthread_mutex_lock(&k->mu);
    if (sf_pos_cmp(end, &k->seen_end[p]) > 0)
        k->seen_end[p] = *end;
    pthread_mutex_unlock(&k->mu);
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
    } else {
        rc = sf_error_set(err, SF_EUSAGE,
                          "kinesis stream option %s: unknown (in-flight, read-interval-ms, "
                          "read-bytes-per-second, window-seconds, create)",
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

/* ---- the stream's shards ---- */

typedef struct described {
    char status[32];
    kshard *open; /* the open shards, in the order DescribeStream gives */
    size_t nopen, closed;
} described;

static int hash_cmp(const void *a, const void *b)
{
    const kshard *x = a, *y = b;
    size_t lx = strlen(x->start_hash), ly = strlen(y->start_hash);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->start_hash, y->start_hash);
}

/* Add the shards of one DescribeStream page to d; *more and *last for the next. */
static int take_shards(sf_kinesis *k, yajl_val doc, described *d, bool *more, char *last,
                       sf_error *err)
{
    static const char *const status_p[] = {"StreamDescription", "StreamStatus", NULL};
    static const char *const shards_p[] = {"StreamDescription", "Shards", NULL};
    static const char *const more_p[] = {"StreamDescription", "HasMoreShards", NULL};
    static const char *const id_p[] = {"ShardId", NULL};
    static const char *const hash_p[] = {"HashKeyRange", "StartingHashKey", NULL};
    static const char *const first_p[] = {"SequenceNumberRange", "StartingSequenceNumber", NULL};
    static const char *const end_p[] = {"SequenceNumberRange", "EndingSequenceNumber", NULL};
    const char *status = sf_kinesis_str(doc, status_p);
    snprintf(d->status, sizeof d->status, "%s", status ? status : "");
    yajl_val shards = sf_kinesis_array(doc, shards_p);
    *more = YAJL_IS_TRUE(yajl_tree_get(doc, (const char **)more_p, yajl_t_any));
    size_t n = shards ? YAJL_GET_ARRAY(shards)->len : 0;
    kshard *grown = realloc(d->open, (d->nopen + n + 1) * sizeof *grown);
    if (!grown)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    d->open = grown;
    for (size_t i = 0; i < n; i++) {
        yajl_val s = YAJL_GET_ARRAY(shards)->values[i];
        const char *id = sf_kinesis_str(s, id_p), *hash = sf_kinesis_str(s, hash_p);
        const char *first = sf_kinesis_str(s, first_p);
        if (!id || !hash || !first || strlen(id) >= SF_KINESIS_SHARD_MAX ||
            strlen(hash) >= SF_KINESIS_HASH_MAX)
            return sf_error_set(err, SF_EIO,
                                "kinesis stream %s: DescribeStream gave a shard "
                                "without an id, hash key range or sequence number range",
                                k->name);
        snprintf(last, SF_KINESIS_SHARD_MAX, "%s", id);
        if (sf_kinesis_str(s, end_p)) {
            d->closed++;
            continue;
        }
        kshard *o = &d->open[d->nopen++];
        snprintf(o->id, sizeof o->id, "%s", id);
        snprintf(o->start_hash, sizeof o->start_hash, "%s", hash);
        int rc = sf_pos_parse(first, strlen(first), &o->first, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* DescribeStream, every page. SF_ENOENT when there is no such stream. */
static int describe(sf_kinesis *k, described *d, sf_error *err)
{
    char last[SF_KINESIS_SHARD_MAX] = "";
    bool more = true;
    int rc = 0;
    free(d->open);
    memset(d, 0, sizeof *d);
    while (rc == 0 && more) {
        sf_buf body = SF_BUF_INIT;
        sf_buf_puts(&body, "{\"StreamName\":");
        sf_buf_json_string(&body, k->name, strlen(k->name));
        if (last[0]) {
            sf_buf_puts(&body, ",\"ExclusiveStartShardId\":");
            sf_buf_json_string(&body, last, strlen(last));
        }
        sf_buf_puts(&body, "}");
        sf_aws_request rq = {
            .op = "DescribeStream", .resource = k->name, .body = body.data, .body_len = body.len};
        rc = sf_aws_call(k->ctl, &rq, err);
        yajl_val doc = rc == 0 ? sf_kinesis_parse(&rq.resp, "DescribeStream", err) : NULL;
        if (rc == 0 && !doc)
            rc = err->code;
        if (rc == 0)
            rc = take_shards(k, doc, d, &more, last, err);
        yajl_tree_free(doc);
        sf_buf_free(&rq.resp);
        sf_buf_free(&body);
    }
    return rc;
}

static int create(sf_kinesis *k, uint32_t shards, sf_error *err)
{
    sf_buf body = SF_BUF_INIT;
    sf_buf_puts(&body, "{\"StreamName\":");
    sf_buf_json_string(&body, k->name, strlen(k->name));
    sf_buf_printf(&body, ",\"ShardCount\":%u}", shards);
    sf_aws_request rq = {.op = "CreateStream",
                         .resource = k->name,
                         .body = body.data,
                         .body_len = body.len,
                         .final_codes = "LimitExceededException"};
    int rc = sf_aws_call(k->ctl, &rq, err);
    if (rc == SF_EBUSY) /* ResourceInUseException: another process made it meanwhile */
        rc = 0;
    else if (rc == 0)
        sf_logf(SF_LOG_INFO, "kinesis_stream_created", "stream=%s shards=%u region=%s", k->name,
                shards, k->cfg.region);
    sf_buf_free(&rq.resp);
    sf_buf_free(&body);
    return rc;
}

/* Describe the stream, creating it when absent, until it is ACTIVE. */
static int find_stream(sf_kinesis *k, bool may_create, described *d, sf_error *err)
{
    int rc = describe(k, d, err);
    if (rc == SF_ENOENT && may_create) {
        uint32_t n = k->opts.partitions ? k->opts.partitions : SF_STREAM_PARTITIONS_DEFAULT;
        if ((rc = create(k, n, err)) == 0)
            rc = describe(k, d, err);
    } else if (rc == SF_ENOENT) {
        return sf_error_set(err, SF_ENOENT,
                            "kinesis stream %s does not exist (in %s at %s); a writer "
                            "(serve, import) creates it, or `aws kinesis create-stream`",
                            k->name, k->cfg.region, k->cfg.endpoint);
    }
    struct timespec nap = {0, 100 * 1000 * 1000};
    for (int i = 0; rc == 0 && strcmp(d->status, "ACTIVE") && strcmp(d->status, "UPDATING"); i++) {
        if (strcmp(d->status, "CREATING") || i >= ACTIVE_WAIT_SECONDS * 10)
            return sf_error_set(err, SF_EIO, "kinesis stream %s is %s%s", k->name, d->status,
                                strcmp(d->status, "CREATING") ? "" : " after 5 minutes");
        nanosleep(&nap, NULL);
        rc = describe(k, d, err);
    }
    return rc;
}

static int take_partitions(sf_kinesis *k, described *d, sf_error *err)
{
    if (d->closed)
        return sf_error_set(
            err, SF_EINVAL,
            "kinesis stream %s was resharded (%zu closed and %zu open shards): shopflow reads a "
            "stream's shards as fixed partitions and does not follow a split or merge yet. Let "
            "the sinks finish the stream as it was before resharding, or start on a new stream",
            k->name, d->closed, d->nopen);
    if (d->nopen == 0 || d->nopen > SF_STREAM_PARTITIONS_MAX)
        return sf_error_set(err, SF_EINVAL, "kinesis stream %s has %zu open shards; 1 to %d work",
                            k->name, d->nopen, SF_STREAM_PARTITIONS_MAX);
    qsort(d->open, d->nopen, sizeof *d->open, hash_cmp);
    k->shards = d->open;
    d->open = NULL;
    k->nparts = (uint32_t)d->nopen;
    if (!(k->seen_end = calloc(k->nparts, sizeof *k->seen_end)) ||
        !(k->end_asked = calloc(k->nparts, sizeof *k->end_asked)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; p < k->nparts; p++)
        k->seen_end[p] = k->shards[p].first;
    return 0;
}

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
    bool may_create;
    described d = {0};
    int rc = parse_name(k, loc->rest, err);
    if (rc == 0)
        rc = take_settings(k, &may_create, err);
    if (rc == 0)
        rc = sf_aws_config_load(&k->cfg, SF_AWS_KINESIS, err);
    if (rc == 0)
        rc = sf_kinesis_client(k, 1, &k->ctl, err);
    if (rc == 0)
        rc = find_stream(k, may_create && !opts->read_only, &d, err);
    if (rc == 0)
        rc = take_partitions(k, &d, err);
    free(d.open);
    if (rc == 0 && !opts->read_only)
        rc = sf_kinesis_writer_start(k, err);
    if (rc < 0) {
        kinesis_close(&k->base);
        return rc;
    }
    sf_logf(SF_LOG_DEBUG, "kinesis_opened", "stream=%s shards=%u endpoint=%s", k->name, k->nparts,
            k->cfg.endpoint);
    *out = &k->base;
    return 0;
}

static void kinesis_close(sf_stream *s)
{
    sf_kinesis *k = (sf_kinesis *)s;
    sf_kinesis_writer_stop(k);
    sf_kinesis_readers_free(k);
    sf_aws_close(k->ctl);
    sf_aws_config_free(&k->cfg);
    free(k->shards);
    free(k->seen_end);
    free(k->end_asked);
    pthread_mutex_destroy(&k->readers_mu);
    pthread_mutex_destroy(&k->ctl_mu);
    pthread_mutex_destroy(&k->mu);
    free(k);
}

static uint32_t kinesis_partitions(const sf_stream *s)
{
    return ((const sf_kinesis *)s)->nparts;
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
};
