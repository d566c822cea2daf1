/*
 * history.c - purchase-history answers from the history store (see
 * history.h; the store's layout: storage/store/history_keys.h).
 *
 * A customer's invoices are listed from the index 'c' customer date invoice
 * scanned backwards, so the newest come first without sorting; a page's
 * cursor is the index key suffix (date and invoice number, in hex) of its
 * last invoice, and the next page starts just before it. Each listed
 * invoice's header is a point read in the same transaction.
 */
#include "query/history.h"

#include <stdbool.h>
#include <string.h>

#include "core/pack.h"
#include "core/timefmt.h"
#include "storage/store/history_keys.h"

static void add_date(sf_buf *out, int64_t t)
{
    char text[SF_TIME_TEXT_LEN + 1];
    sf_time_format(t, text);
    sf_buf_json_string(out, text, SF_TIME_TEXT_LEN);
}

/* The fields an invoice shows in the overview and in its details. */
static void add_header(sf_buf *out, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    sf_buf_puts(out, "{\"invoice_no\":");
    sf_buf_json_string(out, invoice_no, len);
    sf_buf_puts(out, ",\"date\":");
    add_date(out, h->date);
    if (h->customer_id == SF_NO_CUSTOMER) {
        sf_buf_puts(out, ",\"customer_id\":null");
    } else {
        sf_buf_puts(out, ",\"customer_id\":");
        sf_buf_int(out, h->customer_id);
    }
    sf_buf_puts(out, ",\"country\":");
    sf_buf_json_string(out, h->country, h->country_len);
    sf_buf_puts(out, ",\"kind\":\"");
    sf_buf_puts(out, sf_kind_name((sf_kind)h->kind));
    sf_buf_puts(out, "\",\"line_count\":");
    sf_buf_int(out, h->lines);
    sf_buf_puts(out, ",\"units\":");
    sf_buf_i128(out, h->units);
    sf_buf_puts(out, ",\"total\":");
    sf_buf_json_milli(out, h->total);
}

static int read_header(sf_store_txn *t, const sf_store_ops *ops, const char *invoice_no, size_t len,
                       sf_invoice_header *h, sf_error *err)
{
    uint8_t key[SF_HISTORY_INVOICE_KEY_MAX];
    if (len == 0 || len > SF_INVOICE_NO_MAX)
        return SF_ENOENT;
    const void *val;
    size_t vlen;
    int rc = ops->get(t, key, sf_history_invoice_key(invoice_no, len, key), &val, &vlen, err);
    if (rc == 0 && (rc = sf_history_decode_header(val, vlen, h, err)) < 0)
        sf_error_prefix(err, "history: invoice %.*s: ", (int)len, invoice_no);
    return rc;
}

typedef struct lines_ctx {
    sf_buf *out;
    unsigned n;
    int rc;
    sf_error *err;
} lines_ctx;

static int add_line(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen;
    lines_ctx *c = ctx;
    sf_record r;
    if (sf_record_unpack(val, vlen, &r) < 0) {
        c->rc = sf_error_set(c->err, SF_ECORRUPT, "history: a damaged invoice line");
        return 1;
    }
    sf_buf_puts(c->out, c->n ? ",{\"line\":" : "{\"line\":");
    sf_buf_int(c->out, c->n + 1);
    sf_buf_puts(c->out, ",\"stock_code\":");
    sf_buf_json_string(c->out, r.stock_code, r.stock_code_len);
    sf_buf_puts(c->out, ",\"description\":");
    sf_buf_json_string(c->out, r.description, r.description_len);
    sf_buf_puts(c->out, ",\"quantity\":");
    sf_buf_int(c->out, r.quantity);
    sf_buf_puts(c->out, ",\"unit_price\":");
    sf_buf_json_milli(c->out, r.unit_price);
    sf_buf_puts(c->out, ",\"amount\":");
    sf_buf_json_milli(c->out, sf_record_amount(&r));
    sf_buf_puts(c->out, "}");
    c->n++;
    return 0;
}

int sf_history_invoice_json(sf_store *s, const char *invoice_no, size_t len, int32_t owner,
                            sf_buf *out, sf_error *err)
{
    const sf_store_ops *ops = s->ops;
    sf_store_txn *t;
    int rc = ops->begin(s, false, &t, err);
    if (rc < 0)
        return rc;
    sf_invoice_header h;
    rc = read_header(t, ops, invoice_no, len, &h, err);
    if (rc == 0 && owner != SF_NO_CUSTOMER && h.customer_id != owner)
        rc = SF_EPERM;
    if (rc == 0) {
        add_header(out, invoice_no, len, &h);
        sf_buf_puts(out, ",\"lines\":[");
        uint8_t prefix[SF_HISTORY_LINE_KEY_MAX];
        lines_ctx c = {out, 0, 0, err};
        rc = ops->scan(t, prefix, sf_history_line_prefix(invoice_no, len, prefix), NULL, 0,
                       add_line, &c, err);
        if (rc == 0)
            rc = c.rc;
        sf_buf_puts(out, "]}");
    }
    ops->abort(t);
    return rc;
}

