/*
 * shards.c - the Kinesis adapter's table of shards, and how it follows a
 * reshard (kinesis.h says what a partition is).
 *
 * At open, DescribeStream (every page) lists the stream's shards, open and
 * closed; a stream that does not exist is created by a writer's open with
 * --partitions shards (CreateStream), waited for until ACTIVE, and logged
 * (kinesis_stream_created); a reader's open refuses instead, as does a
 * writer's with create=false. Partition p is shard number p; numbers no
 * listed shard has are closed, gone partitions.
 *
 * Listing again (sf_kinesis_refresh) is how a running process learns of a
 * reshard: a reader that reaches the end of a shard its table says is open
 * (GetRecords gives no NextShardIterator), or is told of child shards, and
 * the writer when Kinesis answers with a shard it does not know (a record
 * put towards a closed shard lands in the child covering its hash key).
 * New shards are added to the table (sf_stream_partitions grows), closed
 * ones marked with their end, and the routes of new records remade from
 * the open shards; nothing already in the table moves, so other threads
 * read it without a lock (kinesis.h). Each change is logged
 * (kinesis_resharded). A listing is made at most once a second unless
 * forced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "core/logline.h"
#include "stream/kinesis/kinesis.h"

#define ACTIVE_WAIT_SECONDS 300 /* CreateStream takes ~30 s on AWS */
#define REFRESH_GAP         1.0 /* seconds between two listings, unless forced */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- hash keys and shard ids ---- */

khash sf_kinesis_hash(const char *invoice, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(invoice, len);
    return (khash)h.high64 << 64 | h.low64;
}

void sf_kinesis_hash_text(khash h, char out[40])
{
    /* 19 digits at a time (three 128-bit divisions), each written by hand:
     * the writer does this for every record it sends. */
    const uint64_t e19 = 10000000000000000000ull;
    uint64_t part[3] = {(uint64_t)(h % e19), (uint64_t)(h / e19 % e19), (uint64_t)(h / e19 / e19)};
    int top = part[2] ? 2 : part[1] ? 1 : 0;
    char tmp[40], *p = tmp + sizeof tmp;
    for (int i = 0; i <= top; i++) {
        int digits = 0;
        for (uint64_t v = part[i]; v || digits == 0; v /= 10, digits++)
            *--p = (char)('0' + (int)(v % 10));
        while (i < top && digits++ < 19)
            *--p = '0';
    }
    size_t n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A hash key's decimal text (0 to 2^128 - 1). */
static bool parse_hash(const char *s, khash *out)
{
    khash v = 0, max = ~(khash)0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (khash)(*s - '0')) / 10)
            return false;
        v = v * 10 + (khash)(*s - '0');
    }
    *out = v;
    return true;
}

int32_t sf_kinesis_shard_number(const char *id)
{
    if (!id || strncmp(id, "shardId-", 8) != 0)
        return -1;
    const char *d = id + 8;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || d[n] || n > 12)
        return -1;
    long v = strtol(d, NULL, 10);
    return v < SF_STREAM_PARTITIONS_MAX ? (int32_t)v : -1;
}

