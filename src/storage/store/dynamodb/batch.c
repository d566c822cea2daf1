/*
 * batch.c - many items at once, as DynamoDB wants them: BatchGetItem of up
 * to 100 keys a request, and BatchWriteItem of up to 25 puts a request, with
 * several requests in flight (the client's in-flight). Both are free to do
 * part of the work: what a request leaves (UnprocessedKeys,
 * UnprocessedItems) is asked again, after a backoff that grows with each
 * round, until done or the client's retry time is spent. Throttled or
 * failed requests are the client's to retry (core/aws.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/progress.h"
#include "storage/store/dynamodb/dynamodb_int.h"

#define MAX_ROUNDS 40 /* of asking again for what was left */

static void pause_for(unsigned round)
{
    double s = 0.05 * (double)(1u << (round < 6 ? round : 6)); /* 0.05 s to 3.2 s */
    s *= 0.5 + (double)rand() / RAND_MAX / 2;                  /* jitter */
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- BatchGetItem ---- */

typedef struct get_req {
    sf_aws_request rq;
    sf_buf body;
} get_req;

/* Keys as "pk\0sk\0" pairs in a buffer, with their offsets. */
typedef struct keyset {
    sf_buf text;
    size_t *at;
    size_t n, cap;
} keyset;

static int keyset_add(keyset *k, const char *pk, const char *sk)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 128;
        size_t *at = realloc(k->at, cap * sizeof *at);
        if (!at)
            return SF_ENOMEM;
        k->at = at, k->cap = cap;
    }
    k->at[k->n++] = k->text.len;
    sf_buf_add(&k->text, pk, strlen(pk) + 1);
    sf_buf_add(&k->text, sk, strlen(sk) + 1);
    return sf_buf_failed(&k->text) ? SF_ENOMEM : 0;
}

static void keyset_free(keyset *k)
{
    sf_buf_free(&k->text);
    free(k->at);
    memset(k, 0, sizeof *k);
}

/* The unprocessed keys of answer t into next. */
static int left_keys(dynamo *d, yajl_val t, keyset *next)
{
    const char *path[] = {"UnprocessedKeys", d->table, "Keys", NULL};
    yajl_val keys = yajl_tree_get(t, path, yajl_t_array);
    for (size_t i = 0; keys && i < YAJL_GET_ARRAY(keys)->len; i++) {
        yajl_val k = YAJL_GET_ARRAY(keys)->values[i];
        const char *pk = dy_attr(k, "pk", "S"), *sk = dy_attr(k, "sk", "S");
        if (pk && sk && keyset_add(next, pk, sk) < 0)
            return SF_ENOMEM;
    }
    return 0;
}

/* One round: every key of ks, in requests of 100 at once; found items to
 * fn, keys left into next. */
