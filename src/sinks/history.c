/*
 * history.c - the history sink: each invoice with its lines, and each
 * customer's invoices by date (the seed's DynamoDB tables), in a store
 * (storage/store/store.h), under the keys of storage/store/history_keys.h
 * (positions 'o', headers 'i', lines 'l', the customers' index 'c', the
 * entries set aside 'q').
 *
 * Every line of the data is kept, identical lines of one invoice included:
 * they are distinct rows of the data, numbered in stream order (an invoice's
 * lines are all in one partition, in order). Each batch is applied in one
 * transaction that also stores the partition's new position, so after any
 * crash the store and its position agree, and nothing is applied twice.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/pack.h"
#include "core/progress.h"
#include "sinks/history.h"
#include "sinks/quarantine.h"
#include "sinks/sink.h"
#include "storage/store/history_keys.h"

_Static_assert(SF_HISTORY_QUARANTINE_TIME_LEN == SF_QUARANTINE_TIME_LEN,
               "the quarantine's time is stored in the history's 'q' values");

typedef struct history {
    sf_sink base;
    sf_store *store;
    sf_store_txn *txn;  /* the write transaction batches go into until flush */
    uint64_t pending;   /* entries read into txn (records and entries set aside) */
    uint64_t records;   /* records applied in txn: counted as committed with it */
    uint64_t set_aside; /* entries set aside in txn */
    double began;       /* when txn began */
} history;

/* A flush that is not of everything commits when the transaction holds this
 * many records or is this old (the warehouse sink's figures too). */
#define COMMIT_RECORDS 65536
#define COMMIT_AGE_S   1.0

/* The invoice the lines being applied belong to: an invoice's lines come
 * one after another in its partition, so its header is read once, kept
 * here while its lines are added, and written once when the next invoice
 * (or the end of the batch) comes. */
typedef struct current {
    bool open;
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    size_t klen;
    sf_invoice_header h;
} current;

/* Write the header of the current invoice. */
static int close_invoice(sf_store_txn *t, const sf_store_ops *ops, current *cur, sf_error *err)
{
    if (!cur->open)
        return 0;
    uint8_t val[SF_HISTORY_HEADER_MAX];
    cur->open = false;
    return ops->put(t, cur->key, cur->klen, val, sf_history_encode_header(&cur->h, val), err);
}

/* Make r's invoice the current one: its stored header, or a new one (and
 * then its entry in the customer's index). */
static int open_invoice(sf_store_txn *t, const sf_store_ops *ops, current *cur, const sf_record *r,
                        sf_error *err)
{
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    size_t klen = sf_history_invoice_key(r->invoice_no, r->invoice_no_len, key);
    if (cur->open && klen == cur->klen && memcmp(key, cur->key, klen) == 0)
        return 0;
    int rc = close_invoice(t, ops, cur, err);
    const void *old;
    size_t olen;
    if (rc == 0 && (rc = ops->get(t, key, klen, &old, &olen, err)) == 0 &&
        sf_history_decode_header(old, olen, &cur->h, err) < 0)
        return sf_error_prefix(err, "history: invoice %s: ", r->invoice_no);
    bool fresh = rc == SF_ENOENT;
    if (rc < 0 && !fresh)
        return rc;
    memcpy(cur->key, key, klen);
    cur->klen = klen;
    cur->open = true;
    if (!fresh)
        return 0;
    sf_invoice_header *h = &cur->h;
    memset(h, 0, sizeof *h);
    h->date = r->invoice_date;
    h->customer_id = r->customer_id;
    h->kind = r->kind;
    h->country_len = r->country_len;
    memcpy(h->country, r->country, r->country_len);
    if (r->customer_id == SF_NO_CUSTOMER)
        return 0;
    uint8_t ckey[SF_HISTORY_CUSTOMER_KEY_MAX];
    size_t clen = sf_history_customer_key(r->customer_id, r->invoice_date, r->invoice_no,
                                          r->invoice_no_len, ckey);
    return ops->put(t, ckey, clen, "", 0, err);
}

static int apply_record(sf_store_txn *t, const sf_store_ops *ops, current *cur, const sf_record *r,
                        const uint8_t *packed, size_t plen, sf_error *err)
{
    int rc = open_invoice(t, ops, cur, r, err);
    if (rc < 0)
        return rc;
    /* The line, numbered after those already stored. */
    sf_invoice_header *h = &cur->h;
    uint8_t lkey[SF_HISTORY_LINE_KEY_MAX];
    size_t llen = sf_history_line_key(r->invoice_no, r->invoice_no_len, h->lines, lkey);
    if ((rc = ops->put(t, lkey, llen, packed, plen, err)) < 0)
        return rc;
    h->lines++;
    h->units += r->quantity;
    h->total += sf_record_amount(r);
    return 0;
}

/* End the open transaction: committed (its effects and positions durable
 * together), or aborted. */
