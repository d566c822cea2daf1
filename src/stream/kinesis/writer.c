/*
 * writer.c - appends to a Kinesis stream: PutRecords from one writer thread
 * that owns its own AWS client (core/aws.h: one thread per client).
 *
 * Group commit. sf_kinesis_append copies the records, queues the append and
 * returns; the writer thread moves each record into its shard's queue and
 * sends, per shard, one PutRecords of up to 500 records / 5 MiB at a time,
 * holding whatever has queued meanwhile (the records of many appends in one
 * call, as the local log's commit round takes many appends in one fsync).
 * Shards are sent to at once (the client keeps up to in-flight calls on the
 * wire), but each shard has at most one call in flight, so the records of
 * a shard are stored in the order they were queued.
 *
 * Acknowledgement. An append's callback runs when every one of its records
 * has a sequence number (success: the positions), or when it cannot get one.
 * PutRecords answers 200 with FailedRecordCount and a per-record ErrorCode
 * for records it did not store (ProvisionedThroughputExceededException,
 * InternalFailure): only those are sent again, each as it was (same data,
 * so the same event id), first in their shard's queue, after a backoff with
 * full jitter that grows while the shard refuses whole calls (a throttled
 * shard) and starts again from its base when a call stored some records.
 * A record that Kinesis stored before a refused one of the same call lands
 * ahead of it: an invoice's lines may then be out of order (Kinesis's own
 * rule: strict order needs PutRecord one by one).
 *
 * Reshards. A record's queue is that of the open shard whose hash key range
 * holds its hash key (kinesis.h), and it is put with that key as
 * ExplicitHashKey; the partition it is acknowledged in is the ShardId of
 * the answer. A shard closed since the record was queued sends it to its
 * child: the answer names a shard the table does not know (or another than
 * the queue's), and the table is listed again (shards.c), so that new
 * records go only to open shards; what was queued for a closed shard moves
 * to the queues of its children, in order.
 *
 * Failure. After RESEND_MAX refusals of one record its append fails; so
 * does an append whose call failed after the client's own retries. If none
 * of the append's records was stored (every failure a per-record refusal or
 * a 4xx) the failure is ordinary (SF_EBUSY when throttled: the gateway
 * answers 429 with Retry-After; else SF_EIO: 503). If some may be stored (a
 * record was acknowledged, or a call got no answer), it is SF_EFAILED and
 * the stream refuses appends until reopened, as the Kafka adapter does: a
 * restarted gateway rebuilds its event-id window from the stream, and a
 * retry with the same event ids is then a duplicate, not a second copy.
 * Appends waiting beyond opts.queue_bytes are refused at once (SF_EBUSY).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "core/pack.h"
#include "stream/kinesis/kinesis.h"

#define CALL_RECORDS        500        /* PutRecords: records per call */
#define CALL_BYTES          (5u << 20) /* PutRecords: data + partition keys per call */
#define RESEND_MAX          30         /* refusals of one record before its append fails */
#define BACKOFF_BASE        0.05       /* seconds */
#define BACKOFF_CAP         2.0        /* seconds */
#define IDLE_POLL_MS        2          /* a poll's wait while calls are in flight */
#define QUEUE_BYTES_DEFAULT (256u << 20)

typedef struct pend { /* one append */
    struct pend *next;
    size_t n, left, acked, failed;
    bool doubt, throttled;
    char why[256];
    uint8_t *data;
    size_t *offs;
    uint32_t *lens, *parts;
    sf_pos *positions;
    uint64_t bytes;
    double started;
    sf_append_done done;
    void *ctx;
} pend;

typedef struct rref { /* one record in a shard's queue */
    pend *pd;
    uint32_t i;
    unsigned refusals;
} rref;

typedef struct squeue { /* a shard's queue and its call */
    uint32_t p;         /* its partition */
    rref *q;
    size_t head, len, cap;
    bool busy;          /* a call in flight */
    double not_before;  /* backoff: no call before this */
    unsigned throttles; /* refusals in a row */
    sf_aws_request rq;
    sf_buf body;
    rref *sent; /* the records of the call in flight */
    size_t nsent, capsent;
} squeue;

