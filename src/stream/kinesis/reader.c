/*
 * reader.c - reading a Kinesis stream for the stream port: read(partition,
 * from), info, lag and the tail start of the event-id window (kinesis.h).
 *
 * Each reading thread has its own AWS client and, per shard, a cursor: its
 * shard iterator, the position it delivers next, and what the last
 * GetRecords gave that did not fit in the caller's batch. A read from that
 * position goes on with them; a read from elsewhere drops them and asks
 * GetShardIterator for a new iterator: TRIM_HORIZON from position 0,
 * AFTER_SEQUENCE_NUMBER of from - 1 (a batch's `next` is its last sequence
 * number + 1, so from - 1 is a record's own), or AT_SEQUENCE_NUMBER of from
 * when Kinesis refuses that one (a position that is itself a record's, as
 * a shard's first sequence number is). An iterator that expired (5
 * minutes unused) is renewed from the cursor's position.
 *
 * Limits. Kinesis allows 5 GetRecords per second per shard and 2 MB/s: a
 * cursor waits read-interval-ms (200) after a call, and longer after a
 * large answer (its bytes at read-bytes-per-second, 2 MB/s), before the
 * next; throttling answers that still come (several readers of one shard)
 * are retried with backoff by the client. A call that comes back empty
 * while MillisBehindLatest says the shard holds newer records is made again
 * (at most EMPTY_CALLS times per read), so a read is empty only at the
 * shard's end.
 *
 * Closed shards (a reshard, shards.c). A shard the table knows closed is
 * read on to its end, not to its tip: the read that finds no
 * NextShardIterator (or ChildShards) with every record delivered gives the
 * shard's end (EndingSequenceNumber + 1) as next, and a read from there on,
 * or of a gone shard, makes no call. A shard that ends while the table says
 * it is open makes the table be listed again first. A position below a
 * shard's first sequence number is refused (it is another stream's). A
 * thread whose group lease was lost (lease.c) has its reads refused.
 *
 * Lag: MillisBehindLatest of the cursor's last call when the caller reads
 * there, else counted by reading from the position to the end (up to
 * LAG_COUNT_MAX records: then only the time). The tail start counts the
 * records of the window (no older than window-seconds) from TRIM_HORIZON in
 * one pass and finds where the last k of them start in a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "stream/kinesis/kinesis.h"

#define GET_LIMIT     10000  /* GetRecords: records per call (Kinesis's most) */
#define EMPTY_CALLS   20     /* empty answers before a shard behind its tip counts as ended */
#define LAG_COUNT_MAX 100000 /* records a lag count reads at most */

typedef struct kcursor {
    char *iter;    /* the shard iterator, NULL: none yet (or the shard ended) */
    bool ended;    /* the shard is closed and read to its end */
    bool children; /* the last answer named child shards (the shard closed) */
    yajl_val doc;  /* the last GetRecords answer */
    size_t idx;    /* its next record to deliver */
    size_t got;    /* records in it */
    long long ms;  /* its MillisBehindLatest, -1: none */
    double next_call;
} kcursor;

typedef struct kpart {
    kcursor c;
    bool valid; /* c and at belong together */
    sf_pos at;  /* the position c delivers next */
} kpart;