uint32_t sf_kinesis_route(const sf_kinesis *k, khash h)
{
    size_t lo = 0, hi = k->nroutes;
    while (lo < hi) { /* the first route whose range ends at or after h */
        size_t mid = (lo + hi) / 2;
        if (k->routes[mid].hi < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k->nroutes && k->routes[lo].lo <= h ? k->routes[lo].p : UINT32_MAX;
}

/* ---- a listing ---- */

typedef struct listed {
    char id[SF_KINESIS_SHARD_MAX];
    int32_t number, parents[2];
    khash lo, hi;
    sf_pos first;
    bool closed;
    sf_pos end; /* EndingSequenceNumber + 1 */
} listed;

typedef struct listing {
    char status[32];
    listed *s;
    size_t n;
} listing;

/* A shard id of a shard listed as a parent: its number, -1 when none. */
static int parent_of(yajl_val s, const char *key, int32_t *out)
{
    const char *path[] = {key, NULL};
    const char *id = sf_kinesis_str(s, path);
    *out = id ? sf_kinesis_shard_number(id) : -1;
    return id && *out < 0 ? -1 : 0;
}

/* One shard of a DescribeStream answer into l. */
static int take_shard(sf_kinesis *k, yajl_val s, listed *l, sf_error *err)
{
    static const char *const id_p[] = {"ShardId", NULL};
    static const char *const lo_p[] = {"HashKeyRange", "StartingHashKey", NULL};
    static const char *const hi_p[] = {"HashKeyRange", "EndingHashKey", NULL};
    static const char *const first_p[] = {"SequenceNumberRange", "StartingSequenceNumber", NULL};
    static const char *const end_p[] = {"SequenceNumberRange", "EndingSequenceNumber", NULL};
    const char *id = sf_kinesis_str(s, id_p), *lo = sf_kinesis_str(s, lo_p);
    const char *hi = sf_kinesis_str(s, hi_p), *first = sf_kinesis_str(s, first_p);
    const char *end = sf_kinesis_str(s, end_p);
    memset(l, 0, sizeof *l);
    if (!id || !lo || !hi || !first || !parse_hash(lo, &l->lo) || !parse_hash(hi, &l->hi) ||
        sf_pos_parse(first, strlen(first), &l->first, NULL) < 0 ||
        (end && sf_pos_parse(end, strlen(end), &l->end, NULL) < 0))
        return sf_error_set(err, SF_EIO,
                            "kinesis stream %s: DescribeStream gave a shard without an id, hash "
                            "key range or sequence number range",
                            k->name);
    l->number = sf_kinesis_shard_number(id);
    if (l->number < 0 || parent_of(s, "ParentShardId", &l->parents[0]) < 0 ||
        parent_of(s, "AdjacentParentShardId", &l->parents[1]) < 0)
        return sf_error_set(err, SF_EINVAL,
                            "kinesis stream %s: shard %.40s (or its parent): shopflow numbers its "
                            "partitions by shard ids of the form shardId-NNNNNNNNNNNN, below %d "
                            "(each split uses two numbers, each merge one); start on a new stream",
                            k->name, id, SF_STREAM_PARTITIONS_MAX);
    snprintf(l->id, sizeof l->id, "%s", id);
    l->closed = end != NULL;
    if (l->closed)
        sf_pos_add_one(&l->end, NULL);
    return 0;
}

/* Add the shards of one DescribeStream page to l; *more and *last for the
 * next page. */
static int take_page(sf_kinesis *k, yajl_val doc, listing *l, bool *more, char *last, sf_error *err)
{
    static const char *const status_p[] = {"StreamDescription", "StreamStatus", NULL};
    static const char *const shards_p[] = {"StreamDescription", "Shards", NULL};
    static const char *const more_p[] = {"StreamDescription", "HasMoreShards", NULL};
    const char *status = sf_kinesis_str(doc, status_p);
    snprintf(l->status, sizeof l->status, "%s", status ? status : "");
    yajl_val shards = sf_kinesis_array(doc, shards_p);
    *more = YAJL_IS_TRUE(yajl_tree_get(doc, (const char **)more_p, yajl_t_any));
    size_t n = shards ? YAJL_GET_ARRAY(shards)->len : 0;
    listed *grown = realloc(l->s, (l->n + n + 1) * sizeof *grown);
    if (!grown)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    l->s = grown;
    for (size_t i = 0; i < n; i++) {
        int rc = take_shard(k, YAJL_GET_ARRAY(shards)->values[i], &l->s[l->n], err);
        if (rc < 0)
            return rc;
        snprintf(last, SF_KINESIS_SHARD_MAX, "%s", l->s[l->n++].id);
    }
    *more = *more && n > 0;
    return 0;
}

/* DescribeStream, every page, with the control client (caller holds
 * ctl_mu). SF_ENOENT when there is no such stream. */
static int describe(sf_kinesis *k, listing *l, sf_error *err)
{
    char last[SF_KINESIS_SHARD_MAX] = "";
    bool more = true;
    int rc = 0;
    free(l->s);
    memset(l, 0, sizeof *l);
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
            rc = take_page(k, doc, l, &more, last, err);
        yajl_tree_free(doc);
        sf_buf_free(&rq.resp);
        sf_buf_free(&body);
    }
    return rc;
}

/* ---- the table ---- */

static int route_cmp(const void *a, const void *b)
{
    const kroute *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The routes from the open shards (caller holds mu). */
static int remake_routes(sf_kinesis *k, uint32_t nparts, sf_error *err)
{
    size_t n = 0;
    kroute *r = malloc((nparts ? nparts : 1) * sizeof *r);
    if (!r)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; p < nparts; p++)
        if (!k->shard[p]->closed)
            r[n++] = (kroute){k->shard[p]->lo, k->shard[p]->hi, p};
    qsort(r, n, sizeof *r, route_cmp);
    free(k->routes);
    k->routes = r;
    k->nroutes = n;
    return 0;
}

/* A new entry of the table: shard l, or (l NULL) a number no shard has. */
static kshard *entry_of(const listed *l)
{
    kshard *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->parents[0] = e->parents[1] = -1;
    e->closed = true; /* a gap, until filled from l */
    if (l) {
        snprintf(e->id, sizeof e->id, "%s", l->id);
        e->listed = true;
        e->lo = l->lo, e->hi = l->hi;
        e->first = e->seen_end = l->first;
        e->parents[0] = l->parents[0], e->parents[1] = l->parents[1];
        e->closed = l->closed;
        e->end = l->end;
    }
    return e;
}

/* Say what changed: shards that closed and shards that came. */
static void log_change(sf_kinesis *k, uint32_t was, uint32_t now, const char *closed)
{
    char opened[256] = "";
    size_t at = 0;
    for (uint32_t p = was; p < now && at + 16 < sizeof opened; p++)
        if (k->shard[p]->listed)
            at += (size_t)snprintf(opened + at, sizeof opened - at, "%s%u", at ? "," : "", p);
    sf_logf(SF_LOG_INFO, "kinesis_resharded",
            "stream=%s partitions=%u open=%zu closed_now=%s new=%s", k->name, now, k->nroutes,
            closed[0] ? closed : "-", opened[0] ? opened : "-");
}

/* Take listing l into the table (caller holds mu). */
static int publish(sf_kinesis *k, const listing *l, sf_error *err)
{
    uint32_t was = sf_kinesis_nparts(k), now = was;
    char closed[256] = "";
    size_t at = 0;
    for (size_t i = 0; i < l->n; i++)
        if ((uint32_t)l->s[i].number + 1 > now)
            now = (uint32_t)l->s[i].number + 1;
    for (uint32_t p = was; p < now; p++) /* gaps first: filled below when listed */
        if (!(k->shard[p] = entry_of(NULL)))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const listed *s = &l->s[i];
        kshard *e = k->shard[s->number];
        if ((uint32_t)s->number >= was) {
            kshard *fresh = entry_of(s);
            if (!fresh)
                return sf_error_set(err, SF_ENOMEM, "out of memory");
            free(e);
            k->shard[s->number] = fresh;
        } else if (e->listed && s->closed && !e->closed) {
            e->closed = true;
            e->end = s->end;
            if (at + 16 < sizeof closed)
                at += (size_t)snprintf(closed + at, sizeof closed - at, "%s%d", at ? "," : "",
                                       s->number);
        }
    }
    int rc = remake_routes(k, now, err);
    if (rc < 0)
        return rc;
    if (k->nroutes == 0)
        return sf_error_set(err, SF_EINVAL, "kinesis stream %s has no open shard", k->name);
    atomic_store_explicit(&k->nparts, now, memory_order_release);
    if (was > 0 && (now > was || closed[0])) {
        k->reshards++;
        log_change(k, was, now, closed);
    }
    return 0;
}

