/*
 * s3.c - the "s3" object store: objects in an S3 bucket (or an S3-compatible
 * server) under an optional prefix, `--objects s3://BUCKET[/PREFIX]`.
 *
 * Every request goes through the AWS client (core/aws.h): signed by
 * libcurl's SigV4, several in flight, retried with backoff on 5xx, SlowDown
 * and connection errors. The port's guarantees come from S3's own: a PUT is
 * atomic and durable when it answers 200, and a re-put of a key replaces it,
 * so the archive's deterministic names keep it exactly-once. put_many puts
 * every chain's objects side by side (up to in-flight at once), and a
 * chain's next batch when the last PUT of its batch before has answered,
 * which is the port's order (a batch of a chain after the ones before it).
 *
 * Choices:
 *  - Addressing: path-style (/BUCKET/KEY) when an endpoint is set
 *    (AWS_ENDPOINT_URL[_S3]: MinIO, Ceph, s3rver), virtual-hosted
 *    (BUCKET.s3.REGION.amazonaws.com/KEY) on AWS; `path-style=true|false`
 *    overrides.
 *  - Size: one PUT per object, at most SF_S3_PUT_MAX bytes (512 MiB, well
 *    below S3's 5 GiB single-PUT limit); the archive's objects are a few
 *    MiB. No multipart upload.
 *  - The bucket: a writer's open makes it when it is absent (the port's
 *    "a writer's store is made"), and logs s3_bucket_created; `create=false`
 *    refuses instead. A reader's open of an absent bucket is SF_ENOENT.
 *  - Open lists one key (ListObjectsV2, max-keys=1): missing, wrong or
 *    expired credentials, a missing bucket and an endpoint that does not
 *    answer are reported there, at start (PROBE_ATTEMPTS tries), with AWS's
 *    code and message, not at the first put. Later requests ride out an
 *    outage of up to S3_RETRY_SECONDS (30 s) before failing.
 *  - del asks HEAD first: S3's DELETE answers 204 for a key that is not
 *    there, and the port promises SF_ENOENT.
 *  - One request at a time per handle is the port's rule; a mutex makes it
 *    so even when the archive's writer thread and the sink share a handle.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aws.h"
#include "core/logline.h"
#include "storage/objects/objects_adapter.h"

#define SF_S3_PUT_MAX (512u << 20)
#define S3_KEY_MAX    1024 /* S3's limit on a key, in bytes */
/* Tries of the request at open: an endpoint that does not answer is
 * reported at start within a second, not after the long retries of a put. */
#define PROBE_ATTEMPTS 4
/* No new try of a request starts later than this after its first. */
#define S3_RETRY_SECONDS 30

typedef struct s3_store {
    sf_objects base;
    sf_aws *aws;
    pthread_mutex_t mu;
    char bucket[64];
    char prefix[S3_KEY_MAX]; /* "" or "PREFIX/" */
    bool path_style;
    char where[S3_KEY_MAX + 80]; /* "s3://BUCKET/PREFIX", for messages */
} s3_store;

extern const sf_objects_ops sf_objects_s3_ops;

/* ---- settings ---- */

typedef struct s3_settings {
    int path_style; /* -1: automatic */
    bool create;
    unsigned in_flight;
} s3_settings;

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

static int parse_settings(const sf_location *loc, const sf_objects_opts *opts, s3_settings *s,
                          sf_error *err)
{
    *s = (s3_settings){-1, true, 8};
    for (size_t i = 0; i < opts->nextra; i++) {
        const char *kv = opts->extra[i], *eq = strchr(kv, '=');
        size_t kl = eq ? (size_t)(eq - kv) : strlen(kv);
        const char *v = eq ? eq + 1 : "";
        bool b = false;
        char *end;
        if (kl == 10 && strncmp(kv, "path-style", kl) == 0 && parse_bool(v, &b) == 0)
            s->path_style = b;
        else if (kl == 6 && strncmp(kv, "create", kl) == 0 && parse_bool(v, &b) == 0)
            s->create = b;
        else if (kl == 9 && strncmp(kv, "in-flight", kl) == 0 &&
                 (s->in_flight = (unsigned)strtoul(v, &end, 10)) >= 1 && s->in_flight <= 64 && *v &&
                 !*end)
            ;
        else
            return sf_error_set(err, SF_EUSAGE,
                                "%s: the s3 object store takes path-style=true|false, "
                                "create=true|false and in-flight=1..64, not '%s'",
                                loc->text, kv);
    }
    return 0;
}

