/*
 * history.c - the history sink: each invoice with its lines, and each
 * customer's invoices by date (the seed's DynamoDB tables), in a store
 * (storage/store/store.h).
 *
 * Keys (bytes; integers big-endian so that keys sort numerically):
 *   'o' partition(u32)                      -> next offset (u64): the position
 *   'i' invoice_no                          -> invoice header (encode_header)
 *   'l' invoice_no 0x00 line(u32)           -> the line, as a packed record
 *   'c' customer(u32) date(u64, +2^63) invoice_no -> "" (index, by date)
 *   'q' partition(u32) offset(u64)           -> an entry set aside (quarantine.h):
 *        when (SF_QUARANTINE_TIME_LEN bytes), reason length (u16), reason,
 *        the entry's bytes
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

size_t sf_history_invoice_key(const char *invoice_no, size_t len, uint8_t *key)
{
    key[0] = 'i';
    memcpy(key + 1, invoice_no, len);
    return 1 + len;
}

size_t sf_history_customer_prefix(int32_t customer, uint8_t *key)
{
    key[0] = 'c';
    sf_put_be32(key + 1, (uint32_t)customer);
    return 5;
}

/*
 * An invoice header as stored, integers in host order (one host, one
 * format). Version 2 (128-bit totals):
 *   date i64 | total i128 | units i128 | customer i32 | lines u32 | kind u8 |
 *   country_len u8 | country | 0x00 0x02
 * Version 1 (shopflow before 128-bit totals) was the struct's bytes up to its
 * country as they lay in memory:
 *   date i64 | total i64 | units i64 | customer i32 | lines u32 | kind u8 |
 *   country_len u8 | country_len u8 | country
 * A version 1 value never has a 0 byte just before its last (that is a byte
 * of the country, which is not empty and holds no NUL, or its length), so
 * the trailer tells the two apart. Both are read; a version 1 header is
 * written as version 2 when its invoice gets another line.
 */
#define HEADER_FIXED   50 /* version 2, up to the country */
#define HEADER_V1      34
#define HEADER_VERSION 2

static size_t put(uint8_t *buf, size_t at, const void *field, size_t size)
{
    memcpy(buf + at, field, size);
    return at + size;
}

static size_t encode_header(const sf_invoice_header *h, uint8_t *buf)
{
    size_t n = put(buf, 0, &h->date, 8);
    n = put(buf, n, &h->total, 16);
    n = put(buf, n, &h->units, 16);
    n = put(buf, n, &h->customer_id, 4);
    n = put(buf, n, &h->lines, 4);
    n = put(buf, n, &h->kind, 1);
    n = put(buf, n, &h->country_len, 1);
    n = put(buf, n, h->country, h->country_len);
    buf[n++] = 0;
    buf[n++] = HEADER_VERSION;
    return n;
}

/* Version 1: the 64-bit totals widened. */
static int decode_v1(const uint8_t *b, size_t len, sf_invoice_header *h)
{
    int64_t total, units;
    if (len < HEADER_V1 + 1 || len != HEADER_V1 + 1u + b[HEADER_V1] ||
        b[HEADER_V1] > SF_COUNTRY_MAX)
        return -1;
    memcpy(&h->date, b, 8);
    memcpy(&total, b + 8, 8);
    memcpy(&units, b + 16, 8);
    memcpy(&h->customer_id, b + 24, 4);
    memcpy(&h->lines, b + 28, 4);
    h->kind = b[32];
    h->total = total, h->units = units;
    h->country_len = b[HEADER_V1];
    memcpy(h->country, b + HEADER_V1 + 1, h->country_len);
    h->country[h->country_len] = '\0';
    return 0;
}

int sf_history_decode_header(const void *val, size_t len, sf_invoice_header *h)
{
    const uint8_t *b = val;
    if (len < 2 || b[len - 2] != 0)
        return decode_v1(b, len, h);
    if (b[len - 1] != HEADER_VERSION || len < HEADER_FIXED + 2 ||
        len != HEADER_FIXED + 2u + b[HEADER_FIXED - 1] || b[HEADER_FIXED - 1] > SF_COUNTRY_MAX)
        return -1;
    memcpy(&h->date, b, 8);
    memcpy(&h->total, b + 8, 16);
    memcpy(&h->units, b + 24, 16);
    memcpy(&h->customer_id, b + 40, 4);
    memcpy(&h->lines, b + 44, 4);
    h->kind = b[48];
    h->country_len = b[HEADER_FIXED - 1];
    memcpy(h->country, b + HEADER_FIXED, h->country_len);
    h->country[h->country_len] = '\0';
    return 0;
}