int sf_kinesis_refresh(sf_kinesis *k, bool force, sf_error *err)
{
    pthread_mutex_lock(&k->ctl_mu);
    pthread_mutex_lock(&k->mu);
    bool due = force || now_s() - k->refreshed_at >= REFRESH_GAP;
    if (due)
        k->refreshed_at = now_s();
    pthread_mutex_unlock(&k->mu);
    listing l = {0};
    int rc = due ? describe(k, &l, err) : 0;
    if (rc == 0 && due) {
        pthread_mutex_lock(&k->mu);
        rc = publish(k, &l, err);
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_unlock(&k->ctl_mu);
    free(l.s);
    return rc;
}

/* ---- finding the stream ---- */

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

int sf_kinesis_find(sf_kinesis *k, bool may_create, sf_error *err)
{
    listing l = {0};
    pthread_mutex_lock(&k->ctl_mu);
    int rc = describe(k, &l, err);
    if (rc == SF_ENOENT && may_create) {
        uint32_t n = k->opts.partitions ? k->opts.partitions : SF_STREAM_PARTITIONS_DEFAULT;
        if ((rc = create(k, n, err)) == 0)
            rc = describe(k, &l, err);
    } else if (rc == SF_ENOENT) {
        rc = sf_error_set(err, SF_ENOENT,
                          "kinesis stream %s does not exist (in %s at %s); a writer "
                          "(serve, import) creates it, or `aws kinesis create-stream`",
                          k->name, k->cfg.region, k->cfg.endpoint);
    }
    struct timespec nap = {0, 100 * 1000 * 1000};
    for (int i = 0; rc == 0 && strcmp(l.status, "ACTIVE") && strcmp(l.status, "UPDATING"); i++) {
        if (strcmp(l.status, "CREATING") || i >= ACTIVE_WAIT_SECONDS * 10) {
            rc = sf_error_set(err, SF_EIO, "kinesis stream %s is %s%s", k->name, l.status,
                              strcmp(l.status, "CREATING") ? "" : " after 5 minutes");
            break;
        }
        nanosleep(&nap, NULL);
        rc = describe(k, &l, err);
    }
    if (rc == 0) {
        pthread_mutex_lock(&k->mu);
        k->refreshed_at = now_s();
        rc = publish(k, &l, err);
        pthread_mutex_unlock(&k->mu);
    }
    pthread_mutex_unlock(&k->ctl_mu);
    free(l.s);
    return rc;
}

void sf_kinesis_shards_free(sf_kinesis *k)
{
    for (uint32_t p = 0; p < SF_STREAM_PARTITIONS_MAX; p++)
        free(k->shard[p]);
    free(k->routes);
}

/* ---- what readers ask ---- */

bool sf_kinesis_closed(sf_kinesis *k, uint32_t p, sf_pos *end)
{
    pthread_mutex_lock(&k->mu);
    bool closed = k->shard[p]->closed;
    if (closed && end)
        *end = k->shard[p]->end;
    pthread_mutex_unlock(&k->mu);
    return closed;
}

void sf_kinesis_saw(sf_kinesis *k, uint32_t p, const sf_pos *end)
{
    pthread_mutex_lock(&k->mu);
    if (sf_pos_cmp(end, &k->shard[p]->seen_end) > 0)
        k->shard[p]->seen_end = *end;
    pthread_mutex_unlock(&k->mu);
}

void sf_kinesis_lineage(sf_stream *s, uint32_t p, sf_partition_lineage *out)
{
    sf_kinesis *k = (sf_kinesis *)s;
    const kshard *e = k->shard[p];
    pthread_mutex_lock(&k->mu);
    out->closed = e->closed;
    out->gone = !e->listed;
    out->end = e->end;
    pthread_mutex_unlock(&k->mu);
    for (int i = 0; i < 2; i++)
        if (e->parents[i] >= 0)
            out->parents[out->nparents++] = (uint32_t)e->parents[i];
}
