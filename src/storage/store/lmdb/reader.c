/*
 * reader.c - the LMDB history store's reads (store.h, "Reading"), each in
 * one read transaction (a pooled one: lmdb.c), so each answer is one
 * snapshot of committed units of work.
 *
 * An invoice is its header ('i') plus a prefix scan of its lines ('l'). A
 * customer's invoices are its index ('c' customer date invoice) scanned
 * backwards, so the newest come first without sorting, from just before
 * the page's start: the key of (date, invoice) the caller's cursor names,
 * or the first key after `to`, whichever is lower. Each listed invoice's
 * header is a point read in the same transaction.
 */
#include <string.h>

#include "core/pack.h"
#include "storage/store/lmdb/history_keys.h"
#include "storage/store/lmdb/lmdb_int.h"

static int read_header(lm_txn *t, const char *invoice_no, size_t len, sf_invoice_header *h,
                       sf_error *err)
{
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    if (len == 0 || len > SF_INVOICE_NO_MAX)
        return SF_ENOENT;
    const void *val;
    size_t vlen;
    int rc = sf_lmdb_get(t, key, sf_history_invoice_key(invoice_no, len, key), &val, &vlen, err);
    if (rc == 0 && (rc = sf_history_decode_header(val, vlen, h, err)) < 0)
        sf_error_prefix(err, "history: invoice %.*s: ", (int)len, invoice_no);
    return rc;
}

typedef struct lines_ctx {
    sf_store_line_fn fn;
    void *ctx;
    int rc;
    sf_error *err;
} lines_ctx;

static int each_line(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen;
    lines_ctx *c = ctx;
    sf_record r;
    if (sf_record_unpack(val, vlen, &r) < 0)
        c->rc = sf_error_set(c->err, SF_ECORRUPT, "history: a damaged invoice line");
    else
        c->rc = c->fn(c->ctx, &r);
    return c->rc != 0;
}

/* The header (already read) and the lines of invoice_no, in t. */
static int deliver(lm_txn *t, const char *invoice_no, size_t len, const sf_invoice_header *h,
                   sf_store_header_fn on_header, sf_store_line_fn on_line, void *ctx, sf_error *err)
{
    int rc = on_header(ctx, invoice_no, len, h);
    if (rc != 0)
        return rc;
    uint8_t prefix[SF_HISTORY_LINE_KEY_MAX];
    lines_ctx c = {on_line, ctx, 0, err};
    rc = sf_lmdb_scan(t, prefix, sf_history_line_prefix(invoice_no, len, prefix), NULL, 0,
                      each_line, &c, err);
    return rc < 0 ? rc : c.rc;
}

int sf_lmdb_invoice(sf_store *st, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                    sf_store_line_fn on_line, void *ctx, sf_error *err)
{
    lm_txn *t;
    int rc = sf_lmdb_begin((lmdb_store *)st, false, &t, err);
    if (rc < 0)
        return rc;
    sf_invoice_header h;
    rc = read_header(t, invoice_no, len, &h, err);
    if (rc == 0)
        rc = deliver(t, invoice_no, len, &h, on_header, on_line, ctx, err);
    sf_lmdb_abort(t);
    return rc;
}

typedef struct page_ctx {
    lm_txn *t;
    const sf_store_page *q;
    sf_store_listed_fn fn;
    void *ctx;
    unsigned n;
    bool more; /* one more invoice than the page holds */
    int rc;
    sf_error *err;
} page_ctx;

static int list_invoice(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val, (void)vlen;
    page_ctx *c = ctx;
    int64_t date;
    const char *invoice_no;
    size_t len;
    if ((c->rc = sf_history_customer_key_parse(key, klen, &date, &invoice_no, &len, c->err)) < 0)
        return 1;
    if (date < c->q->from)
        return 1; /* older than the range: done (newest first) */
    if (c->n == c->q->limit) {
        c->more = true;
        return 1;
    }
    sf_invoice_header h;
    if ((c->rc = read_header(c->t, invoice_no, len, &h, c->err)) < 0) {
        if (c->rc == SF_ENOENT)
            c->rc = sf_error_set(c->err, SF_ECORRUPT, "history: invoice %.*s is indexed but absent",
                                 (int)len, invoice_no);
        return 1;
    }
    c->n++;
    c->rc = c->fn(c->ctx, date, invoice_no, len, &h);
    return c->rc != 0;
}