/* "//BUCKET[/PREFIX]" into the store. */
static int parse_location(const sf_location *loc, s3_store *s, sf_error *err)
{
    const char *r = loc->rest;
    if (strncmp(r, "//", 2) != 0)
        return sf_error_set(err, SF_EUSAGE, "%s: an S3 location is s3://BUCKET[/PREFIX]",
                            loc->text);
    r += 2;
    size_t bl = strcspn(r, "/");
    if (bl < 3 || bl >= sizeof s->bucket ||
        strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl)
        return sf_error_set(err, SF_EUSAGE,
                            "%s: '%.*s' is not a bucket name (3 to 63 of a-z, 0-9, '.', '-')",
                            loc->text, (int)(bl < 80 ? bl : 80), r);
    memcpy(s->bucket, r, bl);
    const char *p = r + bl;
    while (*p == '/')
        p++;
    size_t pl = strlen(p);
    while (pl > 0 && p[pl - 1] == '/')
        pl--;
    if (pl + 2 > sizeof s->prefix || (pl && strstr(p, "..")))
        return sf_error_set(err, SF_EUSAGE, "%s: not a usable prefix", loc->text);
    snprintf(s->prefix, sizeof s->prefix, "%.*s%s", (int)pl, p, pl ? "/" : "");
    snprintf(s->where, sizeof s->where, "s3://%s%s%.*s", s->bucket, pl ? "/" : "", (int)pl, p);
    return 0;
}

/* ---- requests ---- */

/* One request's own text: path, query, resource, headers. */
typedef struct call {
    sf_aws_request rq;
    sf_buf path, query;
    char resource[S3_KEY_MAX + 96];
} call;

static void call_free(call *c)
{
    sf_buf_free(&c->path);
    sf_buf_free(&c->query);
    sf_buf_free(&c->rq.resp);
}

static bool bad_key(const char *key)
{
    return !*key || key[0] == '/' || strstr(key, "..") != NULL;
}

/* Aim c at the bucket, or at the object key (under the prefix) when key is
 * not NULL. */
static int aim(s3_store *s, call *c, const char *op, const char *method, const char *key,
               sf_error *err)
{
    memset(c, 0, sizeof *c);
    if (key && (bad_key(key) || strlen(s->prefix) + strlen(key) > S3_KEY_MAX))
        return sf_error_set(err, SF_EINVAL, "%s: '%s' is not an object key", s->where, key);
    if (s->path_style) {
        sf_buf_add(&c->path, "/", 1);
        sf_buf_puts(&c->path, s->bucket);
    } else
        c->rq.vhost = s->bucket;
    if (key) {
        sf_buf_add(&c->path, "/", 1);
        sf_aws_uri_encode(&c->path, s->prefix, strlen(s->prefix), true);
        sf_aws_uri_encode(&c->path, key, strlen(key), true);
        snprintf(c->resource, sizeof c->resource, "bucket %s, key %s%s", s->bucket, s->prefix, key);
    } else {
        sf_buf_add(&c->path, "/", 1);
        snprintf(c->resource, sizeof c->resource, "bucket %s", s->bucket);
    }
    if (sf_buf_failed(&c->path))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    c->rq.op = op;
    c->rq.method = method;
    c->rq.path = c->path.data;
    c->rq.resource = c->resource;
    return 0;
}