typedef struct page_ctx {
    const sf_store_ops *ops;
    sf_store_txn *t;
    const sf_history_page *q;
    sf_buf *out;
    unsigned n;
    bool more;                                 /* one more invoice than the page holds */
    uint8_t last[SF_HISTORY_CUSTOMER_KEY_MAX]; /* index suffix of the last one listed */
    size_t last_len;
    int rc;
    sf_error *err;
} page_ctx;

static int add_invoice(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
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
    if ((c->rc = read_header(c->t, c->ops, invoice_no, len, &h, c->err)) < 0) {
        if (c->rc == SF_ENOENT)
            c->rc = sf_error_set(c->err, SF_ECORRUPT, "history: invoice %.*s is indexed but absent",
                                 (int)len, invoice_no);
        return 1;
    }
    if (c->n)
        sf_buf_puts(c->out, ",");
    add_header(c->out, invoice_no, len, &h);
    sf_buf_puts(c->out, "}");
    c->n++;
    c->last_len = klen - SF_HISTORY_CUSTOMER_PREFIX_LEN;
    memcpy(c->last, (const uint8_t *)key + SF_HISTORY_CUSTOMER_PREFIX_LEN, c->last_len);
    return 0;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The cursor's bytes into key after the customer prefix; their count, or -1. */
static int parse_cursor(const char *cursor, uint8_t *key)
{
    size_t n = strlen(cursor);
    if (n % 2 || n < 2 * 9 || n > SF_HISTORY_CURSOR_MAX)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(cursor[2 * i]), lo = hexval(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(n / 2);
}

/* The key to scan back from: just after `to`, or the cursor if earlier. */
static int page_bound(const sf_history_page *q, uint8_t *key, size_t *klen, sf_error *err)
{
    /* The first key of the second after `to` (for INT64_MAX, which has
     * none after it, of INT64_MAX itself). */
    *klen = sf_history_customer_key(q->customer, q->to == INT64_MAX ? INT64_MAX : q->to + 1, "", 0,
                                    key);
    size_t plen = SF_HISTORY_CUSTOMER_PREFIX_LEN;
    if (!q->cursor)
        return 0;
    uint8_t ckey[SF_HISTORY_CUSTOMER_KEY_MAX];
    int n = parse_cursor(q->cursor, ckey + plen);
    if (n < 0)
        return sf_error_set(err, SF_EINVAL, "cursor: not a cursor this API gave");
    memcpy(ckey, key, plen);
    size_t clen = plen + (size_t)n;
    size_t common = clen < *klen ? clen : *klen;
    int cmp = memcmp(ckey, key, common);
    if (cmp < 0 || (cmp == 0 && clen < *klen)) {
        memcpy(key, ckey, clen);
        *klen = clen;
    }
    return 0;
}

static void add_cursor(sf_buf *out, const page_ctx *c)
{
    if (!c->more) {
        sf_buf_puts(out, "],\"next_cursor\":null}");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    sf_buf_puts(out, "],\"next_cursor\":\"");
    for (size_t i = 0; i < c->last_len; i++) {
        char two[2] = {hex[c->last[i] >> 4], hex[c->last[i] & 15]};
        sf_buf_add(out, two, 2);
    }
    sf_buf_puts(out, "\"}");
}

static int has_any(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    *(bool *)ctx = true;
    return 1;
}

int sf_history_customer_json(sf_store *s, const sf_history_page *q, sf_buf *out, sf_error *err)
{
    uint8_t prefix[SF_HISTORY_CUSTOMER_PREFIX_LEN], bound[SF_HISTORY_CUSTOMER_KEY_MAX];
    size_t plen = sf_history_customer_prefix(q->customer, prefix), blen;
    int rc = page_bound(q, bound, &blen, err);
    if (rc < 0)
        return rc;
    const sf_store_ops *ops = s->ops;
    sf_store_txn *t;
    if ((rc = ops->begin(s, false, &t, err)) < 0)
        return rc;
    bool any = false;
    rc = ops->scan(t, prefix, plen, NULL, 0, has_any, &any, err);
    if (rc == 0 && !any)
        rc = sf_error_set(err, SF_ENOENT, "customer %ld has no invoices", (long)q->customer);
    page_ctx c = {ops, t, q, out, 0, false, {0}, 0, 0, err};
    if (rc == 0) {
        sf_buf_puts(out, "{\"customer_id\":");
        sf_buf_int(out, q->customer);
        sf_buf_puts(out, ",\"invoices\":[");
        rc = ops->scan_back(t, prefix, plen, bound, blen, add_invoice, &c, err);
        if (rc == 0)
            rc = c.rc;
        add_cursor(out, &c);
    }
    ops->abort(t);
    return rc;
}