struct kwriter {
    sf_kinesis *k;
    sf_aws *aws;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu; /* guards incoming, stopping, failed, queued_bytes */
    pthread_cond_t cv;
    pend *in_head, *in_tail;
    bool stopping;
    bool failed;
    char failure[SF_ERROR_MSG_MAX];
    uint64_t queued_bytes;
    squeue **sq;       /* per partition, made when first used; the writer thread's own */
    uint32_t nsq;      /* sq[0..nsq) */
    uint64_t reshards; /* the table's reshards the queues were last routed for */
    size_t inflight;   /* calls in flight (the thread's own) */
    size_t open;       /* appends taken and not finished (the thread's own) */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- finishing appends ---- */

static void finish(kwriter *w, pend *pd)
{
    sf_kinesis *k = w->k;
    char msg[SF_ERROR_MSG_MAX] = "";
    int status = 0;
    if (pd->failed) {
        if (pd->doubt || pd->acked) {
            status = SF_EFAILED;
            snprintf(msg, sizeof msg,
                     "kinesis stream %s: %zu of %zu records not stored (%.160s) and %zu may be: "
                     "appends are refused until a restart, which rebuilds the event-id window "
                     "from the stream (then retrying with the same event ids is safe)",
                     k->name, pd->failed, pd->n, pd->why, pd->n - pd->failed);
            pthread_mutex_lock(&w->mu);
            if (!w->failed)
                snprintf(w->failure, sizeof w->failure, "%s", msg);
            w->failed = true;
            pthread_mutex_unlock(&w->mu);
        } else {
            status = pd->throttled ? SF_EBUSY : SF_EIO;
            snprintf(msg, sizeof msg,
                     "kinesis stream %s: %zu records not written (%.160s); none of them is stored",
                     k->name, pd->n, pd->why);
        }
    }
    pthread_mutex_lock(&k->mu);
    if (status) {
        k->stats.failures++;
    } else {
        k->stats.appends++;
        k->stats.records += pd->n;
        k->stats.bytes += pd->bytes;
        sf_stream_stats_latency(&k->stats, now_s() - pd->started);
    }
    pthread_mutex_unlock(&k->mu);
    pthread_mutex_lock(&w->mu);
    w->queued_bytes -= pd->bytes;
    pthread_mutex_unlock(&w->mu);
    if (status) {
        char q[SF_ERROR_MSG_MAX + 64];
        sf_logf(SF_LOG_ERROR, "kinesis_append_failed", "stream=%s records=%zu msg=%s", k->name,
                pd->n, sf_logq(msg, q, sizeof q));
    }
    w->open--;
    pd->done(pd->ctx, status, pd->parts, pd->positions, status ? msg : NULL);
    free(pd->data);
    free(pd);
}

/* Record r of its append is settled (acknowledged, or failed with why). */
static void settle(kwriter *w, const rref *r, const char *why, bool doubt, bool throttled)
{
    pend *pd = r->pd;
    if (why) {
        pd->failed++;
        pd->doubt |= doubt;
        pd->throttled |= throttled;
        if (!pd->why[0])
            snprintf(pd->why, sizeof pd->why, "%.*s", (int)sizeof pd->why - 1,
                     why); /* cut if long */
    } else {
        pd->acked++;
    }
    if (--pd->left == 0)
        finish(w, pd);
}

/* ---- shard queues ---- */

static int sq_push(squeue *s, rref r, bool front)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        rref *q = malloc(cap * sizeof *q);
        if (!q)
            return SF_ENOMEM;
        for (size_t i = 0; i < s->len; i++)
            q[i] = s->q[(s->head + i) % (s->cap ? s->cap : 1)];
        free(s->q);
        s->q = q, s->cap = cap, s->head = 0;
    }
    if (front) {
        s->head = (s->head + s->cap - 1) % s->cap;
        s->q[s->head] = r;
    } else {
        s->q[(s->head + s->len) % s->cap] = r;
    }
    s->len++;
    return 0;
}

static rref sq_pop(squeue *s)
{
    rref r = s->q[s->head];
    s->head = (s->head + 1) % s->cap;
    s->len--;
    return r;
}

/* Partition p's queue, made when first used; NULL when out of memory. */
static squeue *queue_of(kwriter *w, uint32_t p)
{
    if (p >= w->nsq) {
        squeue **sq = realloc(w->sq, (p + 1) * sizeof *sq);
        if (!sq)
            return NULL;
        memset(sq + w->nsq, 0, (p + 1 - w->nsq) * sizeof *sq);
        w->sq = sq;
        w->nsq = p + 1;
    }
    if (!w->sq[p] && (w->sq[p] = calloc(1, sizeof *w->sq[p])))
        w->sq[p]->p = p;
    return w->sq[p];
}