static int get_round(dynamo *d, sf_aws *a, const keyset *ks, keyset *next, dy_item_fn fn, void *ctx,
                     sf_error *err)
{
    size_t nreq = (ks->n + DY_BATCH_GET - 1) / DY_BATCH_GET;
    get_req *reqs = calloc(nreq ? nreq : 1, sizeof *reqs);
    if (!reqs)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    char res[DY_TABLE_MAX + 32];
    snprintf(res, sizeof res, "table %s", d->table);
    int rc = 0;
    for (size_t r = 0; rc == 0 && r < nreq; r++) {
        sf_buf *b = &reqs[r].body;
        sf_buf_puts(b, "{\"RequestItems\":{");
        sf_buf_json_string(b, d->table, strlen(d->table));
        sf_buf_puts(b, ":{\"ConsistentRead\":true,\"Keys\":[");
        for (size_t i = r * DY_BATCH_GET; i < ks->n && i < (r + 1) * DY_BATCH_GET; i++) {
            const char *pk = ks->text.data + ks->at[i];
            sf_buf_puts(b, i % DY_BATCH_GET ? ",{" : "{");
            dy_put_key(b, pk, pk + strlen(pk) + 1);
            sf_buf_add(b, "}", 1);
        }
        sf_buf_puts(b, "]}}}");
        if (sf_buf_failed(b)) {
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
            break;
        }
        reqs[r].rq = (sf_aws_request){.op = "BatchGetItem", .resource = res};
        reqs[r].rq.body = b->data, reqs[r].rq.body_len = b->len;
        rc = sf_aws_submit(a, &reqs[r].rq, err);
    }
    int drc = sf_aws_drain(a, err);
    if (rc == 0)
        rc = drc;
    for (size_t r = 0; r < nreq; r++) {
        yajl_val t = NULL;
        if (rc == 0 && (rc = reqs[r].rq.rc) < 0)
            *err = reqs[r].rq.err;
        if (rc == 0)
            rc = dy_parse(d, "BatchGetItem", &reqs[r].rq.resp, &t, err);
        const char *path[] = {"Responses", d->table, NULL};
        yajl_val items = rc == 0 ? yajl_tree_get(t, path, yajl_t_array) : NULL;
        for (size_t i = 0; items && rc == 0 && i < YAJL_GET_ARRAY(items)->len; i++)
            rc = fn(ctx, YAJL_GET_ARRAY(items)->values[i]);
        if (rc == 0 && left_keys(d, t, next) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
        yajl_tree_free(t);
        sf_buf_free(&reqs[r].body);
        sf_buf_free(&reqs[r].rq.resp);
    }
    free(reqs);
    return rc;
}

int dy_batch_get(dynamo *d, sf_aws *a, const char *const *pks, const char *const *sks, size_t n,
                 dy_item_fn fn, void *ctx, sf_error *err)
{
    keyset ks = {0}, next = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (keyset_add(&ks, pks[i], sks[i]) < 0)
            rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    for (unsigned round = 0; rc == 0 && ks.n > 0; round++) {
        if (round == MAX_ROUNDS) {
            rc = sf_error_set(err, SF_EIO, "%s: BatchGetItem left %zu keys unread after %u rounds",
                              d->where, ks.n, round);
            break;
        }
        if (round > 0)
            pause_for(round);
        rc = get_round(d, a, &ks, &next, fn, ctx, err);
        keyset_free(&ks);
        ks = next;
        memset(&next, 0, sizeof next);
    }
    keyset_free(&ks);
    keyset_free(&next);
    return rc;
}

/* ---- BatchWriteItem ---- */

typedef struct slot {
    sf_aws_request rq;
    sf_buf body;
    size_t items[DY_BATCH_WRITE];
    unsigned n;
    bool busy;
    struct dy_writes *w;
} slot;

struct dy_writes {
    dynamo *d;
    sf_aws *a;
    sf_buf text;   /* each item: "pk\0sk\0" then its PutRequest JSON and a NUL */
    size_t *at;    /* where item i starts in text */
    size_t n, cap; /* items added */
    size_t sent;   /* items [0, sent) were handed to a request once */
    size_t *again; /* items left by a request, to send again */
    size_t nagain, again_cap;
    unsigned round;  /* of sending again, for the backoff */
    double again_at; /* not before this (sf_monotonic) */
    unsigned nslots;
    slot *slots;
    int rc; /* the first failure */
    sf_error err;
};

int dy_writes_new(dynamo *d, sf_aws *a, dy_writes **out, sf_error *err)
{
    dy_writes *w = calloc(1, sizeof *w);
    unsigned nslots = d->aws_opts.max_in_flight ? d->aws_opts.max_in_flight : 8;
    if (w)
        w->slots = calloc(nslots, sizeof *w->slots);
    if (!w || !w->slots) {
        free(w);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    w->d = d, w->a = a, w->nslots = nslots;
    for (unsigned i = 0; i < nslots; i++)
        w->slots[i].w = w;
    *out = w;
    return 0;
}

int dy_writes_put(dy_writes *w, const char *pk, const char *sk, const sf_buf *attrs, sf_error *err)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        size_t *at = realloc(w->at, cap * sizeof *at);
        if (!at)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        w->at = at, w->cap = cap;
    }
    w->at[w->n++] = w->text.len;
    sf_buf_add(&w->text, pk, strlen(pk) + 1);
    sf_buf_add(&w->text, sk, strlen(sk) + 1);
    sf_buf_puts(&w->text, "{\"PutRequest\":{\"Item\":{");
    sf_buf_add(&w->text, attrs->data, attrs->len);
    sf_buf_add(&w->text, "}}}", 4); /* with the NUL */
    return sf_buf_failed(&w->text) || sf_buf_failed(attrs)
               ? sf_error_set(err, SF_ENOMEM, "out of memory")
               : 0;
}