/* The key to scan back from: the first key after `to`, or the one of the
 * invoice to start after if that is lower. */
static size_t page_bound(const sf_store_page *q, uint8_t *key)
{
    /* The first key of the second after `to` (for INT64_MAX, which has
     * none after it, of INT64_MAX itself). */
    size_t klen = sf_history_customer_key(q->customer, q->to == INT64_MAX ? INT64_MAX : q->to + 1,
                                          "", 0, key);
    if (!q->after.set)
        return klen;
    uint8_t akey[SF_HISTORY_CUSTOMER_KEY_MAX];
    size_t alen = sf_history_customer_key(q->customer, q->after.date, q->after.invoice_no,
                                          q->after.len, akey);
    size_t common = alen < klen ? alen : klen;
    int cmp = memcmp(akey, key, common);
    if (cmp < 0 || (cmp == 0 && alen < klen)) {
        memcpy(key, akey, alen);
        klen = alen;
    }
    return klen;
}

static int has_any(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    *(bool *)ctx = true;
    return 1;
}

int sf_lmdb_customer_invoices(sf_store *st, const sf_store_page *q, sf_store_listed_fn fn,
                              void *ctx, bool *more, sf_error *err)
{
    uint8_t prefix[SF_HISTORY_CUSTOMER_PREFIX_LEN], bound[SF_HISTORY_CUSTOMER_KEY_MAX];
    size_t plen = sf_history_customer_prefix(q->customer, prefix), blen = page_bound(q, bound);
    lm_txn *t;
    int rc = sf_lmdb_begin((lmdb_store *)st, false, &t, err);
    if (rc < 0)
        return rc;
    page_ctx c = {t, q, fn, ctx, 0, false, 0, err};
    rc = sf_lmdb_scan_back(t, prefix, plen, bound, blen, list_invoice, &c, err);
    if (rc == 0)
        rc = c.rc;
    /* An empty page: of a customer with no invoice at all, or none here. */
    bool any = c.n > 0 || c.more;
    if (rc == 0 && !any && (rc = sf_lmdb_scan(t, prefix, plen, NULL, 0, has_any, &any, err)) == 0 &&
        !any)
        rc = SF_ENOENT;
    sf_lmdb_abort(t);
    *more = c.more;
    return rc;
}

typedef struct all_ctx {
    lm_txn *t;
    sf_store_header_fn on_header;
    sf_store_line_fn on_line;
    void *ctx;
    int rc;
    sf_error *err;
} all_ctx;

static int each_one(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    all_ctx *c = ctx;
    const char *invoice_no = (const char *)key + 1;
    size_t len = klen - 1;
    sf_invoice_header h;
    c->rc = sf_history_decode_header(val, vlen, &h, c->err);
    if (c->rc < 0)
        sf_error_prefix(c->err, "history: invoice %.*s: ", (int)len, invoice_no);
    else
        c->rc = deliver(c->t, invoice_no, len, &h, c->on_header, c->on_line, c->ctx, c->err);
    return c->rc != 0;
}

int sf_lmdb_each_invoice(sf_store *st, sf_store_header_fn on_header, sf_store_line_fn on_line,
                         void *ctx, sf_error *err)
{
    lm_txn *t;
    int rc = sf_lmdb_begin((lmdb_store *)st, false, &t, err);
    if (rc < 0)
        return rc;
    const uint8_t prefix = SF_HISTORY_KEY_INVOICE;
    all_ctx c = {t, on_header, on_line, ctx, 0, err};
    rc = sf_lmdb_scan(t, &prefix, 1, NULL, 0, each_one, &c, err);
    sf_lmdb_abort(t);
    return rc < 0 ? rc : c.rc;
}