/* Put record r of its append last in partition p's queue. */
static void enqueue(kwriter *w, uint32_t p, rref r)
{
    squeue *s = queue_of(w, p);
    r.pd->parts[r.i] = p;
    if (!s || sq_push(s, r, false) < 0)
        settle(w, &r, "out of memory", false, false);
}

/* Move the records of a new append into their shards' queues. */
static void take_in(kwriter *w, pend *pd)
{
    w->open++;
    for (uint32_t i = 0; i < pd->n; i++)
        enqueue(w, pd->parts[i], (rref){pd, i, 0});
}

/* The record's hash key: that of its invoice number. */
static khash hash_of(const rref *r)
{
    const char *ev, *inv;
    size_t evn, invn;
    sf_packed_keys(r->pd->data + r->pd->offs[r->i], r->pd->lens[r->i], &ev, &evn, &inv, &invn);
    return sf_kinesis_hash(inv, invn);
}

/* After a reshard: the records queued for shards now closed go, in their
 * order, to the open shards that hold their hash keys (Kinesis would take
 * them there anyway; queued there, an invoice's lines stay one call after
 * another). A queue with a call in flight is moved once it is answered. */
static void reroute(kwriter *w)
{
    sf_kinesis *k = w->k;
    pthread_mutex_lock(&k->mu);
    uint64_t now = k->reshards;
    pthread_mutex_unlock(&k->mu);
    if (now == w->reshards)
        return;
    bool waiting = false;
    for (uint32_t p = 0; p < w->nsq; p++) {
        squeue *s = w->sq[p];
        if (!s || !s->len || !sf_kinesis_closed(k, p, NULL))
            continue;
        if (s->busy) {
            waiting = true;
            continue;
        }
        for (size_t left = s->len; left; left--) {
            rref r = sq_pop(s);
            pthread_mutex_lock(&k->mu);
            uint32_t to = sf_kinesis_route(k, hash_of(&r));
            pthread_mutex_unlock(&k->mu);
            enqueue(w, to == UINT32_MAX ? p : to, r);
        }
    }
    if (!waiting)
        w->reshards = now;
}

/* ---- calls ---- */

static void on_put(sf_aws_request *rq, void *ctx);

/* Send shard p's next call: its queue's first records, up to the limits. */
static void send_shard(kwriter *w, squeue *s)
{
    const kshard *sh = w->k->shard[s->p];
    size_t want = s->len < CALL_RECORDS ? s->len : CALL_RECORDS, bytes = 0;
    if (s->capsent < CALL_RECORDS) {
        rref *sent = realloc(s->sent, CALL_RECORDS * sizeof *sent);
        if (!sent)
            return; /* tried again at the next turn */
        s->sent = sent, s->capsent = CALL_RECORDS;
    }
    sf_buf_reset(&s->body);
    sf_buf_puts(&s->body, "{\"StreamName\":");
    sf_buf_json_string(&s->body, w->k->name, strlen(w->k->name));
    sf_buf_puts(&s->body, ",\"Records\":[");
    s->nsent = 0;
    while (s->nsent < want) {
        rref r = s->q[s->head];
        const uint8_t *rec = r.pd->data + r.pd->offs[r.i];
        uint32_t len = r.pd->lens[r.i];
        const char *ev, *inv;
        size_t evn, invn;
        sf_packed_keys(rec, len, &ev, &evn, &inv, &invn);
        if (s->nsent && bytes + len + invn + 1 > CALL_BYTES)
            break;
        bytes += len + invn + 1;
        sf_buf_puts(&s->body, s->nsent ? ",{\"Data\":\"" : "{\"Data\":\"");
        sf_kinesis_b64_encode(&s->body, rec, len);
        sf_buf_puts(&s->body, "\",\"PartitionKey\":");
        if (invn)
            sf_buf_json_string(&s->body, inv, invn);
        else
            sf_buf_puts(&s->body, "\"-\"");
        char key[40];
        sf_kinesis_hash_text(sf_kinesis_hash(inv, invn), key);
        sf_buf_printf(&s->body, ",\"ExplicitHashKey\":\"%s\"}", key);
        s->sent[s->nsent++] = sq_pop(s);
    }
    sf_buf_puts(&s->body, "]}");
    memset(&s->rq, 0, sizeof s->rq);
    s->rq.op = "PutRecords";
    s->rq.resource = sh->id;
    s->rq.body = s->body.data;
    s->rq.body_len = s->body.len;
    s->rq.done = on_put;
    s->rq.ctx = w;
    s->busy = true;
    w->inflight++;
    sf_error err = {0};
    if (sf_buf_failed(&s->body) || sf_aws_submit(w->aws, &s->rq, &err) < 0) {
        s->rq.rc = sf_buf_failed(&s->body) ? SF_ENOMEM : err.code;
        snprintf(s->rq.err.msg, sizeof s->rq.err.msg, "%s",
                 sf_buf_failed(&s->body) ? "out of memory" : err.msg);
        on_put(&s->rq, w);
    }
}