static const char *item_pk(const dy_writes *w, size_t i)
{
    return w->text.data + w->at[i];
}

static const char *item_sk(const dy_writes *w, size_t i)
{
    const char *pk = item_pk(w, i);
    return pk + strlen(pk) + 1;
}

static const char *item_json(const dy_writes *w, size_t i)
{
    const char *sk = item_sk(w, i);
    return sk + strlen(sk) + 1;
}

static void send_again(dy_writes *w, size_t i)
{
    if (w->nagain == w->again_cap) {
        size_t cap = w->again_cap ? 2 * w->again_cap : 64;
        size_t *again = realloc(w->again, cap * sizeof *again);
        if (!again) {
            if (w->rc == 0)
                w->rc = sf_error_set(&w->err, SF_ENOMEM, "out of memory");
            return;
        }
        w->again = again, w->again_cap = cap;
    }
    w->again[w->nagain++] = i;
}

/* A request ended: its items stored, or some left to send again, or the
 * failure kept (naming the first item and AWS's reason). */
static void written(sf_aws_request *rq, void *ctx)
{
    slot *s = ctx;
    dy_writes *w = s->w;
    s->busy = false;
    if (rq->rc < 0) {
        if (w->rc == 0) {
            w->err = rq->err;
            sf_error_prefix(&w->err, "%s: writing %u items from %s / %s: ", w->d->where, s->n,
                            item_pk(w, s->items[0]), item_sk(w, s->items[0]));
            w->rc = rq->rc;
        }
        return;
    }
    yajl_val t = NULL;
    sf_error perr = {0};
    int rc = dy_parse(w->d, "BatchWriteItem", &rq->resp, &t, &perr);
    const char *path[] = {"UnprocessedItems", w->d->table, NULL};
    yajl_val left = rc == 0 ? yajl_tree_get(t, path, yajl_t_array) : NULL;
    for (size_t k = 0; left && k < YAJL_GET_ARRAY(left)->len; k++) {
        const char *ip[] = {"PutRequest", "Item", NULL};
        yajl_val item = yajl_tree_get(YAJL_GET_ARRAY(left)->values[k], ip, yajl_t_object);
        const char *pk = item ? dy_attr(item, "pk", "S") : NULL,
                   *sk = item ? dy_attr(item, "sk", "S") : NULL;
        unsigned j = 0;
        while (
            pk && sk && j < s->n &&
            (strcmp(pk, item_pk(w, s->items[j])) != 0 || strcmp(sk, item_sk(w, s->items[j])) != 0))
            j++;
        if (pk && sk && j < s->n)
            send_again(w, s->items[j]);
        else if (rc == 0) /* never dropped unsaid */
            rc = sf_error_set(&perr, SF_EIO,
                              "%s: BatchWriteItem left an item unprocessed that was not sent "
                              "(%s / %s)",
                              w->d->where, pk ? pk : "?", sk ? sk : "?");
    }
    if (left && YAJL_GET_ARRAY(left)->len > 0 && w->nagain > 0)
        w->again_at = sf_monotonic() + 0.05 * (double)(1u << (w->round < 6 ? w->round : 6)),
        w->round++;
    if (rc < 0 && w->rc == 0)
        w->err = perr, w->rc = rc;
    yajl_tree_free(t);
    sf_buf_free(&rq->resp);
}

/* The next item to send, or false when none is ready. */
static bool next_item(dy_writes *w, size_t *i)
{
    if (w->nagain > 0 && sf_monotonic() >= w->again_at) {
        *i = w->again[--w->nagain];
        return true;
    }
    if (w->sent < w->n) {
        *i = w->sent++;
        return true;
    }
    return false;
}

