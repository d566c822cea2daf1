/*
 * writer.c - the LMDB history store's unit of work (store.h, "Writing"):
 * batches applied into one write transaction that also stores the
 * partitions' positions ('o') and the entries set aside ('q'), committed
 * by the sink when it is caught up or the transaction is big or old
 * enough; keys and values of history_keys.h.
 *
 * Each record is a line of its invoice ('l' invoice line), numbered after
 * the lines stored; identical lines are kept, being distinct rows. An
 * invoice's lines come one after another in its partition, so its header
 * ('i') is read once, kept while its lines are added, and written once when
 * the next invoice (or the end of the batch) comes; a new invoice also gets
 * its place in its customer's index ('c' customer date invoice).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/pack.h"
#include "storage/store/lmdb/history_keys.h"
#include "storage/store/lmdb/lmdb_int.h"

/* The invoice the lines being applied belong to. */
typedef struct current {
    bool open;
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    size_t klen;
    sf_invoice_header h;
} current;

/* Write the header of the current invoice. */
static int close_invoice(lm_txn *t, current *cur, sf_error *err)
{
    if (!cur->open)
        return 0;
    uint8_t val[SF_HISTORY_HEADER_MAX];
    cur->open = false;
    return sf_lmdb_put(t, cur->key, cur->klen, val, sf_history_encode_header(&cur->h, val), err);
}

/* Make r's invoice the current one: its stored header, or a new one (and
 * then its entry in the customer's index). */
static int open_invoice(lm_txn *t, current *cur, const sf_record *r, sf_error *err)
{
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    size_t klen = sf_history_invoice_key(r->invoice_no, r->invoice_no_len, key);
    if (cur->open && klen == cur->klen && memcmp(key, cur->key, klen) == 0)
        return 0;
    int rc = close_invoice(t, cur, err);
    const void *old;
    size_t olen;
    if (rc == 0 && (rc = sf_lmdb_get(t, key, klen, &old, &olen, err)) == 0 &&
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
    return sf_lmdb_put(t, ckey, clen, "", 0, err);
}

/* r (packed[0..plen) as stored) as the next line of its invoice. */
static int apply_record(lm_txn *t, current *cur, const sf_record *r, const uint8_t *packed,
                        size_t plen, sf_error *err)
{
    int rc = open_invoice(t, cur, r, err);
    if (rc < 0)
        return rc;
    sf_invoice_header *h = &cur->h;
    uint8_t lkey[SF_HISTORY_LINE_KEY_MAX];
    size_t llen = sf_history_line_key(r->invoice_no, r->invoice_no_len, h->lines, lkey);
    if ((rc = sf_lmdb_put(t, lkey, llen, packed, plen, err)) < 0)
        return rc;
    h->lines++;
    h->units += r->quantity;
    h->total += sf_record_amount(r);
    return 0;
}

/* p's stored position into *at (0 when none is stored; *stored says
 * whether one is). */
static int stored_position(lm_txn *t, uint32_t p, sf_pos *at, bool *stored, sf_error *err)
{
    uint8_t okey[SF_HISTORY_POSITION_KEY_LEN];
    const void *v;
    size_t n;
    at->len = 0;
    *stored = false;
    int rc = sf_lmdb_get(t, okey, sf_history_position_key(p, okey), &v, &n, err);
    if (rc == SF_ENOENT)
        return 0;
    if (rc == 0 && (rc = sf_history_position_decode(v, n, at, err)) == 0)
        *stored = true;
    return rc;
}

/* The fence (store.h), inside the write transaction: LMDB has one writer
 * at a time, across processes, so the position read here is the one the
 * commit replaces. */
static int fence(lm_txn *t, uint32_t p, const sf_pos *first, sf_error *err)
{
    sf_pos stored;
    bool any;
    int rc = stored_position(t, p, &stored, &any, err);
    if (rc < 0 || !any || !first) /* no entry (a hole skipped): the position moves on */
        return rc;
    if (sf_pos_cmp(&stored, first) != 0) {
        char from[SF_POS_TEXT_MAX], at[SF_POS_TEXT_MAX];
        sf_pos_format(first, from, sizeof from);
        sf_pos_format(&stored, at, sizeof at);
        return sf_error_set(err, SF_ESTALE,
                            "history: partition %u: a batch from offset %s, but the store is at "
                            "%s (another member applied it): refused",
                            p, from, at);
    }
    return 0;
}

/* The open unit of work's transaction, begun if there is none. */
static int unit(lmdb_store *s, sf_error *err)
{
    return s->w ? 0 : sf_lmdb_begin(s, true, &s->w, err);
}

/* Store p's position as next in the open unit of work. */
static int put_position(lmdb_store *s, uint32_t p, const sf_pos *next, sf_error *err)
{
    uint8_t okey[SF_HISTORY_POSITION_KEY_LEN], oval[SF_HISTORY_POSITION_VALUE_MAX];
    size_t n = sf_history_position_encode(next, oval);
    return sf_lmdb_put(s->w, okey, sf_history_position_key(p, okey), oval, n, err);
}

/* rc, after rolling the unit of work back if it failed. */
static int ended(lmdb_store *s, int rc)
{
    if (rc < 0)
        sf_lmdb_rollback(&s->base);
    return rc;
}

int sf_lmdb_apply(sf_store *st, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    lmdb_store *s = (lmdb_store *)st;
    int rc = unit(s, err);
    if (rc < 0)
        return rc;
    current cur = {0};
    rc = fence(s->w, p, b->count ? sf_stream_batch_start(b) : NULL, err);
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        sf_record r;
        rc = sf_stream_entry_record(&b->entries[i], p, &r, err);
        if (rc == 0)
            rc = apply_record(s->w, &cur, &r, b->entries[i].data, b->entries[i].len, err);
    }
    if (rc == 0)
        rc = close_invoice(s->w, &cur, err);
    if (rc == 0)
        rc = put_position(s, p, &b->next, err);
    return ended(s, rc);
}