static int end_txn(history *hs, bool commit, sf_error *err)
{
    sf_store_txn *t = hs->txn;
    hs->txn = NULL;
    if (!t)
        return 0;
    uint64_t records = hs->records, set_aside = hs->set_aside;
    hs->records = hs->set_aside = 0;
    if (!commit) {
        hs->store->ops->abort(t);
        return 0;
    }
    int rc = hs->store->ops->commit(t, err);
    if (rc == 0) {
        atomic_fetch_add(&hs->base.committed, records);
        atomic_fetch_add(&hs->base.quarantined, set_aside);
    }
    return rc;
}

/* p's stored position into *at (0 when none is stored; *stored says
 * whether one is). */
static int stored_position(sf_store_txn *t, const sf_store_ops *ops, uint32_t p, uint64_t *at,
                           bool *stored, sf_error *err)
{
    uint8_t okey[SF_HISTORY_POSITION_KEY_LEN];
    const void *v;
    size_t n;
    *at = 0;
    *stored = false;
    int rc = ops->get(t, okey, sf_history_position_key(p, okey), &v, &n, err);
    if (rc == SF_ENOENT)
        return 0;
    if (rc == 0 && (rc = sf_history_position_decode(v, n, at, err)) == 0)
        *stored = true;
    return rc;
}

/* The fence, inside the write transaction (LMDB has one writer at a time,
 * across processes): a batch applies only from the partition's stored
 * position. A member of the group that lost the partition without knowing
 * (a zombie) and still writes from where it was is refused, SF_ESTALE, and
 * re-reads from the store (runner.c), rather than applying records the new
 * owner has applied already. No position stored yet: nothing to fence. */
static int fence(sf_store_txn *t, const sf_store_ops *ops, uint32_t p, const sf_stream_batch *b,
                 sf_error *err)
{
    uint64_t stored;
    bool any;
    int rc = stored_position(t, ops, p, &stored, &any, err);
    if (rc < 0 || !any || b->count == 0) /* no entry (a hole skipped): the position moves on */
        return rc;
    if (stored != b->entries[0].offset)
        return sf_error_set(err, SF_ESTALE,
                            "history: partition %u: a batch from offset %llu, but the store is at "
                            "%llu (another member applied it): refused",
                            p, (unsigned long long)b->entries[0].offset,
                            (unsigned long long)stored);
    return 0;
}

/* The open write transaction, begun if there is none. */
static int open_txn(history *hs, sf_error *err)
{
    if (hs->txn)
        return 0;
    int rc = hs->store->ops->begin(hs->store, true, &hs->txn, err);
    hs->pending = hs->records = hs->set_aside = 0;
    hs->began = sf_monotonic();
    return rc;
}

/* Store p's position as next in the open transaction. */
static int put_position(history *hs, uint32_t p, uint64_t next, sf_error *err)
{
    uint8_t okey[SF_HISTORY_POSITION_KEY_LEN], oval[SF_HISTORY_POSITION_VALUE_LEN];
    sf_put_be64(oval, next);
    return hs->store->ops->put(hs->txn, okey, sf_history_position_key(p, okey), oval, sizeof oval,
                               err);
}

static int history_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    history *hs = (history *)s;
    const sf_store_ops *ops = hs->store->ops;
    int rc = open_txn(hs, err);
    if (rc < 0)
        return rc;
    hs->pending += b->count;
    current cur = {0};
    rc = fence(hs->txn, ops, p, b, err);
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        sf_record r;
        rc = sf_stream_entry_record(&b->entries[i], p, &r, err);
        if (rc == 0)
            rc = apply_record(hs->txn, ops, &cur, &r, b->entries[i].data, b->entries[i].len, err);
    }
    if (rc == 0)
        rc = close_invoice(hs->txn, ops, &cur, err);
    if (rc == 0)
        rc = put_position(hs, p, b->next_offset, err);
    if (rc < 0)
        end_txn(hs, false, err); /* nothing of the transaction stays */
    else
        hs->records += b->count;
    return rc;
}

static int history_resume(sf_sink *s, uint64_t *next, uint32_t nparts, sf_error *err)
{
    history *hs = (history *)s;
    const sf_store_ops *ops = hs->store->ops;
    sf_store_txn *t = NULL;
    end_txn(hs, false, err); /* a failed run's batches are read again */
    int rc = ops->begin(hs->store, false, &t, err);
    for (uint32_t p = 0; rc == 0 && p < nparts; p++) {
        bool any;
        rc = stored_position(t, ops, p, &next[p], &any, err);
    }
    if (t)
        ops->abort(t); /* read-only: nothing to commit */
    return rc;
}

/* Commit when caught up (all), or when the transaction is big or old
 * enough: a few commits (each rewrites the pages it touched and syncs
 * twice) for a whole load, and readers see new invoices within a second. */
static int history_flush(sf_sink *s, bool all, sf_error *err)
{
    history *hs = (history *)s;
    bool due =
        all ||
        (hs->txn && (hs->pending >= COMMIT_RECORDS || sf_monotonic() - hs->began >= COMMIT_AGE_S));
    return due ? end_txn(hs, true, err) : 0;
}

static void history_close(sf_sink *s)
{
    sf_error err = {0};
    end_txn((history *)s, false, &err); /* not flushed: read again next time */
    free(s);
}