/* The invoice the lines being applied belong to: an invoice's lines come
 * one after another in its partition, so its header is read once, kept
 * here while its lines are added, and written once when the next invoice
 * (or the end of the batch) comes. */
typedef struct current {
    bool open;
    uint8_t key[1 + SF_INVOICE_NO_MAX];
    size_t klen;
    sf_invoice_header h;
} current;

/* Write the header of the current invoice. */
static int close_invoice(sf_store_txn *t, const sf_store_ops *ops, current *cur, sf_error *err)
{
    if (!cur->open)
        return 0;
    uint8_t val[HEADER_FIXED + SF_COUNTRY_MAX + 2];
    cur->open = false;
    return ops->put(t, cur->key, cur->klen, val, encode_header(&cur->h, val), err);
}

/* Make r's invoice the current one: its stored header, or a new one (and
 * then its entry in the customer's index). */
static int open_invoice(sf_store_txn *t, const sf_store_ops *ops, current *cur, const sf_record *r,
                        sf_error *err)
{
    uint8_t key[1 + SF_INVOICE_NO_MAX];
    size_t klen = sf_history_invoice_key(r->invoice_no, r->invoice_no_len, key);
    if (cur->open && klen == cur->klen && memcmp(key, cur->key, klen) == 0)
        return 0;
    int rc = close_invoice(t, ops, cur, err);
    const void *old;
    size_t olen;
    if (rc == 0 && (rc = ops->get(t, key, klen, &old, &olen, err)) == 0 &&
        sf_history_decode_header(old, olen, &cur->h) < 0)
        return sf_error_set(err, SF_ECORRUPT, "history: invoice %s: damaged header", r->invoice_no);
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
    uint8_t ckey[5 + 8 + SF_INVOICE_NO_MAX];
    size_t clen = sf_history_customer_prefix(r->customer_id, ckey);
    sf_put_be64(ckey + clen, (uint64_t)r->invoice_date + (UINT64_C(1) << 63));
    memcpy(ckey + clen + 8, r->invoice_no, r->invoice_no_len);
    return ops->put(t, ckey, clen + 8 + r->invoice_no_len, "", 0, err);
}