/* Back off shard s after a refusal: full jitter over a growing cap. */
static void back_off(squeue *s)
{
    double cap = BACKOFF_BASE * (double)(1u << (s->throttles < 10 ? s->throttles : 10));
    s->throttles++;
    s->not_before = now_s() + (cap < BACKOFF_CAP ? cap : BACKOFF_CAP) * (rand() / (RAND_MAX + 1.0));
}

/* Records [from, nsent) of s's call are put back first in its queue. */
static void requeue(kwriter *w, squeue *s, size_t from, const char *why)
{
    for (size_t i = s->nsent; i-- > from;) {
        rref r = s->sent[i];
        if (++r.refusals > RESEND_MAX || sq_push(s, r, true) < 0)
            settle(w, &r, why, false, true);
    }
}

/* Record r was stored in shard `shard` at sequence number seq: the
 * partition that shard is (the table listed again when it does not know
 * it, or when its shard p was closed under it: Kinesis put it in a child). */
static void stored(kwriter *w, uint32_t p, const rref *r, const char *shard, const char *seq)
{
    sf_kinesis *k = w->k;
    sf_pos *at = &r->pd->positions[r->i];
    int32_t q = sf_kinesis_shard_number(shard);
    sf_error err = {0};
    int rc = q < 0 ? sf_error_set(&err, SF_EIO,
                                  "Kinesis put a record in shard %.40s, not a "
                                  "shard id shopflow numbers",
                                  shard)
                   : sf_pos_parse(seq, strlen(seq), at, &err);
    if (rc == 0 && ((uint32_t)q >= sf_kinesis_nparts(k) ||
                    ((uint32_t)q != p && !sf_kinesis_closed(k, p, NULL))))
        rc = sf_kinesis_refresh(k, (uint32_t)q >= sf_kinesis_nparts(k), &err);
    if (rc == 0 && (uint32_t)q >= sf_kinesis_nparts(k))
        rc = sf_error_set(&err, SF_EIO, "Kinesis put a record in shard %s, which it does not list",
                          shard);
    if (rc < 0) { /* stored, but where this process cannot read it back */
        settle(w, r, err.msg, true, false);
        return;
    }
    r->pd->parts[r->i] = (uint32_t)q;
    sf_pos end = *at;
    sf_pos_add_one(&end, NULL);
    sf_kinesis_saw(k, (uint32_t)q, &end);
    settle(w, r, NULL, false, false);
}

/* The answer of a call that Kinesis took: each record stored or refused. */
static int read_answer(kwriter *w, squeue *s, uint32_t p, sf_error *err)
{
    yajl_val doc = sf_kinesis_parse(&s->rq.resp, "PutRecords", err);
    if (!doc)
        return err->code;
    static const char *const recs_path[] = {"Records", NULL};
    yajl_val recs = sf_kinesis_array(doc, recs_path);
    if (!recs || YAJL_GET_ARRAY(recs)->len != s->nsent) {
        yajl_tree_free(doc);
        return sf_error_set(err, SF_EIO, "Kinesis PutRecords: %zu records sent, %zu answered",
                            s->nsent, recs ? YAJL_GET_ARRAY(recs)->len : 0);
    }
    static const char *const seq_path[] = {"SequenceNumber", NULL};
    static const char *const shard_path[] = {"ShardId", NULL};
    static const char *const code_path[] = {"ErrorCode", NULL};
    size_t refused = 0, kept = 0;
    char why[160] = "";
    rref *back = s->sent; /* refused records, compacted in place, in order */
    for (size_t i = 0; i < s->nsent; i++) {
        yajl_val r = YAJL_GET_ARRAY(recs)->values[i];
        const char *seq = sf_kinesis_str(r, seq_path), *shard = sf_kinesis_str(r, shard_path);
        const char *code = sf_kinesis_str(r, code_path);
        if (seq && shard) {
            stored(w, p, &s->sent[i], shard, seq);
            kept++;
        } else if (seq || shard) {
            settle(w, &s->sent[i], "an answer with a sequence number or shard alone", true, false);
        } else {
            if (!why[0])
                snprintf(why, sizeof why, "%s", code ? code : "refused without a code");
            back[refused++] = s->sent[i];
        }
    }
    yajl_tree_free(doc);
    if (refused) {
        s->nsent = refused;
        requeue(w, s, 0, why);
        if (kept) /* near its limit, not over it: a short wait */
            s->throttles = 0;
        back_off(s);
        sf_logf(SF_LOG_DEBUG, "kinesis_resend", "stream=%s shard=%s refused=%zu stored=%zu code=%s",
                w->k->name, w->k->shard[p]->id, refused, kept, why);
    } else {
        s->throttles = 0;
    }
    pthread_mutex_lock(&w->k->mu);
    w->k->stats.groups++; /* one PutRecords call */
    pthread_mutex_unlock(&w->k->mu);
    return 0;
}