/* ListObjectsV2 of the store's prefix + sub, from token (NULL: the start). */
static int list_page(s3_store *s, call *c, const char *sub, const char *token, unsigned max_keys,
                     unsigned attempts, sf_error *err)
{
    int rc = aim(s, c, "ListObjectsV2", "GET", NULL, err);
    if (rc < 0)
        return rc;
    char prefix[2 * S3_KEY_MAX], max[16];
    snprintf(prefix, sizeof prefix, "%s%s", s->prefix, sub);
    snprintf(max, sizeof max, "%u", max_keys);
    sf_aws_param p[4] = {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", max}, {NULL, NULL}};
    size_t n = 3;
    if (token)
        p[n++] = (sf_aws_param){"continuation-token", token};
    sf_aws_query(&c->query, p, n);
    if (sf_buf_failed(&c->query))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    c->rq.query = c->query.data;
    c->rq.max_attempts = attempts;
    return sf_aws_call(s->aws, &c->rq, err);
}

static int create_bucket(s3_store *s, sf_error *err)
{
    call c;
    int rc = aim(s, &c, "CreateBucket", "PUT", NULL, err);
    char body[256];
    const char *region = sf_aws_config_of(s->aws)->region;
    if (rc == 0 && strcmp(region, "us-east-1") != 0) { /* us-east-1 takes no constraint */
        snprintf(body, sizeof body,
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                 region);
        c.rq.body = body;
        c.rq.body_len = strlen(body);
    }
    if (rc == 0)
        rc = sf_aws_call(s->aws, &c.rq, err);
    if (rc < 0 && strcmp(c.rq.code, "BucketAlreadyOwnedByYou") == 0)
        rc = 0;
    call_free(&c);
    if (rc == 0) {
        char q[S3_KEY_MAX + 96];
        sf_logf(SF_LOG_INFO, "s3_bucket_created", "bucket=%s region=%s endpoint=%s",
                sf_logq(s->bucket, q, sizeof q), region, sf_aws_config_of(s->aws)->endpoint);
    }
    return rc;
}

/* At open: the credentials work and the bucket is there (made if it may be). */
static int probe(s3_store *s, bool reader, bool create, sf_error *err)
{
    call c;
    int rc = list_page(s, &c, "", NULL, 1, PROBE_ATTEMPTS, err);
    bool no_bucket = rc == SF_ENOENT;
    call_free(&c);
    if (!no_bucket)
        return rc;
    if (reader)
        return sf_error_set(err, SF_ENOENT, "%s: no object store there (no bucket %s)", s->where,
                            s->bucket);
    if (!create)
        return sf_error_set(err, SF_ENOENT, "%s: bucket %s does not exist (create=false)", s->where,
                            s->bucket);
    return create_bucket(s, err);
}

static void s3_close(sf_objects *o)
{
    s3_store *s = (s3_store *)o;
    if (!s)
        return;
    sf_aws_close(s->aws);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int s3_open(const sf_location *loc, const sf_objects_opts *opts, sf_objects **out,
                   sf_error *err)
{
    s3_settings set;
    int rc = parse_settings(loc, opts, &set, err);
    if (rc < 0)
        return rc;
    s3_store *s = calloc(1, sizeof *s);
    if (!s)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    s->base.ops = &sf_objects_s3_ops;
    pthread_mutex_init(&s->mu, NULL);
    sf_aws_config cfg;
    rc = parse_location(loc, s, err);
    if (rc == 0 && (rc = sf_aws_config_load(&cfg, SF_AWS_S3, err)) == 0) {
        sf_aws_opts ao;
        sf_aws_opts_default(&ao);
        ao.max_in_flight = set.in_flight;
        /* Ride out a short outage inside a request; a longer one fails the
         * sink, which serve restarts (and a supervisor a lone `sink`). The
         * bound is also how long a stop can wait on a request that gets no
         * answer: serve's SIGTERM with S3 gone took 147 s with 120 here,
         * 54 s with 30 (the put under way, then the last flush's). */
        ao.max_attempts = 20;
        ao.max_retry_seconds = S3_RETRY_SECONDS;
        s->path_style = set.path_style >= 0 ? set.path_style : cfg.endpoint_from_env;
        rc = sf_aws_open(&cfg, &ao, &s->aws, err);
        sf_aws_config_free(&cfg);
    }
    if (rc == 0)
        rc = probe(s, opts->read_only, set.create, err);
    if (rc < 0) {
        s3_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

/* ---- the operations ---- */

static int s3_get(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err)
{
    s3_store *s = (s3_store *)o;
    call c;
    pthread_mutex_lock(&s->mu);
    int rc = aim(s, &c, "GetObject", "GET", key, err);
    if (rc == 0)
        rc = sf_aws_call(s->aws, &c.rq, err);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        if (sf_buf_failed(&c.rq.resp))
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        else if (!c.rq.resp.data)
            sf_buf_add(&c.rq.resp, "", 0); /* an empty object: still malloc'd */
        *data = sf_buf_take(&c.rq.resp, len);
        if (!*data)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    call_free(&c);
    return rc;
}

typedef struct put_run put_run;

typedef struct put_job {
    call c;
    const sf_object_put *put;
    put_run *run;
    size_t chain; /* its chain's index in run->chains */
} put_job;

/* Where one chain is: its jobs not yet sent start at next (up to end); of
 * the batch sent last, left are not done. */
typedef struct chain_at {
    size_t next, end, left;
} chain_at;

/* One put_many under way: its jobs sorted by chain, then batch. */
struct put_run {
    s3_store *s;
    put_job *jobs;
    chain_at *chains;
    int rc; /* the first failure, with err; nothing more is sent after one */
    sf_error err;
};

static int by_chain_batch(const void *a, const void *b)
{
    const sf_object_put *x = ((const put_job *)a)->put, *y = ((const put_job *)b)->put;
    if (x->chain != y->chain)
        return x->chain < y->chain ? -1 : 1;
    return (x->batch > y->batch) - (x->batch < y->batch);
}

static void put_done(sf_aws_request *rq, void *ctx);

/* Send the next batch of chain c (all its objects at once: the client keeps
 * at most in-flight of them, and of every chain's, running). */
static void send_batch(put_run *r, size_t c)
{
    chain_at *ch = &r->chains[c];
    size_t i = ch->next;
    if (r->rc < 0 || i == ch->end)
        return;
    while (ch->next < ch->end && r->jobs[ch->next].put->batch == r->jobs[i].put->batch)
        ch->next++;
    ch->left = ch->next - i;
    for (; i < ch->next && r->rc == 0; i++) {
        r->jobs[i].c.rq.done = put_done;
        r->jobs[i].c.rq.ctx = &r->jobs[i];
        r->rc = sf_aws_submit(r->s->aws, &r->jobs[i].c.rq, &r->err);
    }
}

/* A PUT is done: when it was the last of its chain's batch, the chain's
 * next batch may go, since every object before it is durable. */
static void put_done(sf_aws_request *rq, void *ctx)
{
    put_job *j = ctx;
    put_run *r = j->run;
    if (rq->rc != 0 && r->rc == 0) {
        r->rc = rq->rc;
        r->err = rq->err;
    }
    if (--r->chains[j->chain].left == 0)
        send_batch(r, j->chain);
}

/* Put jobs[0..n) (checked and sorted by chain, then batch): each chain's
 * batches one after the other, the chains side by side. Waiting for a
 * whole batch of every chain before the next (one slow PUT holding up all)
 * cost a third of the rate on s3rver (docs/benchmarks.md). */
static int put_chains(s3_store *s, put_job *jobs, size_t n, sf_error *err)
{
    put_run r = {s, jobs, calloc(n ? n : 1, sizeof *r.chains), 0, {0}};
    if (!r.chains)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    size_t nchains = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || jobs[i].put->chain != jobs[i - 1].put->chain)
            r.chains[nchains++].next = i;
        r.chains[nchains - 1].end = i + 1;
        jobs[i].run = &r;
        jobs[i].chain = nchains - 1;
    }
    for (size_t c = 0; c < nchains; c++)
        send_batch(&r, c);
    sf_error derr = {0};
    int drc = sf_aws_drain(s->aws, &derr);
    if (r.rc == 0 && drc < 0)
        r.rc = drc, r.err = derr;
    free(r.chains);
    if (r.rc < 0 && err)
        *err = r.err;
    return r.rc;
}

/* One line for a put_many that needed retries: S3 (or the network) had
 * trouble, and rode it out or not. */
static void log_retries(const s3_store *s, size_t n, const sf_aws_stats *a, const sf_aws_stats *b)
{
    if (b->retries == a->retries)
        return;
    char q[S3_KEY_MAX + 96];
    sf_logf(SF_LOG_INFO, "s3_retries",
            "where=%s objects=%zu retries=%llu throttled=%llu server=%llu network=%llu",
            sf_logq(s->where, q, sizeof q), n, (unsigned long long)(b->retries - a->retries),
            (unsigned long long)(b->retries_throttled - a->retries_throttled),
            (unsigned long long)(b->retries_server - a->retries_server),
            (unsigned long long)(b->retries_network - a->retries_network));
}

static int s3_put_many(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err)
{
    s3_store *s = (s3_store *)o;
    put_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int rc = 0;
    size_t made = 0;
    for (; made < n && rc == 0; made++) { /* every key checked before anything is put */
        jobs[made].put = &puts[made];
        rc = aim(s, &jobs[made].c, "PutObject", "PUT", puts[made].key, err);
        if (rc == 0 && puts[made].len > SF_S3_PUT_MAX)
            rc = sf_error_set(err, SF_EINVAL,
                              "%s: object %s is %zu bytes; one PUT takes at most %u (no "
                              "multipart upload here)",
                              s->where, puts[made].key, puts[made].len, SF_S3_PUT_MAX);
        jobs[made].c.rq.body = puts[made].data;
        jobs[made].c.rq.body_len = puts[made].len;
    }
    if (rc == 0) {
        qsort(jobs, n, sizeof *jobs, by_chain_batch);
        for (size_t i = 0; i < n; i++) /* qsort moved them: point at their own text again */
            jobs[i].c.rq.path = jobs[i].c.path.data, jobs[i].c.rq.resource = jobs[i].c.resource;
        pthread_mutex_lock(&s->mu);
        sf_aws_stats before, after;
        sf_aws_stats_get(s->aws, &before);
        rc = put_chains(s, jobs, n, err);
        sf_aws_stats_get(s->aws, &after);
        pthread_mutex_unlock(&s->mu);
        log_retries(s, n, &before, &after);
    }
    for (size_t i = 0; i < made; i++)
        call_free(&jobs[i].c);
    free(jobs);
    return rc;
}

static int s3_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err)
{
    sf_object_put p = {key, data, len, 0, 0};
    return s3_put_many(o, &p, 1, err);
}

/* Call fn for every key of one listing page; *token gets the next page's
 * token ("" when it was the last). 1 when fn asked to stop. */
static int each_key(s3_store *s, const sf_buf *xml, int (*fn)(void *ctx, const char *key),
                    void *ctx, sf_buf *token, sf_error *err)
{
    sf_buf k = SF_BUF_INIT;
    size_t pos = 0, pl = strlen(s->prefix);
    int rc, stop = 0;
    while (!stop && (rc = sf_aws_xml_text(xml->data, xml->len, "Key", &pos, &k)) == 1)
        if (k.len >= pl && strncmp(k.data, s->prefix, pl) == 0)
            stop = fn(ctx, k.data + pl) != 0;
    sf_buf_free(&k);
    if (!stop && rc < 0)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    pos = 0;
    sf_buf_reset(token);
    sf_buf truncated = SF_BUF_INIT;
    if (!stop && sf_aws_xml_text(xml->data, xml->len, "IsTruncated", &pos, &truncated) == 1 &&
        strcmp(truncated.data, "true") == 0) {
        pos = 0;
        if (sf_aws_xml_text(xml->data, xml->len, "NextContinuationToken", &pos, token) != 1 ||
            token->len == 0)
            stop = sf_error_set(err, SF_EFORMAT, "%s: a truncated listing without a next token",
                                s->where);
    }
    sf_buf_free(&truncated);
    return stop;
}

static int s3_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                   void *ctx, sf_error *err)
{
    s3_store *s = (s3_store *)o;
    sf_buf token = SF_BUF_INIT;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    do {
        call c;
        rc = list_page(s, &c, prefix, token.len ? token.data : NULL, 1000, 0, err);
        if (rc == 0)
            rc = each_key(s, &c.rq.resp, fn, ctx, &token, err);
        call_free(&c);
    } while (rc == 0 && token.len > 0);
    pthread_mutex_unlock(&s->mu);
    sf_buf_free(&token);
    return rc > 0 ? 0 : rc;
}

static int s3_del(sf_objects *o, const char *key, sf_error *err)
{
    s3_store *s = (s3_store *)o;
    call c;
    pthread_mutex_lock(&s->mu);
    int rc = aim(s, &c, "HeadObject", "HEAD", key, err);
    if (rc == 0)
        rc = sf_aws_call(s->aws, &c.rq, err);
    if (rc == SF_ENOENT)
        sf_error_set(err, SF_ENOENT, "%s: no object %s", s->where, key);
    if (rc == 0) {
        c.rq.op = "DeleteObject";
        c.rq.method = "DELETE";
        rc = sf_aws_call(s->aws, &c.rq, err);
    }
    pthread_mutex_unlock(&s->mu);
    call_free(&c);
    return rc;
}

const sf_objects_ops sf_objects_s3_ops = {
    .open = s3_open,
    .put = s3_put,
    .get = s3_get,
    .list = s3_list,
    .del = s3_del,
    .close = s3_close,
    .put_many = s3_put_many,
};