static int apply_record(sf_store_txn *t, const sf_store_ops *ops, current *cur, const sf_record *r,
                        const uint8_t *packed, size_t plen, sf_error *err)
{
    int rc = open_invoice(t, ops, cur, r, err);
    if (rc < 0)
        return rc;
    /* The line, numbered after those already stored. */
    sf_invoice_header *h = &cur->h;
    uint8_t lkey[1 + SF_INVOICE_NO_MAX + 1 + 4];
    lkey[0] = 'l';
    memcpy(lkey + 1, r->invoice_no, r->invoice_no_len);
    lkey[1 + r->invoice_no_len] = 0;
    sf_put_be32(lkey + 2 + r->invoice_no_len, h->lines);
    if ((rc = ops->put(t, lkey, 6 + r->invoice_no_len, packed, plen, err)) < 0)
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

/* The position key of partition p: 'o' p(u32). */
static void position_key(uint32_t p, uint8_t okey[5])
{
    okey[0] = 'o';
    sf_put_be32(okey + 1, p);
}

/* p's stored position into *at: 1, or 0 when none is stored, or an error. */
static int stored_position(sf_store_txn *t, const sf_store_ops *ops, uint32_t p, uint64_t *at,
                           sf_error *err)
{
    uint8_t okey[5];
    position_key(p, okey);
    const void *v;
    size_t n;
    int g = ops->get(t, okey, sizeof okey, &v, &n, err);
    *at = g == 0 && n == 8 ? sf_get_be64(v) : 0;
    return g == SF_ENOENT ? 0 : g < 0 ? g : 1;
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
    int got = stored_position(t, ops, p, &stored, err);
    if (got <= 0 || b->count == 0) /* no entry (a hole skipped): the position moves on */
        return got < 0 ? got : 0;
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
    uint8_t okey[5], oval[8];
    position_key(p, okey);
    sf_put_be64(oval, next);
    return hs->store->ops->put(hs->txn, okey, sizeof okey, oval, sizeof oval, err);
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
        int got = stored_position(t, ops, p, &next[p], err);
        rc = got < 0 ? got : 0;
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

#define QKEY_LEN 13

static void quarantine_key(uint32_t p, uint64_t offset, uint8_t key[QKEY_LEN])
{
    key[0] = 'q';
    sf_put_be32(key + 1, p);
    sf_put_be64(key + 5, offset);
}

static int history_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                              uint64_t next, sf_error *err)
{
    history *hs = (history *)s;
    const sf_store_ops *ops = hs->store->ops;
    size_t rlen = strnlen(reason, UINT16_MAX);
    size_t vlen = SF_QUARANTINE_TIME_LEN + 2 + rlen + e->len;
    uint8_t key[QKEY_LEN], *val = malloc(vlen);
    int rc = val ? open_txn(hs, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
    sf_stream_batch one = {.entries = (sf_stream_entry *)e, .count = 1, .next_offset = next};
    if (rc == 0)
        rc = fence(hs->txn, ops, p, &one, err);
    if (rc == 0) {
        char at[SF_QUARANTINE_TIME_LEN + 1];
        sf_quarantine_now(at);
        memcpy(val, at, SF_QUARANTINE_TIME_LEN);
        val[SF_QUARANTINE_TIME_LEN] = (uint8_t)(rlen >> 8);
        val[SF_QUARANTINE_TIME_LEN + 1] = (uint8_t)rlen;
        memcpy(val + SF_QUARANTINE_TIME_LEN + 2, reason, rlen);
        memcpy(val + SF_QUARANTINE_TIME_LEN + 2 + rlen, e->data, e->len);
        quarantine_key(p, e->offset, key);
        rc = ops->put(hs->txn, key, sizeof key, val, vlen, err);
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
    const uint8_t *k = key, *v = val;
    enum { HEAD = SF_QUARANTINE_TIME_LEN + 2 }; /* the time and the reason's length */
    if (klen != QKEY_LEN || vlen < HEAD)
        return 0; /* not one of ours: never written so */
    size_t rlen = (size_t)v[HEAD - 2] << 8 | v[HEAD - 1];
    if (rlen > vlen - HEAD)
        return 0;
    char at[SF_QUARANTINE_TIME_LEN + 1], reason[SF_ERROR_MSG_MAX];
    memcpy(at, v, SF_QUARANTINE_TIME_LEN);
    at[SF_QUARANTINE_TIME_LEN] = '\0';
    snprintf(reason, sizeof reason, "%.*s", (int)rlen, (const char *)v + HEAD);
    uint32_t p = (uint32_t)k[1] << 24 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 8 | k[4];
    sf_quarantined q = {p, sf_get_be64(k + 5), reason, at, v + HEAD + rlen, vlen - HEAD - rlen};
    l->rc = l->fn(l->ctx, &q);
    return l->rc;
}

static int history_quarantined(sf_sink *s, int (*fn)(void *ctx, const sf_quarantined *q), void *ctx,
                               sf_error *err)
{
    history *hs = (history *)s;
    sf_store_txn *t = NULL;
    lister l = {fn, ctx, 0};
    int rc = hs->store->ops->begin(hs->store, false, &t, err);
    if (rc == 0)
        rc = hs->store->ops->scan(t, "q", 1, NULL, 0, list_one, &l, err);
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
    uint8_t key[QKEY_LEN], packed[SF_PACK_MAX];
    quarantine_key(p, offset, key);
    int len = sf_record_pack(r, packed, sizeof packed);
    const void *v;
    size_t vlen;
    current cur = {0};
    int rc = ops->begin(hs->store, true, &hs->txn, err);
    if (rc == 0 && (rc = ops->get(hs->txn, key, sizeof key, &v, &vlen, err)) == SF_ENOENT)
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
        rc = ops->del(hs->txn, key, sizeof key, err);
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