static void on_put(sf_aws_request *rq, void *ctx)
{
    kwriter *w = ctx;
    squeue *s = (squeue *)((char *)rq - offsetof(squeue, rq));
    uint32_t p = s->p;
    s->busy = false;
    w->inflight--;
    sf_error err = {0};
    int rc = rq->rc;
    if (rc == 0 && (rc = read_answer(w, s, p, &err)) == 0) {
        sf_buf_free(&rq->resp);
        return;
    }
    if (rq->rc)
        err = rq->err;
    /* No answer, a 5xx or an unreadable answer: the records may be stored.
     * A 4xx (rejected as a whole): none is. */
    bool doubt = rq->rc == 0 || rq->status == 0 || rq->status >= 500;
    for (size_t i = 0; i < s->nsent; i++)
        settle(w, &s->sent[i], err.msg, doubt, false);
    s->nsent = 0;
    sf_buf_free(&rq->resp);
}

/* ---- the thread ---- */

/* Take what was appended; true when the thread is to end. */
static bool take_new(kwriter *w)
{
    pthread_mutex_lock(&w->mu);
    bool work = false;
    for (uint32_t p = 0; p < w->nsq && !work; p++)
        work = w->sq[p] && w->sq[p]->len > 0;
    while (!w->in_head && !w->inflight && !work && !w->stopping)
        pthread_cond_wait(&w->cv, &w->mu);
    pend *pd = w->in_head;
    w->in_head = w->in_tail = NULL;
    bool end = w->stopping && !pd && !w->inflight && !work && !w->open;
    pthread_mutex_unlock(&w->mu);
    while (pd) {
        pend *next = pd->next;
        take_in(w, pd);
        pd = next;
    }
    return end;
}