/* Fill idle slots: a request of 25 items (fewer only when flushing). */
static int fill(dy_writes *w, bool flushing, sf_error *err)
{
    char res[DY_TABLE_MAX + 16];
    snprintf(res, sizeof res, "table %s", w->d->table);
    for (unsigned k = 0; k < w->nslots && w->rc == 0; k++) {
        slot *s = &w->slots[k];
        size_t ready = w->n - w->sent + (sf_monotonic() >= w->again_at ? w->nagain : 0);
        if (s->busy || ready == 0 || (!flushing && ready < DY_BATCH_WRITE))
            continue;
        sf_buf_reset(&s->body);
        sf_buf_puts(&s->body, "{\"RequestItems\":{");
        sf_buf_json_string(&s->body, w->d->table, strlen(w->d->table));
        sf_buf_puts(&s->body, ":[");
        for (s->n = 0; s->n < DY_BATCH_WRITE && next_item(w, &s->items[s->n]); s->n++) {
            if (s->n)
                sf_buf_add(&s->body, ",", 1);
            sf_buf_puts(&s->body, item_json(w, s->items[s->n]));
        }
        sf_buf_puts(&s->body, "]}}");
        if (sf_buf_failed(&s->body))
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        s->rq =
            (sf_aws_request){.op = "BatchWriteItem", .resource = res, .done = written, .ctx = s};
        s->rq.body = s->body.data, s->rq.body_len = s->body.len;
        s->busy = true;
        int rc = sf_aws_submit(w->a, &s->rq, err);
        if (rc < 0) {
            s->busy = false;
            return rc;
        }
    }
    return 0;
}

static int failed(dy_writes *w, sf_error *err)
{
    *err = w->err;
    return w->rc;
}

int dy_writes_pump(dy_writes *w, sf_error *err)
{
    int rc = fill(w, false, err);
    if (rc == 0 && sf_aws_pending(w->a) > 0 && (rc = sf_aws_poll(w->a, 0, err)) > 0)
        rc = 0;
    if (rc == 0 && (rc = fill(w, false, err)) == 0 && w->rc < 0)
        rc = failed(w, err);
    return rc;
}

int dy_writes_finish(dy_writes *w, sf_error *err)
{
    int rc = 0;
    while (rc == 0 && w->rc == 0) {
        if ((rc = fill(w, true, err)) < 0)
            break;
        if (sf_aws_pending(w->a) == 0) {
            if (w->nagain == 0 && w->sent == w->n)
                break;
            if (w->round > MAX_ROUNDS)
                rc = sf_error_set(err, SF_EIO,
                                  "%s: BatchWriteItem left %zu items unwritten after "
                                  "%u rounds (from %s / %s)",
                                  w->d->where, w->nagain, w->round, item_pk(w, w->again[0]),
                                  item_sk(w, w->again[0]));
            else
                pause_for(0);
            continue;
        }
        if ((rc = sf_aws_poll(w->a, 50, err)) > 0)
            rc = 0;
    }
    if (rc < 0 || w->rc < 0) {
        sf_error keep = rc < 0 ? *err : w->err;
        int krc = rc < 0 ? rc : w->rc;
        dy_writes_reset(w);
        *err = keep;
        return krc;
    }
    dy_writes_reset(w);
    return 0;
}

void dy_writes_reset(dy_writes *w)
{
    sf_error ignored;
    if (sf_aws_pending(w->a) > 0)
        sf_aws_drain(w->a, &ignored);
    sf_buf_reset(&w->text);
    w->n = w->sent = w->nagain = 0;
    w->round = 0;
    w->again_at = 0;
    w->rc = 0;
    memset(&w->err, 0, sizeof w->err);
}

void dy_writes_free(dy_writes *w)
{
    if (!w)
        return;
    dy_writes_reset(w);
    for (unsigned k = 0; k < w->nslots; k++)
        sf_buf_free(&w->slots[k].body);
    sf_buf_free(&w->text);
    free(w->slots);
    free(w->at);
    free(w->again);
    free(w);
}