struct kreader {
    kreader *next;
    pthread_t thread;
    sf_aws *aws;
    kpart *parts;
    uint32_t cap; /* parts[0..cap): grown as the stream's partitions grow */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cursor_drop(kcursor *c)
{
    free(c->iter);
    yajl_tree_free(c->doc);
    double next_call = c->next_call;
    memset(c, 0, sizeof *c);
    c->ms = -1;
    c->next_call = next_call;
}

/* ---- calls ---- */

static int call(sf_kinesis *k, sf_aws *a, const char *op, uint32_t p, sf_buf *body, yajl_val *out,
                sf_error *err)
{
    sf_aws_request rq = {
        .op = op, .resource = k->shard[p]->id, .body = body->data, .body_len = body->len};
    int rc = sf_buf_failed(body) ? sf_error_set(err, SF_ENOMEM, "out of memory")
                                 : sf_aws_call(a, &rq, err);
    if (rc == 0 && !(*out = sf_kinesis_parse(&rq.resp, op, err)))
        rc = err->code;
    if (rc == SF_EINVAL && strcmp(rq.code, "ExpiredIteratorException") == 0)
        rc = SF_ESTALE;
    sf_buf_free(&rq.resp);
    sf_buf_free(body);
    return rc;
}

static int iterator_of(sf_kinesis *k, sf_aws *a, uint32_t p, const char *type, const char *seq,
                       char **out, sf_error *err)
{
    sf_buf body = SF_BUF_INIT;
    sf_buf_puts(&body, "{\"StreamName\":");
    sf_buf_json_string(&body, k->name, strlen(k->name));
    sf_buf_puts(&body, ",\"ShardId\":");
    sf_buf_json_string(&body, k->shard[p]->id, strlen(k->shard[p]->id));
    sf_buf_printf(&body, ",\"ShardIteratorType\":\"%s\"", type);
    if (seq)
        sf_buf_printf(&body, ",\"StartingSequenceNumber\":\"%s\"", seq);
    sf_buf_puts(&body, "}");
    yajl_val doc = NULL;
    int rc = call(k, a, "GetShardIterator", p, &body, &doc, err);
    static const char *const it_p[] = {"ShardIterator", NULL};
    const char *it = rc == 0 ? sf_kinesis_str(doc, it_p) : NULL;
    if (rc == 0 && !it)
        rc = sf_error_set(err, SF_EIO, "kinesis stream %s shard %s: no ShardIterator", k->name,
                          k->shard[p]->id);
    if (rc == 0 && !(*out = strdup(it)))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    yajl_tree_free(doc);
    return rc;
}

/* A new iterator for the cursor at from (see the top). */
static int cursor_open(sf_kinesis *k, sf_aws *a, uint32_t p, const sf_pos *from, kcursor *c,
                       sf_error *err)
{
    cursor_drop(c);
    if (sf_pos_is_zero(from))
        return iterator_of(k, a, p, "TRIM_HORIZON", NULL, &c->iter, err);
    char text[SF_POS_TEXT_MAX];
    sf_pos prev = *from;
    sf_pos_sub_one(&prev, NULL);
    sf_pos_format(&prev, text, sizeof text);
    sf_error ignored = {0};
    int rc = iterator_of(k, a, p, "AFTER_SEQUENCE_NUMBER", text, &c->iter, &ignored);
    if (rc == SF_EINVAL) {
        sf_pos_format(from, text, sizeof text);
        rc = iterator_of(k, a, p, "AT_SEQUENCE_NUMBER", text, &c->iter, err);
    } else if (rc < 0 && err) {
        *err = ignored;
    }
    return rc;
}

/* GetRecords into c->doc, keeping the limits; renews an expired iterator
 * from `at`. */
static int cursor_fetch(sf_kinesis *k, sf_aws *a, uint32_t p, const sf_pos *at, kcursor *c,
                        sf_error *err)
{
    double wait = c->next_call - now_s();
    if (wait > 0) {
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    int rc = 0;
    for (int renewals = 0;; renewals++) {
        sf_buf body = SF_BUF_INIT;
        sf_buf_puts(&body, "{\"ShardIterator\":");
        sf_buf_json_string(&body, c->iter, strlen(c->iter));
        sf_buf_printf(&body, ",\"Limit\":%d}", GET_LIMIT);
        yajl_tree_free(c->doc);
        c->doc = NULL;
        rc = call(k, a, "GetRecords", p, &body, &c->doc, err);
        if (rc != SF_ESTALE || renewals > 0)
            break;
        sf_logf(SF_LOG_INFO, "kinesis_iterator_renewed", "stream=%s shard=%s", k->name,
                k->shard[p]->id);
        if ((rc = cursor_open(k, a, p, at, c, err)) < 0)
            return rc;
    }
    c->next_call = now_s() + k->read_gap_ms / 1e3;
    if (rc < 0)
        return rc;
    static const char *const recs_p[] = {"Records", NULL};
    static const char *const next_p[] = {"NextShardIterator", NULL};
    static const char *const ms_p[] = {"MillisBehindLatest", NULL};
    yajl_val recs = sf_kinesis_array(c->doc, recs_p);
    c->got = recs ? YAJL_GET_ARRAY(recs)->len : 0;
    c->idx = 0;
    c->ms = sf_kinesis_int(c->doc, ms_p, -1);
    const char *next = sf_kinesis_str(c->doc, next_p);
    free(c->iter);
    c->iter = next ? strdup(next) : NULL;
    c->ended = !next;
    static const char *const child_p[] = {"ChildShards", NULL};
    yajl_val children = sf_kinesis_array(c->doc, child_p);
    c->children = children && YAJL_GET_ARRAY(children)->len > 0;
    if (next && !c->iter)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    return 0;
}

/* Whether the last call reached the shard's tip. */
static bool cursor_at_tip(const kcursor *c)
{
    return c->ended || (c->got < GET_LIMIT && c->ms <= 0);
}

/* The record at c's idx: its sequence number and data (base64). */
static int record_at(sf_kinesis *k, uint32_t p, const kcursor *c, sf_pos *seq, const char **data,
                     double *arrival, sf_error *err)
{
    static const char *const recs_p[] = {"Records", NULL};
    static const char *const seq_p[] = {"SequenceNumber", NULL};
    static const char *const data_p[] = {"Data", NULL};
    static const char *const at_p[] = {"ApproximateArrivalTimestamp", NULL};
    yajl_val r = YAJL_GET_ARRAY(sf_kinesis_array(c->doc, recs_p))->values[c->idx];
    const char *s = sf_kinesis_str(r, seq_p);
    *data = sf_kinesis_str(r, data_p);
    if (!s || !*data || sf_pos_parse(s, strlen(s), seq, err) < 0)
        return sf_error_set(err, SF_EIO,
                            "kinesis stream %s shard %s: a record without a "
                            "sequence number or data",
                            k->name, k->shard[p]->id);
    yajl_val t = yajl_tree_get(r, (const char **)at_p, yajl_t_number);
    *arrival = t ? YAJL_GET_DOUBLE(t) : 0;
    return 0;
}

/* ---- readers ---- */

/* Room in r for partition p's cursor (caller holds readers_mu). */
static bool reader_grow(sf_kinesis *k, kreader *r, uint32_t p)
{
    if (p < r->cap)
        return true;
    uint32_t cap = sf_kinesis_nparts(k);
    kpart *parts = realloc(r->parts, (cap > p ? cap : p + 1) * sizeof *parts);
    if (!parts)
        return false;
    cap = cap > p ? cap : p + 1;
    memset(parts + r->cap, 0, (cap - r->cap) * sizeof *parts);
    for (uint32_t q = r->cap; q < cap; q++)
        parts[q].c.ms = -1;
    r->parts = parts;
    r->cap = cap;
    return true;
}

/* The calling thread's reader, with room for partition p. */
static kreader *reader_of_thread(sf_kinesis *k, uint32_t p, sf_error *err)
{
    pthread_mutex_lock(&k->readers_mu);
    kreader *r = k->readers;
    while (r && !pthread_equal(r->thread, pthread_self()))
        r = r->next;
    if (!r && (r = calloc(1, sizeof *r))) {
        r->thread = pthread_self();
        if (sf_kinesis_client(k, 1, &r->aws, err) < 0) {
            free(r);
            r = NULL;
        } else {
            r->next = k->readers;
            k->readers = r;
        }
    }
    bool room = r && reader_grow(k, r, p);
    pthread_mutex_unlock(&k->readers_mu);
    if ((!r || !room) && err && !err->code)
        sf_error_set(err, SF_ENOMEM, "out of memory");
    return room ? r : NULL;
}

void sf_kinesis_readers_free(sf_kinesis *k)
{
    while (k->readers) {
        kreader *r = k->readers;
        k->readers = r->next;
        for (uint32_t p = 0; p < r->cap; p++)
            cursor_drop(&r->parts[p].c);
        free(r->parts);
        sf_aws_close(r->aws);
        free(r);
    }
}

/* ---- reading ---- */

/* Move what c holds into the batch while it fits. */
static int deliver(sf_kinesis *k, uint32_t p, kpart *kp, sf_stream_batch *b, size_t *used,
                   sf_error *err)
{
    kcursor *c = &kp->c;
    while (c->idx < c->got && b->count < b->cap) {
        sf_pos seq;
        const char *data;
        double arrival;
        int rc = record_at(k, p, c, &seq, &data, &arrival, err);
        if (rc < 0)
            return rc;
        if (sf_pos_cmp(&seq, &kp->at) < 0) { /* before the position asked for */
            c->idx++;
            continue;
        }
        size_t n = strlen(data);
        if (*used + n / 4 * 3 > b->buf_cap) {
            if (b->count == 0)
                return sf_error_set(err, SF_ECORRUPT,
                                    "kinesis stream %s shard %s: a record of %zu bytes, more "
                                    "than a read holds (%zu)",
                                    k->name, k->shard[p]->id, n / 4 * 3, b->buf_cap);
            break;
        }
        long len = sf_kinesis_b64_decode(data, n, b->buf + *used);
        if (len < 0)
            return sf_error_set(err, SF_ECORRUPT, "kinesis stream %s shard %s: data not base64",
                                k->name, k->shard[p]->id);
        sf_stream_entry *e = &b->entries[b->count++];
        e->pos = seq;
        e->data = b->buf + *used;
        e->len = (uint32_t)len;
        *used += (size_t)len;
        kp->at = seq;
        sf_pos_add_one(&kp->at, NULL);
        c->idx++;
    }
    return 0;
}

/* The shard of kp is read to its end (no NextShardIterator): closed by a
 * reshard. The table learns it (a listing, at most once a second), and the
 * read's next becomes the shard's end, so that a reader storing it has
 * finished the shard. Asked of children (ChildShards), it lists too. */
static int past_end(sf_kinesis *k, uint32_t p, kpart *kp, sf_error *err)
{
    sf_pos end;
    bool ended = kp->c.ended && kp->c.idx >= kp->c.got;
    if ((ended || kp->c.children) && !sf_kinesis_closed(k, p, &end)) {
        int rc = sf_kinesis_refresh(k, false, err);
        if (rc < 0)
            return rc;
    }
    if (ended && sf_kinesis_closed(k, p, &end) && sf_pos_cmp(&end, &kp->at) > 0)
        kp->at = end;
    return 0;
}

/* A read that needs no call: a gone shard, a closed one read past its end
 * (1, with b->next = from); a position before the shard's first, which
 * cannot be this shard's (SF_EINVAL); else 0. */
static int read_nothing(sf_kinesis *k, uint32_t p, const sf_pos *from, sf_error *err)
{
    const kshard *e = k->shard[p];
    sf_pos end;
    if (!e->listed || (sf_kinesis_closed(k, p, &end) && sf_pos_cmp(from, &end) >= 0))
        return 1;
    if (sf_pos_is_zero(from) || sf_pos_cmp(from, &e->first) >= 0)
        return 0;
    char at[SF_POS_TEXT_MAX], first[SF_POS_TEXT_MAX];
    sf_pos_format(from, at, sizeof at);
    sf_pos_format(&e->first, first, sizeof first);
    return sf_error_set(err, SF_EINVAL,
                        "kinesis stream %s: partition %u (shard %s) starts at sequence number %s; "
                        "position %s is before it, so it was not read from this shard: the "
                        "reader's stored position belongs to another stream (was the stream "
                        "deleted and made again under its name?)",
                        k->name, p, e->id, first, at);
}

int sf_kinesis_read(sf_stream *s, uint32_t p, const sf_pos *from, sf_stream_batch *b, sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    b->count = 0;
    b->next = *from;
    memset(&b->hole, 0, sizeof b->hole);
    int rc = sf_kinesis_lease_check(k, err);
    if (rc == 0)
        rc = read_nothing(k, p, from, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    kreader *r = reader_of_thread(k, p, err);
    if (!r)
        return err ? err->code : SF_ENOMEM;
    kpart *kp = &r->parts[p];
    if (!kp->valid || sf_pos_cmp(&kp->at, from) != 0) {
        kp->valid = false;
        kp->at = *from;
        if ((rc = cursor_open(k, r->aws, p, from, &kp->c, err)) < 0)
            return rc;
        kp->valid = true;
    }
    size_t used = 0;
    bool closed = sf_kinesis_closed(k, p, NULL); /* read on to its end, not to its tip */
    rc = deliver(k, p, kp, b, &used, err);
    for (int calls = 0; rc == 0 && b->count == 0 && kp->c.iter && calls < EMPTY_CALLS; calls++) {
        rc = cursor_fetch(k, r->aws, p, &kp->at, &kp->c, err);
        if (rc == 0)
            rc = deliver(k, p, kp, b, &used, err);
        if (rc == 0 && b->count == 0 && cursor_at_tip(&kp->c) && !closed)
            break;
        if (k->read_rate > 0) /* the bytes delivered, at the shard's read rate */
            kp->c.next_call += (double)used / k->read_rate;
    }
    if (rc == 0 && b->count == 0)
        rc = past_end(k, p, kp, err);
    if (rc < 0) {
        kp->valid = false;
        return rc;
    }
    b->next = kp->at;
    sf_kinesis_saw(k, p, &kp->at);
    return 0;
}

/* ---- counting ---- */

typedef struct count {
    double cutoff;     /* records that arrived before (epoch s) are outside the window */
    uint64_t skip;     /* stop after this many window records (UINT64_MAX: none) */
    uint64_t n;        /* window records seen */
    bool has_before;   /* a record before the window was seen */
    sf_pos before_end; /* past the last of them */
    sf_pos after_skip; /* past the skip-th window record */
    sf_pos end;        /* past the last record seen (0: none) */
    long long ms;      /* the last MillisBehindLatest */
    bool complete;     /* read to the tip */
} count;

/* Read p from `from` with the control client, counting (see count). */
static int count_records(sf_kinesis *k, uint32_t p, const sf_pos *from, count *ct, uint64_t most,
                         sf_error *err)
{
    kcursor c = {.ms = -1};
    pthread_mutex_lock(&k->ctl_mu);
    int rc = cursor_open(k, k->ctl, p, from, &c, err);
    while (rc == 0 && c.iter && ct->n < most && ct->n < ct->skip) {
        if ((rc = cursor_fetch(k, k->ctl, p, from, &c, err)) < 0)
            break;
        ct->ms = c.ms;
        for (; rc == 0 && c.idx < c.got && ct->n < ct->skip; c.idx++) {
            sf_pos seq;
            const char *data;
            double arrival;
            if ((rc = record_at(k, p, &c, &seq, &data, &arrival, err)) < 0)
                break;
            sf_pos_add_one(&seq, NULL);
            if (sf_pos_cmp(&seq, from) <= 0)
                continue;
            ct->end = seq;
            if (arrival && arrival < ct->cutoff) {
                ct->has_before = true;
                ct->before_end = seq;
            } else if (++ct->n == ct->skip) {
                ct->after_skip = seq;
            }
        }
        if (cursor_at_tip(&c)) {
            ct->complete = true;
            break;
        }
    }
    cursor_drop(&c);
    pthread_mutex_unlock(&k->ctl_mu);
    if (rc == 0 && ct->complete && !sf_pos_is_zero(&ct->end))
        sf_kinesis_saw(k, p, &ct->end);
    return rc;
}

/* Start: the shard's first sequence number. End: past the newest record
 * known here, after reading on from there to the shard's tip (at most once
 * a second per shard: /metrics and status ask often); a closed shard's end
 * is its own (EndingSequenceNumber + 1), with no call, and a gone one is
 * empty. */
int sf_kinesis_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    kshard *e = k->shard[p];
    memset(out, 0, sizeof *out);
    out->gone = !e->listed;
    out->start = e->first;
    double now = now_s();
    pthread_mutex_lock(&k->mu);
    out->closed = e->closed;
    bool ask = !e->closed && now - e->end_asked >= 1.0;
    if (ask)
        e->end_asked = now;
    sf_pos from = e->seen_end;
    pthread_mutex_unlock(&k->mu);
    count ct = {.skip = UINT64_MAX};
    int rc = ask ? count_records(k, p, &from, &ct, LAG_COUNT_MAX, err) : 0;
    pthread_mutex_lock(&k->mu);
    out->end = e->closed ? e->end : e->seen_end;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

int sf_kinesis_lag(sf_stream *s, uint32_t p, const sf_pos *from, sf_lag *out, sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    int nothing = read_nothing(k, p, from, err);
    if (nothing != 0) { /* gone, or closed and read past: 0 behind */
        out->has_records = out->records_exact = nothing > 0;
        return nothing < 0 ? nothing : 0;
    }
    /* This thread's cursor there: its last MillisBehindLatest, no call. */
    pthread_mutex_lock(&k->readers_mu);
    kreader *r = k->readers;
    while (r && !pthread_equal(r->thread, pthread_self()))
        r = r->next;
    kpart *kp = r && p < r->cap ? &r->parts[p] : NULL;
    bool cached = kp && kp->valid && kp->c.ms >= 0 && sf_pos_cmp(&kp->at, from) == 0;
    if (cached) {
        out->has_ms = true;
        out->ms = (uint64_t)kp->c.ms;
    }
    pthread_mutex_unlock(&k->readers_mu);
    if (cached)
        return 0;
    count ct = {.skip = UINT64_MAX};
    int rc = count_records(k, p, from, &ct, LAG_COUNT_MAX, err);
    if (rc < 0)
        return rc;
    out->has_ms = ct.ms >= 0;
    out->ms = ct.ms > 0 ? (uint64_t)ct.ms : 0;
    out->has_records = ct.complete;
    out->records_exact = ct.complete;
    out->records = ct.n;
    return 0;
}

int sf_kinesis_tail_start(sf_stream *s, uint32_t p, uint64_t max_records, sf_pos *out,
                          sf_error *err)
{
    sf_kinesis *k = (sf_kinesis *)s;
    static const sf_pos zero;
    memset(out, 0, sizeof *out);
    if (!k->shard[p]->listed)
        return 0; /* gone: nothing to read */
    double cutoff = (double)time(NULL) - (double)k->window_seconds;
    count all = {.cutoff = cutoff, .skip = UINT64_MAX};
    int rc = count_records(k, p, &zero, &all, UINT64_MAX, err);
    if (rc < 0)
        return rc;
    if (max_records >= all.n) { /* the whole window */
        memset(out, 0, sizeof *out);
        if (all.has_before)
            *out = all.before_end;
        return 0;
    }
    count part = {.cutoff = cutoff, .skip = all.n - max_records};
    if ((rc = count_records(k, p, &zero, &part, UINT64_MAX, err)) == 0)
        *out = part.after_skip;
    return rc;
}