static void *writer_main(void *arg)
{
    kwriter *w = arg;
    while (!take_new(w)) {
        reroute(w);
        double now = now_s(), wait = 0.5;
        for (uint32_t p = 0; p < w->nsq; p++) {
            squeue *s = w->sq[p];
            if (!s)
                continue;
            if (!s->busy && s->len && s->not_before <= now)
                send_shard(w, s);
            else if (!s->busy && s->len && s->not_before - now < wait)
                wait = s->not_before - now;
        }
        if (!w->inflight) { /* shards backing off only: wait, woken by a new append */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + (long)(wait * 1e9);
            until.tv_sec += ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            pthread_mutex_lock(&w->mu);
            if (!w->in_head && !w->stopping)
                pthread_cond_timedwait(&w->cv, &w->mu, &until);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        sf_error err = {0};
        if (sf_aws_poll(w->aws, IDLE_POLL_MS, &err) < 0)
            sf_logf(SF_LOG_ERROR, "kinesis_client_failed", "stream=%s", w->k->name);
    }
    return NULL;
}

int sf_kinesis_writer_start(sf_kinesis *k, sf_error *err)
{
    kwriter *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    w->k = k;
    w->reshards = k->reshards;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    k->writer = w;
    if (!k->opts.queue_bytes)
        k->opts.queue_bytes = QUEUE_BYTES_DEFAULT;
    int rc = sf_kinesis_client(k, k->in_flight, &w->aws, err);
    if (rc < 0)
        return rc;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
        return sf_error_set(err, SF_ENOMEM, "cannot start the kinesis writer thread");
    w->started = true;
    return 0;
}

void sf_kinesis_writer_stop(sf_kinesis *k)
{
    kwriter *w = k->writer;
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stopping = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    sf_aws_close(w->aws);
    for (uint32_t p = 0; p < w->nsq; p++) {
        if (!w->sq[p])
            continue;
        free(w->sq[p]->q);
        free(w->sq[p]->sent);
        sf_buf_free(&w->sq[p]->body);
        free(w->sq[p]);
    }
    free(w->sq);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    k->writer = NULL;
}

/* ---- appending ---- */

/* Copy the records and find their partitions; NULL with err set. */
static pend *prepare(sf_kinesis *k, const uint8_t *data, const uint32_t *lens, size_t n,
                     sf_error *err)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += lens[i];
    pend *pd = calloc(1, sizeof *pd + n * (sizeof(size_t) + 2 * sizeof(uint32_t) + sizeof(sf_pos)));
    uint8_t *copy = malloc(bytes ? bytes : 1);
    if (!pd || !copy) {
        free(pd), free(copy);
        sf_error_set(err, SF_ENOMEM, "out of memory queueing %zu records", n);
        return NULL;
    }
    pd->offs = (size_t *)(pd + 1);
    pd->lens = (uint32_t *)(pd->offs + n);
    pd->parts = pd->lens + n;
    pd->positions = (sf_pos *)(pd->parts + n); /* bytes only: no alignment */
    pd->data = copy;
    pd->n = pd->left = n;
    pd->bytes = bytes;
    memcpy(copy, data, bytes);
    pthread_mutex_lock(&k->mu); /* the routes */
    for (size_t i = 0, at = 0; i < n; at += lens[i], i++) {
        const char *ev, *inv;
        size_t evn, invn;
        if (lens[i] > SF_PACK_MAX ||
            sf_packed_keys(data + at, lens[i], &ev, &evn, &inv, &invn) < 0 ||
            lens[i] + (invn ? invn : 1) > SF_KINESIS_RECORD_MAX) {
            pthread_mutex_unlock(&k->mu);
            free(pd), free(copy);
            sf_error_set(err, SF_EINVAL, "record %zu is not a packed record of at most 1 MiB", i);
            return NULL;
        }
        pd->offs[i] = at;
        pd->lens[i] = lens[i];
        uint32_t p = sf_kinesis_route(k, sf_kinesis_hash(inv, invn));
        pd->parts[i] = p == UINT32_MAX ? k->routes[0].p : p; /* Kinesis routes it anyway */
    }
    pthread_mutex_unlock(&k->mu);
    return pd;
}

int sf_kinesis_append(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                      sf_append_done done, void *ctx, sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    kwriter *w = k->writer;
    if (!w)
        return sf_error_set(err, SF_EINVAL, "kinesis stream %s: opened read-only", k->name);
    if (n == 0) {
        done(ctx, 0, NULL, NULL, NULL);
        return 0;
    }
    pend *pd = prepare(k, data, lens, n, err);
    if (!pd)
        return err ? err->code : SF_EINVAL;
    pd->done = done;
    pd->ctx = ctx;
    pd->started = now_s();
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->failed)
        rc = sf_error_set(err, SF_EFAILED, "%s", w->failure);
    else if (w->stopping)
        rc = sf_error_set(err, SF_EFAILED, "kinesis stream %s: the stream is closing", k->name);
    else if (w->queued_bytes && w->queued_bytes + pd->bytes > k->opts.queue_bytes)
        rc = sf_error_set(err, SF_EBUSY,
                          "kinesis stream %s: %llu bytes wait for acknowledgements (the stream "
                          "is throttled or Kinesis is slow)",
                          k->name, (unsigned long long)w->queued_bytes);
    if (rc == 0) {
        w->queued_bytes += pd->bytes;
        if (w->in_tail)
            w->in_tail->next = pd;
        else
            w->in_head = pd;
        w->in_tail = pd;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (rc < 0) {
        free(pd->data);
        free(pd);
    }
    return rc;
}

bool sf_kinesis_writer_failed(sf_kinesis *k)
{
    bool failed = false;
    if (k->writer) {
        pthread_mutex_lock(&k->writer->mu);
        failed = k->writer->failed;
        pthread_mutex_unlock(&k->writer->mu);
    }
    return failed;
}