int sf_lmdb_set_aside(sf_store *st, uint32_t p, const sf_stream_entry *e, const char *reason,
                      const char *at, const sf_pos *next, sf_error *err)
{
    lmdb_store *s = (lmdb_store *)st;
    sf_history_quarantined q = {p,       e->pos, at, reason, strnlen(reason, UINT16_MAX),
                                e->data, e->len};
    size_t vlen = sf_history_quarantine_encode(&q, NULL);
    uint8_t key[SF_HISTORY_QUARANTINE_KEY_MAX], *val = malloc(vlen);
    int rc = val ? unit(s, err) : sf_error_set(err, SF_ENOMEM, "out of memory");
    if (rc == 0)
        rc = fence(s->w, p, e ? &e->pos : NULL, err);
    if (rc == 0) {
        sf_history_quarantine_encode(&q, val);
        rc = sf_lmdb_put(s->w, key, sf_history_quarantine_key(p, &e->pos, key), val, vlen, err);
    }
    if (rc == 0)
        rc = put_position(s, p, next, err);
    free(val);
    return ended(s, rc);
}

int sf_lmdb_retry(sf_store *st, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    lmdb_store *s = (lmdb_store *)st;
    uint8_t key[SF_HISTORY_QUARANTINE_KEY_MAX];
    size_t klen = sf_history_quarantine_key(p, &e->pos, key);
    char text[SF_POS_TEXT_MAX];
    sf_pos_format(&e->pos, text, sizeof text);
    const void *v;
    size_t vlen;
    current cur = {0};
    sf_record r;
    int rc = unit(s, err);
    if (rc == 0 && (rc = sf_lmdb_get(s->w, key, klen, &v, &vlen, err)) == SF_ENOENT)
        rc = sf_error_set(err, SF_ENOENT,
                          "history: partition %u offset %s is not in its quarantine (retried "
                          "already?)",
                          p, text);
    if (rc == 0)
        rc = sf_stream_entry_record(e, p, &r, err);
    /* The line goes after the invoice's stored lines: all of them came
     * before it in the stream, or were retried before it. */
    if (rc == 0)
        rc = apply_record(s->w, &cur, &r, e->data, e->len, err);
    if (rc == 0)
        rc = close_invoice(s->w, &cur, err);
    if (rc == 0)
        rc = sf_lmdb_del(s->w, key, klen, err);
    return ended(s, rc);
}

int sf_lmdb_commit_unit(sf_store *st, sf_error *err)
{
    lmdb_store *s = (lmdb_store *)st;
    lm_txn *t = s->w;
    s->w = NULL;
    return t ? sf_lmdb_commit(t, err) : 0;
}

void sf_lmdb_rollback(sf_store *st)
{
    lmdb_store *s = (lmdb_store *)st;
    if (s->w)
        sf_lmdb_abort(s->w);
    s->w = NULL;
}

int sf_lmdb_positions(sf_store *st, sf_pos *next, uint32_t nparts, sf_error *err)
{
    lm_txn *t = NULL;
    int rc = sf_lmdb_begin((lmdb_store *)st, false, &t, err);
    for (uint32_t p = 0; rc == 0 && p < nparts; p++) {
        bool any;
        rc = stored_position(t, p, &next[p], &any, err);
    }
    if (t)
        sf_lmdb_abort(t); /* read-only: nothing to commit */
    return rc;
}

typedef struct lister {
    sf_store_quarantined_fn fn;
    void *ctx;
    int rc;
} lister;

static int list_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    lister *l = ctx;
    sf_history_quarantined hq;
    if (sf_history_quarantine_decode(key, klen, val, vlen, &hq, NULL) < 0)
        return 0; /* not one of ours (never written so): listed by no one, skipped */
    char at[SF_STORE_TIME_LEN + 1], reason[SF_ERROR_MSG_MAX];
    memcpy(at, hq.at, SF_STORE_TIME_LEN);
    at[SF_STORE_TIME_LEN] = '\0';
    snprintf(reason, sizeof reason, "%.*s", (int)hq.reason_len, hq.reason);
    l->rc = l->fn(l->ctx, hq.partition, &hq.pos, reason, at, hq.data, hq.len);
    return l->rc;
}

int sf_lmdb_quarantined(sf_store *st, sf_store_quarantined_fn fn, void *ctx, sf_error *err)
{
    lm_txn *t = NULL;
    lister l = {fn, ctx, 0};
    const uint8_t prefix = SF_HISTORY_KEY_QUARANTINE;
    int rc = sf_lmdb_begin((lmdb_store *)st, false, &t, err);
    if (rc == 0)
        rc = sf_lmdb_scan(t, &prefix, 1, NULL, 0, list_one, &l, err);
    if (t)
        sf_lmdb_abort(t);
    return rc < 0 ? rc : l.rc;
}