/* ---- the quarantine: 'q' keys ---- */

static int history_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                              uint64_t next, sf_error *err)
{
    history *hs = (history *)s;
    const sf_store_ops *ops = hs->store->ops;
    char at[SF_QUARANTINE_TIME_LEN + 1];
    sf_quarantine_now(at);
    sf_history_quarantined q = {p,       e->offset, at, reason, strnlen(reason, UINT16_MAX),
                                e->data, e->len};
    size_t vlen = sf_history_quarantine_encode(&q, NULL);
    uint8_t key[SF_HISTORY_QUARANTINE_KEY_LEN], *val = malloc(vlen);
    int rc = val ? open_txn(hs, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
    sf_stream_batch one = {.entries = (sf_stream_entry *)e, .count = 1, .next_offset = next};
    if (rc == 0)
        rc = fence(hs->txn, ops, p, &one, err);
    if (rc == 0) {
        sf_history_quarantine_encode(&q, val);
        rc = ops->put(hs->txn, key, sf_history_quarantine_key(p, e->offset, key), val, vlen, err);
    }
    if (rc == 0)
        rc = put_position(hs, p, next, err);
    free(val);
    if (rc < 0 && hs->txn)
        end_txn(hs, false, err);
    if (rc == 0) {
        hs->pending++;
        hs->set_aside++;
    }
    return rc;
}

typedef struct lister {
    int (*fn)(void *ctx, const sf_quarantined *q);
    void *ctx;
    int rc;
} lister;

static int list_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    lister *l = ctx;
    sf_history_quarantined hq;
    if (sf_history_quarantine_decode(key, klen, val, vlen, &hq, NULL) < 0)
        return 0; /* not one of ours (never written so): listed by no one, skipped */
    char at[SF_QUARANTINE_TIME_LEN + 1], reason[SF_ERROR_MSG_MAX];
    memcpy(at, hq.at, SF_QUARANTINE_TIME_LEN);
    at[SF_QUARANTINE_TIME_LEN] = '\0';
    snprintf(reason, sizeof reason, "%.*s", (int)hq.reason_len, hq.reason);
    sf_quarantined q = {hq.partition, hq.offset, reason, at, hq.data, hq.len};
    l->rc = l->fn(l->ctx, &q);
    return l->rc;
}

static int history_quarantined(sf_sink *s, int (*fn)(void *ctx, const sf_quarantined *q), void *ctx,
                               sf_error *err)
{
    history *hs = (history *)s;
    sf_store_txn *t = NULL;
    lister l = {fn, ctx, 0};
    const uint8_t prefix = SF_HISTORY_KEY_QUARANTINE;
    int rc = hs->store->ops->begin(hs->store, false, &t, err);
    if (rc == 0)
        rc = hs->store->ops->scan(t, &prefix, 1, NULL, 0, list_one, &l, err);
    if (t)
        hs->store->ops->abort(t);
    return rc < 0 ? rc : l.rc;
}

static int history_retry(sf_sink *s, uint32_t p, uint64_t offset, const sf_record *r, sf_error *err)
{
    history *hs = (history *)s;
    const sf_store_ops *ops = hs->store->ops;
    if (hs->txn)
        return sf_error_set(err, SF_EBUSY, "history: a retry while batches are being applied");
    uint8_t key[SF_HISTORY_QUARANTINE_KEY_LEN], packed[SF_PACK_MAX];
    size_t klen = sf_history_quarantine_key(p, offset, key);
    int len = sf_record_pack(r, packed, sizeof packed);
    const void *v;
    size_t vlen;
    current cur = {0};
    int rc = ops->begin(hs->store, true, &hs->txn, err);
    if (rc == 0 && (rc = ops->get(hs->txn, key, klen, &v, &vlen, err)) == SF_ENOENT)
        rc = sf_error_set(err, SF_ENOENT,
                          "history: partition %u offset %llu is not in its quarantine (retried "
                          "already?)",
                          p, (unsigned long long)offset);
    /* The line goes after the invoice's stored lines: all of them came
     * before it in the stream, or were retried before it. */
    if (rc == 0)
        rc = apply_record(hs->txn, ops, &cur, r, packed, (size_t)len, err);
    if (rc == 0)
        rc = close_invoice(hs->txn, ops, &cur, err);
    if (rc == 0)
        rc = ops->del(hs->txn, key, klen, err);
    int ended = end_txn(hs, rc == 0, err);
    return rc < 0 ? rc : ended;
}

static const sf_sink_ops history_ops = {
    .name = "history",
    .resume = history_resume,
    .apply = history_apply,
    .flush = history_flush,
    .close = history_close,
    .quarantine = history_quarantine,
    .quarantined = history_quarantined,
    .retry = history_retry,
};

int sf_history_sink_new(sf_store *store, sf_sink **out, sf_error *err)
{
    history *h = calloc(1, sizeof *h);
    if (!h)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    h->base.ops = &history_ops;
    h->store = store;
    *out = &h->base;
    return 0;
}
